/**
 * The kernels of the spatial and regularizing layers: 2-D convolution (forward, input gradient,
 * weight gradient), max and average pooling, batch normalization and dropout, on NCHW float32
 * tensors. The formulas and shapes are written at each reference (src/core/reference-conv2d.ts,
 * reference-pool2d.ts, reference-batchnorm.ts, reference-dropout.ts); geometries come from
 * src/core/geometry2d.ts, which checks them once.
 *
 * The WebAssembly binding (assembly/spatial.ts) passes a geometry as a block of 13 int32 in the kernel
 * memory. The convolutions and the pools split the batch across the pool's threads, each thread with
 * its own scratch; the weight gradient's threads each sum their samples into their own dw and db, and
 * those are added in thread order, so results do not depend on timing. Forward and input gradient give
 * the same bits on any number of threads; the weight gradient the same bits on a given number.
 *
 * The forward and the weight gradient also come in a form that reads x as its nonzeros (a NonzeroIndex's
 * by-row listing, one row per sample, from `indexNonzeros`): each nonzero pixel is multiplied into the
 * outputs its taps reach, so the work follows the nonzeros (a first layer on MNIST: ~19% of the pixels).
 * A layer takes it when a batch's density is at most `sparseConvDensityLimit` (src/nn/layers/conv2d.ts).
 */
import { conv2dGeometry, pool2dGeometry, type Conv2dGeometry, type Geometry2d } from '../geometry2d.js';
import { Operation } from '../pool-protocol.js';
import type { BatchnormGeometry } from '../reference-batchnorm.js';
import {
  batchnormBackwardEval, batchnormBackwardTraining, batchnormForwardEval, batchnormForwardTraining,
} from '../reference-batchnorm.js';
import { conv2dForward, conv2dInputGrad, conv2dWeightGrad } from '../reference-conv2d.js';
import { checkProbability, dropoutBackward, dropoutForward, dropoutScale } from '../reference-dropout.js';
import { avgpool2dBackward, avgpool2dForward, maxpool2dBackward, maxpool2dForward } from '../reference-pool2d.js';
import { KernelArgumentError } from '../wasm-api.js';
import { checkNonzeroIndex, type NonzeroIndex } from './sparse.js';
import {
  asArgumentError, checkLength, PARALLEL_MIN_ELEMENTS, PARALLEL_MIN_MACS, splitPoint, type WasmRuntime,
} from '../wasm-runtime.js';
import { activationCode, activationReference, type Activation } from './activations.js';

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
  /**
   * The density of nonzero inputs at or below which a convolution's forward and weight gradient read
   * only the nonzeros (`conv2dForwardSparse`, `conv2dWeightGradSparse`); 0 when the kernels never should.
   */
  readonly sparseConvDensityLimit: number;
  /**
   * The density of nonzero output gradients at or below which a convolution's input and weight
   * gradients read only dy's nonzeros (`conv2dInputGradSparse`, `conv2dWeightGradSparseDy`); 0: never.
   */
  readonly sparseGradDensityLimit: number;
  /**
   * conv2dForward of the x whose nonzeros `index` lists by sample (rows g.batch, cols C·H·W). The
   * zeros are skipped, not multiplied: w must be finite for the result to be conv2dForward's.
   */
  conv2dForwardSparse(g: Conv2dGeometry, index: NonzeroIndex, w: Float32Array, b: Float32Array, y: Float32Array, activation: Activation): void;
  /** conv2dWeightGrad of the x whose nonzeros `index` lists by sample (x and dy must be finite: a tap outside dy_n meets a zero). */
  conv2dWeightGradSparse(g: Conv2dGeometry, index: NonzeroIndex, dy: Float32Array, dw: Float32Array, db: Float32Array): void;
  /**
   * conv2dInputGrad of the dy whose nonzeros `index` lists by sample (rows g.batch, cols O·OH·OW): a
   * gradient through a ReLU and a max pool is mostly zeros. w must be finite.
   */
  conv2dInputGradSparse(g: Conv2dGeometry, index: NonzeroIndex, w: Float32Array, dx: Float32Array): void;
  /**
   * conv2dWeightGrad with dy's nonzeros listed by `index` (as for conv2dInputGradSparse); dy itself gives
   * db, summed as conv2dWeightGrad sums it. x must be finite.
   */
  conv2dWeightGradSparseDy(g: Conv2dGeometry, x: Float32Array, index: NonzeroIndex, dy: Float32Array, dw: Float32Array, db: Float32Array): void;

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
  sparseConvDensityLimit: 0,
  sparseGradDensityLimit: 0,
  conv2dForwardSparse(g, index, w, b, y, activation) {
    spatialReference.conv2dForward(g, denseInput(g, index), w, b, y, activation);
  },
  conv2dWeightGradSparse(g, index, dy, dw, db) {
    conv2dWeightGrad(g, denseInput(g, index), dy, dw, db);
  },
  conv2dInputGradSparse(g, index, w, dx) {
    conv2dInputGrad(g, denseRows(index, g.batch, g.outChannels * g.outHeight * g.outWidth), w, dx);
  },
  conv2dWeightGradSparseDy(g, x, index, dy, dw, db) {
    if (dy.length < g.batch * g.outChannels * g.outHeight * g.outWidth) throw new RangeError('conv2dWeightGradSparseDy: dy is too short');
    conv2dWeightGrad(g, x, denseRows(index, g.batch, g.outChannels * g.outHeight * g.outWidth), dw, db);
  },
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

