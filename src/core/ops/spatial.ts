/**
 * The kernels of the spatial and regularizing layers: 2-D convolution (forward, input gradient,
 * weight gradient), max and average pooling, batch normalization and dropout, on NCHW float32
 * tensors. The formulas and shapes are written at each reference (src/core/reference-conv2d.ts,
 * reference-pool2d.ts, reference-batchnorm.ts, reference-dropout.ts); geometries come from
 * src/core/geometry2d.ts, which checks them once.
 */
import type { BatchnormGeometry } from '../reference-batchnorm.js';
import {
  batchnormBackwardEval, batchnormBackwardTraining, batchnormForwardEval, batchnormForwardTraining,
} from '../reference-batchnorm.js';
import { conv2dForward, conv2dInputGrad, conv2dWeightGrad } from '../reference-conv2d.js';
import { dropoutBackward, dropoutForward } from '../reference-dropout.js';
import type { Conv2dGeometry, Geometry2d } from '../geometry2d.js';
import { avgpool2dBackward, avgpool2dForward, maxpool2dBackward, maxpool2dForward } from '../reference-pool2d.js';
import { activationReference, type Activation } from './activations.js';

export interface SpatialKernels {
  /**
   * y = act(conv2d(x, w) + b): x [N, C, H, W], w [O, C, KH, KW], b [O], y [N, O, OH, OW]. The activation
   * is applied in the same pass (identity for none).
   */
  conv2dForward(g: Conv2dGeometry, x: Float32Array, w: Float32Array, b: Float32Array, y: Float32Array, activation: Activation): void;
  /** dx [N, C, H, W] = ∂L/∂x from dy [N, O, OH, OW] (the gradient before the activation). */
  conv2dInputGrad(g: Conv2dGeometry, dy: Float32Array, w: Float32Array, dx: Float32Array): void;
  /** dw [O, C, KH, KW] and db [O] (overwritten) from x and dy. */
  conv2dWeightGrad(g: Conv2dGeometry, x: Float32Array, dy: Float32Array, dw: Float32Array, db: Float32Array): void;

  /** y [N, C, OH, OW] = window maxima of x; indices holds each maximum's offset within its input plane. */
  maxpool2dForward(g: Geometry2d, x: Float32Array, y: Float32Array, indices: Int32Array): void;
  /** dx (overwritten) = dy routed to the maxima `indices` recorded. */
  maxpool2dBackward(g: Geometry2d, dy: Float32Array, indices: Int32Array, dx: Float32Array): void;
  avgpool2dForward(g: Geometry2d, x: Float32Array, y: Float32Array): void;
  avgpool2dBackward(g: Geometry2d, dy: Float32Array, dx: Float32Array): void;

  /** y = act(x) element-wise for count values (y may be x). */
  activationForward(activation: Activation, x: Float32Array, y: Float32Array, count: number): void;

  batchnormForwardTraining(
    g: BatchnormGeometry, x: Float32Array, gamma: Float32Array, beta: Float32Array, eps: number, momentum: number,
    runningMean: Float32Array, runningVar: Float32Array, y: Float32Array, mean: Float32Array, invStd: Float32Array,
  ): void;
  batchnormForwardEval(
    g: BatchnormGeometry, x: Float32Array, gamma: Float32Array, beta: Float32Array, eps: number,
    runningMean: Float32Array, runningVar: Float32Array, y: Float32Array,
  ): void;
  batchnormBackwardTraining(
    g: BatchnormGeometry, x: Float32Array, dy: Float32Array, gamma: Float32Array, mean: Float32Array, invStd: Float32Array,
    dx: Float32Array, dgamma: Float32Array, dbeta: Float32Array,
  ): void;
  batchnormBackwardEval(
    g: BatchnormGeometry, x: Float32Array, dy: Float32Array, gamma: Float32Array, eps: number,
    runningMean: Float32Array, runningVar: Float32Array, dx: Float32Array, dgamma: Float32Array, dbeta: Float32Array,
  ): void;

  /** y = x · keep / (1 − p) for count values; keep holds 1 (kept) or 0 (dropped). */
  dropoutForward(x: Float32Array, keep: Uint8Array, p: number, y: Float32Array, count: number): void;
  dropoutBackward(dy: Float32Array, keep: Uint8Array, p: number, dx: Float32Array, count: number): void;
}

export const spatialReference: SpatialKernels = {
  conv2dForward(g, x, w, b, y, activation) {
    conv2dForward(g, x, w, b, y);
    if (activation !== 'identity') spatialReference.activationForward(activation, y, y, g.batch * g.outChannels * g.outHeight * g.outWidth);
  },
  conv2dInputGrad,
  conv2dWeightGrad,
  maxpool2dForward,
  maxpool2dBackward,
  avgpool2dForward,
  avgpool2dBackward,
  activationForward(activation, x, y, count) {
    if (y !== x) y.set(x.subarray(0, count));
    if (activation === 'identity') return;
    activationReference.biasActivation(y, ZERO, count, 1, activation);
  },
  batchnormForwardTraining,
  batchnormForwardEval,
  batchnormBackwardTraining,
  batchnormBackwardEval,
  dropoutForward,
  dropoutBackward,
};

const ZERO = new Float32Array(1);
