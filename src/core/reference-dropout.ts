/**
 * Dropout, reference implementation: torch.nn.Dropout in training mode
 * (https://pytorch.org/docs/stable/generated/torch.nn.Dropout.html). In evaluation mode dropout is the
 * identity and none of this runs.
 *
 *   x, y, dx, dy   [count]   any shape, flat
 *   keep           [count]   1 where the value is kept, 0 where it is dropped
 *
 *   y = x · keep / (1 − p),   dx = dy · keep / (1 − p)
 *
 * (PyTorch's CPU dropout multiplies by the mask divided by 1 − p: the scale is rounded to float32 once.)
 * The mask is drawn by `dropoutMask` from the caller's generator, so the layer owns its random state
 * and a checkpoint can carry it. Outputs are overwritten; nothing is allocated.
 */
import type { Random } from './random.js';
import { checkArrays, type FloatArray } from './geometry2d.js';

export function checkProbability(p: number, kernel: string): void {
  if (!(p >= 0 && p < 1)) throw new RangeError(`${kernel}: the drop probability must be in [0, 1), got ${p}`);
}

/** Fills keep[0 .. count) with 1 (probability 1 − p) or 0 (probability p), one 32-bit draw per value. */
export function dropoutMask(random: Random, p: number, keep: Uint8Array, count: number): void {
  checkProbability(p, 'dropoutMask');
  checkArrays('dropoutMask', { keep: [keep, count] });
  for (let i = 0; i < count; i++) keep[i] = random.next() < p ? 0 : 1;
}

/** The factor kept values are multiplied by: 1 / (1 − p) in float32. */
export function dropoutScale(p: number): number {
  return Math.fround(1 / (1 - p));
}

/** y = x · keep / (1 − p). */
export function dropoutForward(x: FloatArray, keep: Uint8Array, p: number, y: FloatArray, count: number): void {
  checkProbability(p, 'dropoutForward');
  checkArrays('dropoutForward', { x: [x, count], keep: [keep, count], y: [y, count] });
  const scale = dropoutScale(p);
  // x · 0 rather than 0, so that a NaN or ∞ stays NaN as in PyTorch
  for (let i = 0; i < count; i++) y[i] = x[i] * (keep[i] ? scale : 0);
}

/** dx = dy · keep / (1 − p). */
export function dropoutBackward(dy: FloatArray, keep: Uint8Array, p: number, dx: FloatArray, count: number): void {
  checkProbability(p, 'dropoutBackward');
  checkArrays('dropoutBackward', { dy: [dy, count], keep: [keep, count], dx: [dx, count] });
  const scale = dropoutScale(p);
  for (let i = 0; i < count; i++) dx[i] = dy[i] * (keep[i] ? scale : 0);
}
