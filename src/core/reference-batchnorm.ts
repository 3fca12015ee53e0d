/**
 * Batch normalization, reference implementation (plain loops, float64 sums): torch.nn.BatchNorm1d on
 * [N, F] and torch.nn.BatchNorm2d on [N, C, H, W], affine, with running statistics
 * (https://pytorch.org/docs/stable/generated/torch.nn.BatchNorm2d.html). Both are one layout:
 *
 *   x, y, dx, dy   [N, C, S]   S = H·W (BatchNorm2d) or 1 (BatchNorm1d, C = F)
 *   gamma, beta    [C]         the layer's weight and bias
 *   runningMean, runningVar, mean, invStd, dgamma, dbeta   [C]
 *
 * Training, over the M = N·S values of each channel c:
 *   μ = (1/M) Σ x,  σ² = (1/M) Σ (x − μ)²  (biased, for normalizing),  x̂ = (x − μ) / √(σ² + ε),  y = γ x̂ + β
 *   runningMean ← (1 − momentum)·runningMean + momentum·μ
 *   runningVar  ← (1 − momentum)·runningVar  + momentum·σ²·M/(M − 1)   (unbiased)
 * Evaluation: y = γ (x − runningMean) / √(runningVar + ε) + β.
 *
 * The training forward returns μ and 1/√(σ² + ε) in `mean` and `invStd` (PyTorch's save_mean and
 * save_invstd); the training backward takes them back with x, so no state passes between the two
 * unseen. num_batches_tracked is the layer's to count. Outputs are overwritten; nothing is allocated.
 */
import { checkArrays, type FloatArray } from './geometry2d.js';

export interface BatchnormGeometry {
  batch: number;
  channels: number;
  /** Values per channel per sample: H·W, or 1 for flat features. */
  spatial: number;
}

/** The geometry of a [N, F] or [N, C, H, W] tensor. */
export function batchnormGeometry(shape: readonly number[]): BatchnormGeometry {
  if (!(shape.length === 2 || shape.length === 4) || !shape.every((d) => Number.isSafeInteger(d) && d >= 1)) {
    throw new RangeError(`batchnorm: the shape must be [N, F] or [N, C, H, W] of integers ≥ 1, got [${shape.join(', ')}]`);
  }
  return { batch: shape[0], channels: shape[1], spatial: shape.length === 4 ? shape[2] * shape[3] : 1 };
}

function check(g: BatchnormGeometry, kernel: string, tensors: Record<string, FloatArray>, channels: Record<string, FloatArray>): void {
  const size = g.batch * g.channels * g.spatial;
  checkArrays(kernel, Object.fromEntries(Object.entries(tensors).map(([name, a]) => [name, [a, size]])));
  checkArrays(kernel, Object.fromEntries(Object.entries(channels).map(([name, a]) => [name, [a, g.channels]])));
}

/** Training mode: normalizes with the batch's statistics, writes them to mean/invStd, updates the running ones. */
export function batchnormForwardTraining(
  g: BatchnormGeometry, x: FloatArray, gamma: FloatArray, beta: FloatArray, eps: number, momentum: number,
  runningMean: FloatArray, runningVar: FloatArray, y: FloatArray, mean: FloatArray, invStd: FloatArray,
): void {
  check(g, 'batchnormForwardTraining', { x, y }, { gamma, beta, runningMean, runningVar, mean, invStd });
  const { batch: N, channels: C, spatial: S } = g;
  const M = N * S;
  if (M < 2) {
    throw new RangeError(`batchnormForwardTraining: each channel needs more than one value to normalize, got ${M}; use a batch of 2 or more`);
  }
  for (let c = 0; c < C; c++) {
    let sum = 0;
    for (let n = 0; n < N; n++) for (let s = 0; s < S; s++) sum += x[(n * C + c) * S + s];
    const mu = sum / M;
    let squares = 0;
    for (let n = 0; n < N; n++) {
      for (let s = 0; s < S; s++) {
        const d = x[(n * C + c) * S + s] - mu;
        squares += d * d;
      }
    }
    const variance = squares / M;
    const inv = 1 / Math.sqrt(variance + eps);
    for (let n = 0; n < N; n++) {
      for (let s = 0; s < S; s++) {
        const at = (n * C + c) * S + s;
        y[at] = gamma[c] * (x[at] - mu) * inv + beta[c];
      }
    }
    mean[c] = mu;
    invStd[c] = inv;
    runningMean[c] = (1 - momentum) * runningMean[c] + momentum * mu;
    runningVar[c] = (1 - momentum) * runningVar[c] + momentum * variance * M / (M - 1);
  }
}