/**
 * The fraction of nonzero inputs up to which the sparse convolutions beat the dense ones (each nonzero
 * costs its taps' O4/4 vector multiply-adds, each dense output position K·O/4 of the GEMM's). Measured
 * on LeNet-5's and the cnn preset's first layers at batch 128 (bench/conv-speed.ts): at MNIST's 19% the
 * sparse forward took 0.6–0.9 of the dense one's time and the weight gradient 0.7–1.0; at 30% both lost.
 */
export const DEFAULT_SPARSE_CONV_DENSITY_LIMIT = 0.25;

/**
 * The fraction of nonzero output gradients up to which the gradients from dy's nonzeros beat the dense
 * ones. Measured on the second layers of LeNet-5 and the cnn preset (bench/conv-speed.ts): at 12% the
 * input gradient (listing included) took 0.4–0.7 of the dense one's time and the weight gradient
 * 0.3–0.4; at 25% 0.8–1.2 and 0.6–0.8.
 */
export const DEFAULT_SPARSE_GRAD_DENSITY_LIMIT = 0.25;

/** x [N, C·H·W] from the nonzeros `index` lists by sample (the reference's way to the sparse kernels). */
function denseInput(g: Conv2dGeometry, index: NonzeroIndex): Float32Array {
  return denseRows(index, g.batch, g.channels * g.height * g.width);
}

/** The [rows, cols] matrix whose nonzeros `index` lists by row. */
function denseRows(index: NonzeroIndex, rows: number, cols: number): Float32Array {
  checkNonzeroIndex(index, rows, cols, 'conv2d (sparse operand)');
  const x = new Float32Array(rows * cols);
  for (let n = 0; n < rows; n++) {
    for (let q = index.rowStart[n]; q < index.rowStart[n + 1]; q++) x[n * cols + index.rowCols[q]] = index.rowValues[q];
  }
  return x;
}

