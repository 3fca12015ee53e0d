// Bias, activations and their derivatives, and the bias gradient. Activation codes (shared with
// src/core/wasm.ts): 0 identity, 1 relu, 2 sigmoid, 3 tanh.
import { sigmoid4, tanh4 } from './simd';

export const IDENTITY: i32 = 0;
export const RELU: i32 = 1;
export const SIGMOID: i32 = 2;
export const TANH: i32 = 3;

// @ts-ignore: decorator
@inline export function activate(activation: i32, x: v128): v128 {
  if (activation == RELU) return f32x4.max(x, f32x4.splat(0));
  if (activation == SIGMOID) return sigmoid4(x);
  if (activation == TANH) return tanh4(x);
  return x;
}

/**
 * y[r, c] = act(y[r, c] + bias[c]) in place. y is [rows, cols], bias is [cols].
 * Leftover columns (cols mod 4) go through the same vector code one lane at a time, so every element
 * gets exactly the same arithmetic.
 */
export function biasActivation(y: usize, bias: usize, rows: i32, cols: i32, activation: i32): void {
  const rowBytes = <usize>cols << 2;
  const vectorEnd = <usize>(cols & ~3) << 2;
  for (let r = 0; r < rows; r++) {
    const row = y + <usize>r * rowBytes;
    let offset: usize = 0;
    for (; offset < vectorEnd; offset += 16) {
      v128.store(row + offset, activate(activation, f32x4.add(v128.load(row + offset), v128.load(bias + offset))));
    }
    for (; offset < rowBytes; offset += 4) {
      const x = f32x4.splat(load<f32>(row + offset) + load<f32>(bias + offset));
      store<f32>(row + offset, f32x4.extract_lane(activate(activation, x), 0));
    }
  }
}

/**
 * dy[i] *= act'(x_i) for i < length, from the saved outputs y = act(x):
 * relu' = [y > 0], sigmoid' = y(1 − y), tanh' = 1 − y², identity' = 1.
 */
export function activationBackward(activation: i32, y: usize, dy: usize, length: i32): void {
  if (activation == IDENTITY) return;
  const end = <usize>length << 2;
  const vectorEnd = <usize>(length & ~3) << 2;
  const one = f32x4.splat(1);
  let offset: usize = 0;
  for (; offset < vectorEnd; offset += 16) {
    const yv = v128.load(y + offset);
    const g = v128.load(dy + offset);
    let out: v128;
    if (activation == RELU) out = v128.and(g, f32x4.gt(yv, f32x4.splat(0)));
    else if (activation == SIGMOID) out = f32x4.mul(g, f32x4.mul(yv, f32x4.sub(one, yv)));
    else out = f32x4.mul(g, f32x4.sub(one, f32x4.mul(yv, yv)));
    v128.store(dy + offset, out);
  }
  for (; offset < end; offset += 4) {
    const yv = load<f32>(y + offset);
    const g = load<f32>(dy + offset);
    let out: f32;
    if (activation == RELU) out = yv > 0 ? g : 0;
    else if (activation == SIGMOID) out = g * (yv * (1 - yv));
    else out = g * (1 - yv * yv);
    store<f32>(dy + offset, out);
  }
}

/** db[c] = Σ_r dy[r, c]. dy is [rows, cols], db is [cols] (overwritten). */
export function biasGradient(dy: usize, rows: i32, cols: i32, db: usize): void {
  const rowBytes = <usize>cols << 2;
  const vectorEnd = <usize>(cols & ~3) << 2;
  memory.fill(db, 0, rowBytes);
  for (let r = 0; r < rows; r++) {
    const row = dy + <usize>r * rowBytes;
    let offset: usize = 0;
    for (; offset < vectorEnd; offset += 16) {
      v128.store(db + offset, f32x4.add(v128.load(db + offset), v128.load(row + offset)));
    }
    for (; offset < rowBytes; offset += 4) {
      store<f32>(db + offset, load<f32>(db + offset) + load<f32>(row + offset));
    }
  }
}