/** Evaluation mode: normalizes with the running statistics. */
export function batchnormForwardEval(
  g: BatchnormGeometry, x: FloatArray, gamma: FloatArray, beta: FloatArray, eps: number,
  runningMean: FloatArray, runningVar: FloatArray, y: FloatArray,
): void {
  check(g, 'batchnormForwardEval', { x, y }, { gamma, beta, runningMean, runningVar });
  const { batch: N, channels: C, spatial: S } = g;
  for (let c = 0; c < C; c++) {
    const inv = 1 / Math.sqrt(runningVar[c] + eps);
    for (let n = 0; n < N; n++) {
      for (let s = 0; s < S; s++) {
        const at = (n * C + c) * S + s;
        y[at] = gamma[c] * (x[at] - runningMean[c]) * inv + beta[c];
      }
    }
  }
}

/**
 * Gradients of the training forward (through the batch statistics), from its input x, its mean/invStd
 * and dy = ∂L/∂y, per channel with x̂ = (x − μ)·invStd:
 *   dβ = Σ dy,  dγ = Σ dy·x̂,  dx = (γ·invStd / M)·(M·dy − dβ − x̂·dγ)
 */
export function batchnormBackwardTraining(
  g: BatchnormGeometry, x: FloatArray, dy: FloatArray, gamma: FloatArray, mean: FloatArray, invStd: FloatArray,
  dx: FloatArray, dgamma: FloatArray, dbeta: FloatArray,
): void {
  check(g, 'batchnormBackwardTraining', { x, dy, dx }, { gamma, mean, invStd, dgamma, dbeta });
  const { batch: N, channels: C, spatial: S } = g;
  const M = N * S;
  for (let c = 0; c < C; c++) {
    const mu = mean[c];
    const inv = invStd[c];
    let sumDy = 0;
    let sumDyXhat = 0;
    for (let n = 0; n < N; n++) {
      for (let s = 0; s < S; s++) {
        const at = (n * C + c) * S + s;
        sumDy += dy[at];
        sumDyXhat += dy[at] * (x[at] - mu) * inv;
      }
    }
    const scale = gamma[c] * inv / M;
    for (let n = 0; n < N; n++) {
      for (let s = 0; s < S; s++) {
        const at = (n * C + c) * S + s;
        dx[at] = scale * (M * dy[at] - sumDy - (x[at] - mu) * inv * sumDyXhat);
      }
    }
    dgamma[c] = sumDyXhat;
    dbeta[c] = sumDy;
  }
}

/**
 * Gradients of the evaluation forward (the running statistics are constants):
 *   dβ = Σ dy,  dγ = Σ dy·(x − runningMean)/√(runningVar + ε),  dx = γ·dy/√(runningVar + ε)
 */
export function batchnormBackwardEval(
  g: BatchnormGeometry, x: FloatArray, dy: FloatArray, gamma: FloatArray, eps: number,
  runningMean: FloatArray, runningVar: FloatArray, dx: FloatArray, dgamma: FloatArray, dbeta: FloatArray,
): void {
  check(g, 'batchnormBackwardEval', { x, dy, dx }, { gamma, runningMean, runningVar, dgamma, dbeta });
  const { batch: N, channels: C, spatial: S } = g;
  for (let c = 0; c < C; c++) {
    const inv = 1 / Math.sqrt(runningVar[c] + eps);
    let sumDy = 0;
    let sumDyXhat = 0;
    for (let n = 0; n < N; n++) {
      for (let s = 0; s < S; s++) {
        const at = (n * C + c) * S + s;
        sumDy += dy[at];
        sumDyXhat += dy[at] * (x[at] - runningMean[c]) * inv;
        dx[at] = gamma[c] * dy[at] * inv;
      }
    }
    dgamma[c] = sumDyXhat;
    dbeta[c] = sumDy;
  }
}
