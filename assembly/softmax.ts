// Softmax and the fused, numerically stable softmax + cross-entropy (with its gradient).
// Each row is shifted by its maximum first: softmax(x) = e^(x − max) / Σ e^(x − max), so no exponent
// exceeds 0 and nothing overflows, and logsumexp(x) = max + log Σ e^(x − max) with Σ ≥ 1.
import { exp4 } from './simd';

/** e^x for one float through the same vector code as the rest (identical results on every element). */
// @ts-ignore: decorator
@inline function exp1(x: f32): f32 {
  return f32x4.extract_lane(exp4(f32x4.splat(x)), 0);
}

/** Writes e^(x − max) of one row into out and returns their sum (in float64, for the loss). */
function shiftedExpRow(row: usize, cols: i32, out: usize): f64 {
  const end = <usize>cols << 2;
  const vectorEnd = <usize>(cols & ~3) << 2;
  let rowMax = load<f32>(row);
  for (let offset: usize = 4; offset < end; offset += 4) rowMax = max(rowMax, load<f32>(row + offset));
  const maxV = f32x4.splat(rowMax);
  let sum: f64 = 0;
  let offset: usize = 0;
  for (; offset < vectorEnd; offset += 16) {
    const e = exp4(f32x4.sub(v128.load(row + offset), maxV));
    v128.store(out + offset, e);
    sum += <f64>f32x4.extract_lane(e, 0) + <f64>f32x4.extract_lane(e, 1)
      + <f64>f32x4.extract_lane(e, 2) + <f64>f32x4.extract_lane(e, 3);
  }
  for (; offset < end; offset += 4) {
    const e = exp1(load<f32>(row + offset) - rowMax);
    store<f32>(out + offset, e);
    sum += <f64>e;
  }
  return sum;
}

// @ts-ignore: decorator
@inline function scaleRow(out: usize, cols: i32, scale: f32): void {
  const end = <usize>cols << 2;
  const vectorEnd = <usize>(cols & ~3) << 2;
  const scaleV = f32x4.splat(scale);
  let offset: usize = 0;
  for (; offset < vectorEnd; offset += 16) v128.store(out + offset, f32x4.mul(v128.load(out + offset), scaleV));
  for (; offset < end; offset += 4) store<f32>(out + offset, load<f32>(out + offset) * scale);
}

/** probs[r, :] = softmax(logits[r, :]). logits and probs are [rows, cols] and may alias. */
export function softmax(logits: usize, rows: i32, cols: i32, probs: usize): void {
  if (cols <= 0) return;
  const rowBytes = <usize>cols << 2;
  for (let r = 0; r < rows; r++) {
    const offset = <usize>r * rowBytes;
    const sum = shiftedExpRow(logits + offset, cols, probs + offset);
    scaleRow(probs + offset, cols, <f32>(1 / sum));
  }
}

/**
 * Mean cross-entropy of softmax(logits) against integer labels, and its gradient.
 * logits [rows, cols], labels [rows] (i32 class indices, checked by the caller), grad [rows, cols]
 * (may alias logits). Per row: loss_r = logsumexp(x) − x[label] = (max − x[label]) + log Σ e^(x − max),
 * computed in float64; grad = (softmax(x) − onehot(label)) / rows. Returns (1/rows) Σ_r loss_r.
 */
export function softmaxCrossEntropy(logits: usize, labels: usize, rows: i32, cols: i32, grad: usize): f64 {
  if (rows <= 0 || cols <= 0) return 0;
  const rowBytes = <usize>cols << 2;
  const invRows = 1.0 / <f64>rows;
  let total: f64 = 0;
  for (let r = 0; r < rows; r++) {
    const row = logits + <usize>r * rowBytes;
    const out = grad + <usize>r * rowBytes;
    const label = load<i32>(labels + (<usize>r << 2));
    // read what the loss needs before grad (which may alias logits) is written
    let rowMax = load<f32>(row);
    for (let offset: usize = 4; offset < rowBytes; offset += 4) rowMax = max(rowMax, load<f32>(row + offset));
    const target = load<f32>(row + (<usize>label << 2));
    const sum = shiftedExpRow(row, cols, out);
    total += (<f64>rowMax - <f64>target) + Math.log(sum);
    scaleRow(out, cols, <f32>(invRows / sum));
    const at = out + (<usize>label << 2);
    store<f32>(at, load<f32>(at) - <f32>invRows);
  }
  return total * invRows;
}