/** The exports of assembly/spatial.ts (g: a geometry block, see GEOMETRY_FIELDS; pointers are byte offsets). */
export interface SpatialExports {
  conv2dScratchBytes(g: number, pass: number): number;
  conv2dForward(g: number, x: number, w: number, b: number, y: number, activation: number, n0: number, n1: number, scratch: number): void;
  conv2dInputGrad(g: number, dy: number, w: number, dx: number, n0: number, n1: number, scratch: number): void;
  conv2dWeightGrad(g: number, x: number, dy: number, dw: number, db: number, n0: number, n1: number, scratch: number): void;
  conv2dSparseScratchBytes(g: number, pass: number): number;
  conv2dForwardSparse(g: number, rowStart: number, rowCols: number, rowValues: number, w: number, b: number, y: number,
    activation: number, n0: number, n1: number, scratch: number): void;
  conv2dWeightGradSparse(g: number, rowStart: number, rowCols: number, rowValues: number, dy: number, dw: number, db: number,
    n0: number, n1: number, scratch: number): void;
  conv2dSparseGradScratchBytes(g: number, pass: number): number;
  conv2dInputGradSparse(g: number, rowStart: number, rowCols: number, rowValues: number, w: number, dx: number,
    n0: number, n1: number, scratch: number): void;
  conv2dWeightGradSparseDy(g: number, x: number, rowStart: number, rowCols: number, rowValues: number, dy: number, dw: number,
    db: number, n0: number, n1: number, scratch: number): void;
  accumulate(dst: number, src: number, length: number): void;
  maxpool2dForward(g: number, x: number, y: number, indices: number, n0: number, n1: number): void;
  maxpool2dBackward(g: number, dy: number, indices: number, dx: number, n0: number, n1: number): void;
  avgpool2dForward(g: number, x: number, y: number, n0: number, n1: number): void;
  avgpool2dBackward(g: number, dy: number, dx: number, n0: number, n1: number): void;
  activationForward(activation: number, x: number, y: number, count: number): void;
  dropout(input: number, keep: number, scale: number, out: number, count: number): void;
  batchnormForwardTraining(n: number, c: number, s: number, x: number, gamma: number, beta: number, eps: number, momentum: number,
    runningMean: number, runningVar: number, y: number, mean: number, invStd: number): void;
  batchnormForwardEval(n: number, c: number, s: number, x: number, gamma: number, beta: number, eps: number,
    runningMean: number, runningVar: number, y: number): void;
  batchnormBackwardTraining(n: number, c: number, s: number, x: number, dy: number, gamma: number, mean: number, invStd: number,
    dx: number, dgamma: number, dbeta: number): void;
  batchnormBackwardEval(n: number, c: number, s: number, x: number, dy: number, gamma: number, eps: number,
    runningMean: number, runningVar: number, dx: number, dgamma: number, dbeta: number): void;
}

/** The order of a geometry block's int32 fields (the constants at the top of assembly/spatial.ts). */
const GEOMETRY_FIELDS = [
  'batch', 'channels', 'height', 'width', 'outChannels', 'kernelH', 'kernelW',
  'strideH', 'strideW', 'padH', 'padW', 'outHeight', 'outWidth',
] as const;

/** The convolution passes of conv2dScratchBytes. */
const Pass = { forward: 0, inputGrad: 1, weightGrad: 2 } as const;

/** Elements of a padded sample above which a convolution is refused (its scratch would pass 1 GiB). */
const MAX_PADDED_SAMPLE = 1 << 28;

const convSizes = (g: Conv2dGeometry) => ({
  input: g.batch * g.channels * g.height * g.width,
  weight: g.outChannels * g.channels * g.kernelH * g.kernelW,
  output: g.batch * g.outChannels * g.outHeight * g.outWidth,
  macs: g.batch * g.outChannels * g.outHeight * g.outWidth * g.channels * g.kernelH * g.kernelW,
});

/**
 * Throws a KernelArgumentError naming `kernel` unless `g` is what geometry2d.ts builds from its own
 * sizes (the kernels index without checking, so an inconsistent geometry would reach other arrays).
 */
function checkGeometry(kernel: string, g: Conv2dGeometry, pool: 'maxpool2d' | 'avgpool2d' | null): void {
  let expected: Geometry2d | undefined;
  try {
    const input = { batch: g.batch, channels: g.channels, height: g.height, width: g.width };
    const window = { kernel: [g.kernelH, g.kernelW] as const, stride: [g.strideH, g.strideW] as const };
    expected = pool === null
      ? conv2dGeometry({ ...input, outChannels: g.outChannels }, { ...window, padding: [g.padH, g.padW] })
      : pool2dGeometry(pool, input, window);
  } catch (error) {
    throw new KernelArgumentError(`${kernel}: ${(error as Error).message.replace(/^\w+: /, '')}`);
  }
  for (const name of GEOMETRY_FIELDS) {
    if (name === 'outChannels' && pool !== null) continue;
    const want = (expected as Conv2dGeometry)[name];
    if (g[name] !== want) {
      throw new KernelArgumentError(
        `${kernel}: the geometry's ${name} is ${g[name]}, its sizes give ${want}; build it with ${pool ?? 'conv2d'}Geometry`,
      );
    }
  }
  if (g.channels * (g.height + 2 * g.padH) * (g.width + 2 * g.padW) > MAX_PADDED_SAMPLE) {
    throw new KernelArgumentError(`${kernel}: a padded sample of ${g.channels}x${g.height + 2 * g.padH}x${g.width + 2 * g.padW} is too large`);
  }
}

function checkBatchnormGeometry(kernel: string, g: BatchnormGeometry): void {
  checkLength(g.batch, `${kernel}: the batch size`);
  checkLength(g.channels, `${kernel}: the channel count`);
  checkLength(g.spatial, `${kernel}: the values per channel`);
}

export function bindSpatial(
  rt: WasmRuntime, wasm: SpatialExports,
  sparseConvDensityLimit = DEFAULT_SPARSE_CONV_DENSITY_LIMIT, sparseGradDensityLimit = DEFAULT_SPARSE_GRAD_DENSITY_LIMIT,
): SpatialKernels {
  const block = rt.reserve(4 * GEOMETRY_FIELDS.length);
  const blockView = new Int32Array(rt.memory.buffer, block, GEOMETRY_FIELDS.length);

  /** Writes g into the geometry block (outChannels = channels for a pool) and returns its offset. */
  function geometryBlock(g: Geometry2d & { outChannels?: number }): number {
    GEOMETRY_FIELDS.forEach((name, i) => {
      blockView[i] = name === 'outChannels' ? (g.outChannels ?? g.channels) : g[name];
    });
    return block;
  }

  // scratch regions, one per thread (index 0: the calling thread), grown geometrically (never freed)
  const scratch: number[] = [0];
  const scratchBytes: number[] = [0];
  rt.onThreads((threads) => {
    while (scratch.length < threads) {
      scratch.push(0);
      scratchBytes.push(0);
    }
  });
  function scratchFor(part: number, bytes: number): number {
    if (bytes > scratchBytes[part]) {
      scratchBytes[part] = Math.max(bytes, 2 * scratchBytes[part]);
      scratch[part] = rt.reserve(scratchBytes[part]);
    }
    return scratch[part];
  }

  /** Runs `run(t, n0, n1)` for the parts of the batch, the calling thread taking part 0 last. */
  function splitBatch(batch: number, parts: number, run: (part: number, n0: number, n1: number) => void): void {
    for (let t = parts - 1; t >= 0; t--) run(t, splitPoint(batch, 1, parts, t), splitPoint(batch, 1, parts, t + 1));
    rt.finish(parts);
  }

  function poolPointers(kernel: string, g: Geometry2d, pool: 'maxpool2d' | 'avgpool2d', input: Float32Array, inputName: string,
    output: Float32Array, outputName: string): { gp: number; pin: number; pout: number; parts: number; outputs: number } {
    checkGeometry(kernel, { ...g, outChannels: g.channels }, pool);
    const inputs = g.batch * g.channels * g.height * g.width;
    const outputs = g.batch * g.channels * g.outHeight * g.outWidth;
    const forward = inputName === 'x';
    const pin = rt.pointer(input, forward ? inputs : outputs, `${kernel}: ${inputName}`);
    const pout = rt.pointer(output, forward ? outputs : inputs, `${kernel}: ${outputName}`);
    const parts = rt.parts(inputs, PARALLEL_MIN_ELEMENTS, g.batch);
    return { gp: geometryBlock(g), pin, pout, parts, outputs };
  }

  function batchnormRunning(kernel: string, g: BatchnormGeometry, arrays: Record<string, Float32Array>, tensors: string[]): number[] {
    checkBatchnormGeometry(kernel, g);
    const size = g.batch * g.channels * g.spatial;
    return Object.entries(arrays).map(([name, array]) => rt.pointer(array, tensors.includes(name) ? size : g.channels, `${kernel}: ${name}`));
  }

  /** Pointers to the by-row listing of `index` for g's batch, and its entry count (checked). */
  function sparseInput(kernel: string, g: Conv2dGeometry, index: NonzeroIndex, of: 'x' | 'dy' = 'x'): { lists: number[]; entries: number } {
    const cols = of === 'x' ? g.channels * g.height * g.width : g.outChannels * g.outHeight * g.outWidth;
    asArgumentError(() => checkNonzeroIndex(index, g.batch, cols, kernel));
    const entries = index.rowStart[g.batch];
    if (!(index.rowStart[0] === 0 && entries >= 0 && entries <= g.batch * cols)) {
      throw new KernelArgumentError(`${kernel}: the nonzero index does not list ${g.batch} rows (build it with indexNonzeros)`);
    }
    const lists = [
      rt.pointer(index.rowStart, g.batch + 1, `${kernel}: rowStart`),
      rt.pointer(index.rowCols, entries, `${kernel}: rowCols`),
      rt.pointer(index.rowValues, entries, `${kernel}: rowValues`),
    ];
    return { lists, entries };
  }

  return {
    sparseConvDensityLimit,
    sparseGradDensityLimit,

    conv2dForwardSparse(g, index, w, b, y, activation) {
      checkGeometry('conv2dForwardSparse', g, null);
      const s = convSizes(g);
      const { lists: [ps, pc, pv], entries } = sparseInput('conv2dForwardSparse', g, index);
      const pw = rt.pointer(w, s.weight, 'conv2dForwardSparse: w');
      const pb = rt.pointer(b, g.outChannels, 'conv2dForwardSparse: b');
      const py = rt.pointer(y, s.output, 'conv2dForwardSparse: y');
      const code = activationCode(activation);
      const gp = geometryBlock(g);
      const bytes = wasm.conv2dSparseScratchBytes(gp, Pass.forward);
      const parts = rt.parts(entries * g.kernelH * g.kernelW * g.outChannels + s.output, PARALLEL_MIN_MACS, g.batch);
      const work = Array.from({ length: parts }, (_, t) => scratchFor(t, bytes));
      splitBatch(g.batch, parts, (t, n0, n1) => {
        if (t > 0) rt.post(t, Operation.conv2dForwardSparse, gp, ps, pc, pv, pw, pb, py, code, n0, n1, work[t]);
        else wasm.conv2dForwardSparse(gp, ps, pc, pv, pw, pb, py, code, n0, n1, work[t]);
      });
    },

    conv2dWeightGradSparse(g, index, dy, dw, db) {
      checkGeometry('conv2dWeightGradSparse', g, null);
      const s = convSizes(g);
      const { lists: [ps, pc, pv], entries } = sparseInput('conv2dWeightGradSparse', g, index);
      const pdy = rt.pointer(dy, s.output, 'conv2dWeightGradSparse: dy');
      const pdw = rt.pointer(dw, s.weight, 'conv2dWeightGradSparse: dw');
      const pdb = rt.pointer(db, g.outChannels, 'conv2dWeightGradSparse: db');
      const gp = geometryBlock(g);
      // the working area, then (threads after the first) that thread's partial dw [O, K] and db [O]
      const bytes = Math.ceil(wasm.conv2dSparseScratchBytes(gp, Pass.weightGrad) / 16) * 16;
      const partialDb = bytes + 4 * s.weight;
      const parts = rt.parts(entries * g.kernelH * g.kernelW * g.outChannels + s.output, PARALLEL_MIN_MACS, g.batch);
      const work = Array.from({ length: parts }, (_, t) => scratchFor(t, t === 0 ? bytes : partialDb + 4 * g.outChannels));
      splitBatch(g.batch, parts, (t, n0, n1) => {
        if (t > 0) rt.post(t, Operation.conv2dWeightGradSparse, gp, ps, pc, pv, pdy, work[t] + bytes, work[t] + partialDb, n0, n1, work[t]);
        else wasm.conv2dWeightGradSparse(gp, ps, pc, pv, pdy, pdw, pdb, n0, n1, work[t]);
      });
      for (let t = 1; t < parts; t++) {
        wasm.accumulate(pdw, work[t] + bytes, s.weight);
        wasm.accumulate(pdb, work[t] + partialDb, g.outChannels);
      }
    },

    conv2dInputGradSparse(g, index, w, dx) {
      checkGeometry('conv2dInputGradSparse', g, null);
      const s = convSizes(g);
      const { lists: [ps, pc, pv], entries } = sparseInput('conv2dInputGradSparse', g, index, 'dy');
      const pw = rt.pointer(w, s.weight, 'conv2dInputGradSparse: w');
      const pdx = rt.pointer(dx, s.input, 'conv2dInputGradSparse: dx');
      const gp = geometryBlock(g);
      const bytes = wasm.conv2dSparseGradScratchBytes(gp, Pass.inputGrad);
      const parts = rt.parts(entries * g.kernelH * g.kernelW * g.channels + s.input, PARALLEL_MIN_MACS, g.batch);
      const work = Array.from({ length: parts }, (_, t) => scratchFor(t, bytes));
      splitBatch(g.batch, parts, (t, n0, n1) => {
        if (t > 0) rt.post(t, Operation.conv2dInputGradSparse, gp, ps, pc, pv, pw, pdx, n0, n1, work[t]);
        else wasm.conv2dInputGradSparse(gp, ps, pc, pv, pw, pdx, n0, n1, work[t]);
      });
    },

    conv2dWeightGradSparseDy(g, x, index, dy, dw, db) {
      checkGeometry('conv2dWeightGradSparseDy', g, null);
      const s = convSizes(g);
      const { lists: [ps, pc, pv], entries } = sparseInput('conv2dWeightGradSparseDy', g, index, 'dy');
      const px = rt.pointer(x, s.input, 'conv2dWeightGradSparseDy: x');
      const pdy = rt.pointer(dy, s.output, 'conv2dWeightGradSparseDy: dy');
      const pdw = rt.pointer(dw, s.weight, 'conv2dWeightGradSparseDy: dw');
      const pdb = rt.pointer(db, g.outChannels, 'conv2dWeightGradSparseDy: db');
      const gp = geometryBlock(g);
      const bytes = Math.ceil(wasm.conv2dSparseGradScratchBytes(gp, Pass.weightGrad) / 16) * 16;
      const partialDb = bytes + 4 * s.weight;
      const parts = rt.parts(entries * g.kernelH * g.kernelW * g.channels + s.input, PARALLEL_MIN_MACS, g.batch);
      const work = Array.from({ length: parts }, (_, t) => scratchFor(t, t === 0 ? bytes : partialDb + 4 * g.outChannels));
      splitBatch(g.batch, parts, (t, n0, n1) => {
        if (t > 0) rt.post(t, Operation.conv2dWeightGradSparseDy, gp, px, ps, pc, pv, pdy, work[t] + bytes, work[t] + partialDb, n0, n1, work[t]);
        else wasm.conv2dWeightGradSparseDy(gp, px, ps, pc, pv, pdy, pdw, pdb, n0, n1, work[t]);
      });
      for (let t = 1; t < parts; t++) {
        wasm.accumulate(pdw, work[t] + bytes, s.weight);
        wasm.accumulate(pdb, work[t] + partialDb, g.outChannels);
      }
    },

    conv2dForward(g, x, w, b, y, activation) {
      checkGeometry('conv2dForward', g, null);
      const s = convSizes(g);
      const px = rt.pointer(x, s.input, 'conv2dForward: x');
      const pw = rt.pointer(w, s.weight, 'conv2dForward: w');
      const pb = rt.pointer(b, g.outChannels, 'conv2dForward: b');
      const py = rt.pointer(y, s.output, 'conv2dForward: y');
      const code = activationCode(activation);
      const gp = geometryBlock(g);
      const bytes = wasm.conv2dScratchBytes(gp, Pass.forward);
      const parts = rt.parts(s.macs, PARALLEL_MIN_MACS, g.batch);
      const work = Array.from({ length: parts }, (_, t) => scratchFor(t, bytes));
      splitBatch(g.batch, parts, (t, n0, n1) => {
        if (t > 0) rt.post(t, Operation.conv2dForward, gp, px, pw, pb, py, code, n0, n1, work[t]);
        else wasm.conv2dForward(gp, px, pw, pb, py, code, n0, n1, work[t]);
      });
    },

    conv2dInputGrad(g, dy, w, dx) {
      checkGeometry('conv2dInputGrad', g, null);
      const s = convSizes(g);
      const pdy = rt.pointer(dy, s.output, 'conv2dInputGrad: dy');
      const pw = rt.pointer(w, s.weight, 'conv2dInputGrad: w');
      const pdx = rt.pointer(dx, s.input, 'conv2dInputGrad: dx');
      const gp = geometryBlock(g);
      const bytes = wasm.conv2dScratchBytes(gp, Pass.inputGrad);
      const parts = rt.parts(s.macs, PARALLEL_MIN_MACS, g.batch);
      const work = Array.from({ length: parts }, (_, t) => scratchFor(t, bytes));
      splitBatch(g.batch, parts, (t, n0, n1) => {
        if (t > 0) rt.post(t, Operation.conv2dInputGrad, gp, pdy, pw, pdx, n0, n1, work[t]);
        else wasm.conv2dInputGrad(gp, pdy, pw, pdx, n0, n1, work[t]);
      });
    },

    conv2dWeightGrad(g, x, dy, dw, db) {
      checkGeometry('conv2dWeightGrad', g, null);
      const s = convSizes(g);
      const px = rt.pointer(x, s.input, 'conv2dWeightGrad: x');
      const pdy = rt.pointer(dy, s.output, 'conv2dWeightGrad: dy');
      const pdw = rt.pointer(dw, s.weight, 'conv2dWeightGrad: dw');
      const pdb = rt.pointer(db, g.outChannels, 'conv2dWeightGrad: db');
      const gp = geometryBlock(g);
      // the working area, then (threads after the first) that thread's partial dw [O, K] and db [O]
      const bytes = Math.ceil(wasm.conv2dScratchBytes(gp, Pass.weightGrad) / 16) * 16;
      const partialDb = bytes + 4 * s.weight;
      const parts = rt.parts(s.macs, PARALLEL_MIN_MACS, g.batch);
      const work = Array.from({ length: parts }, (_, t) => scratchFor(t, t === 0 ? bytes : partialDb + 4 * g.outChannels));
      splitBatch(g.batch, parts, (t, n0, n1) => {
        if (t > 0) rt.post(t, Operation.conv2dWeightGrad, gp, px, pdy, work[t] + bytes, work[t] + partialDb, n0, n1, work[t]);
        else wasm.conv2dWeightGrad(gp, px, pdy, pdw, pdb, n0, n1, work[t]);
      });
      for (let t = 1; t < parts; t++) {
        wasm.accumulate(pdw, work[t] + bytes, s.weight);
        wasm.accumulate(pdb, work[t] + partialDb, g.outChannels);
      }
    },

    maxpool2dForward(g, x, y, indices) {
      const { gp, pin, pout, parts, outputs } = poolPointers('maxpool2dForward', g, 'maxpool2d', x, 'x', y, 'y');
      const pi = rt.pointer(indices, outputs, 'maxpool2dForward: indices');
      splitBatch(g.batch, parts, (t, n0, n1) => {
        if (t > 0) rt.post(t, Operation.maxpool2dForward, gp, pin, pout, pi, n0, n1);
        else wasm.maxpool2dForward(gp, pin, pout, pi, n0, n1);
      });
    },

    maxpool2dBackward(g, dy, indices, dx) {
      const { gp, pin, pout, parts, outputs } = poolPointers('maxpool2dBackward', g, 'maxpool2d', dy, 'dy', dx, 'dx');
      const pi = rt.pointer(indices, outputs, 'maxpool2dBackward: indices');
      splitBatch(g.batch, parts, (t, n0, n1) => {
        if (t > 0) rt.post(t, Operation.maxpool2dBackward, gp, pin, pi, pout, n0, n1);
        else wasm.maxpool2dBackward(gp, pin, pi, pout, n0, n1);
      });
    },

    avgpool2dForward(g, x, y) {
      const { gp, pin, pout, parts } = poolPointers('avgpool2dForward', g, 'avgpool2d', x, 'x', y, 'y');
      splitBatch(g.batch, parts, (t, n0, n1) => {
        if (t > 0) rt.post(t, Operation.avgpool2dForward, gp, pin, pout, n0, n1);
        else wasm.avgpool2dForward(gp, pin, pout, n0, n1);
      });
    },

    avgpool2dBackward(g, dy, dx) {
      const { gp, pin, pout, parts } = poolPointers('avgpool2dBackward', g, 'avgpool2d', dy, 'dy', dx, 'dx');
      splitBatch(g.batch, parts, (t, n0, n1) => {
        if (t > 0) rt.post(t, Operation.avgpool2dBackward, gp, pin, pout, n0, n1);
        else wasm.avgpool2dBackward(gp, pin, pout, n0, n1);
      });
    },

    activationForward(activation, x, y, count) {
      checkLength(count, 'activationForward: count');
      const code = activationCode(activation);
      const px = rt.pointer(x, count, 'activationForward: x');
      const py = rt.pointer(y, count, 'activationForward: y');
      if (px !== py) rt.distinct(px, py, 4 * count, 'activationForward');
      wasm.activationForward(code, px, py, count);
    },

    batchnormForwardTraining(g, x, gamma, beta, eps, momentum, runningMean, runningVar, y, mean, invStd) {
      const kernel = 'batchnormForwardTraining';
      const p = batchnormRunning(kernel, g, { x, gamma, beta, runningMean, runningVar, y, mean, invStd }, ['x', 'y']);
      if (g.batch * g.spatial < 2) {
        throw new KernelArgumentError(
          `${kernel}: each channel needs more than one value to normalize, got ${g.batch * g.spatial}; use a batch of 2 or more`,
        );
      }
      wasm.batchnormForwardTraining(g.batch, g.channels, g.spatial, p[0], p[1], p[2], eps, momentum, p[3], p[4], p[5], p[6], p[7]);
    },

    batchnormForwardEval(g, x, gamma, beta, eps, runningMean, runningVar, y) {
      const p = batchnormRunning('batchnormForwardEval', g, { x, gamma, beta, runningMean, runningVar, y }, ['x', 'y']);
      wasm.batchnormForwardEval(g.batch, g.channels, g.spatial, p[0], p[1], p[2], eps, p[3], p[4], p[5]);
    },

    batchnormBackwardTraining(g, x, dy, gamma, mean, invStd, dx, dgamma, dbeta) {
      const p = batchnormRunning('batchnormBackwardTraining', g, { x, dy, gamma, mean, invStd, dx, dgamma, dbeta }, ['x', 'dy', 'dx']);
      wasm.batchnormBackwardTraining(g.batch, g.channels, g.spatial, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]);
    },

    batchnormBackwardEval(g, x, dy, gamma, eps, runningMean, runningVar, dx, dgamma, dbeta) {
      const p = batchnormRunning(
        'batchnormBackwardEval', g, { x, dy, gamma, runningMean, runningVar, dx, dgamma, dbeta }, ['x', 'dy', 'dx'],
      );
      wasm.batchnormBackwardEval(g.batch, g.channels, g.spatial, p[0], p[1], p[2], eps, p[3], p[4], p[5], p[6], p[7]);
    },

    dropoutForward(x, keep, p, y, count) {
      checkLength(count, 'dropoutForward: count');
      asArgumentError(() => checkProbability(p, 'dropoutForward'));
      wasm.dropout(rt.pointer(x, count, 'dropoutForward: x'), rt.pointer(keep, count, 'dropoutForward: keep'), dropoutScale(p),
        rt.pointer(y, count, 'dropoutForward: y'), count);
    },

    dropoutBackward(dy, keep, p, dx, count) {
      checkLength(count, 'dropoutBackward: count');
      asArgumentError(() => checkProbability(p, 'dropoutBackward'));
      wasm.dropout(rt.pointer(dy, count, 'dropoutBackward: dy'), rt.pointer(keep, count, 'dropoutBackward: keep'), dropoutScale(p),
        rt.pointer(dx, count, 'dropoutBackward: dx'), count);
    },
  };
}
