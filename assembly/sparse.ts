// Kernels for a layer whose input is mostly zeros (the first layer of an MNIST network: about 19% of
// the pixels are nonzero, 28% of the aligned 4-pixel blocks). The unit of sparsity is an aligned block
// of 4 inputs, one f32x4 vector: a block with any nonzero lane is kept whole, so both products stay
// vectorized along the input dimension and the weights keep PyTorch's [out, in] layout.
//
// Shapes: X is [rows, k] (k a multiple of 4), W and dW are [n, k], C and dZ are [rows, n]; all dense
// row-major, pointers are byte offsets. The index of X (built by indexBlocks) lists, per row, its
// nonzero block numbers (rowStart [rows + 1], rowBlocks), and per block, the rows where it is nonzero in
// ascending order (blockStart [k/4 + 1], blockRows); rowBlocks and blockRows hold up to rows·k/4 entries.
//
// The products compute output columns [n0, n1) only, so a caller can split them across threads; every
// output element is summed in the same order whatever the split, as long as n0 is a multiple of 8.
import { madd } from './simd';

const GROUP: i32 = 8;

/** Builds the block index of X (see above) and returns the number of nonzero blocks. */
export function indexBlocks(
  x: usize, rows: i32, k: i32, rowStart: usize, rowBlocks: usize, blockStart: usize, blockRows: usize,
): i32 {
  const blocks = k >> 2;
  const rowBytes = <usize>k << 2;
  for (let b = 0; b <= blocks; b++) store<i32>(blockStart + (<usize>b << 2), 0);
  const zero = f32x4.splat(0);
  let count = 0;
  for (let r = 0; r < rows; r++) {
    store<i32>(rowStart + (<usize>r << 2), count);
    const row = x + <usize>r * rowBytes;
    for (let b = 0; b < blocks; b++) {
      // −0 counts as zero (it adds nothing); NaN counts as nonzero, so it still reaches the output
      if (v128.any_true(f32x4.ne(v128.load(row + (<usize>b << 4)), zero))) {
        store<i32>(rowBlocks + (<usize>count << 2), b);
        const counter = blockStart + (<usize>b << 2);
        store<i32>(counter, load<i32>(counter) + 1);
        count++;
      }
    }
  }
  store<i32>(rowStart + (<usize>rows << 2), count);
  // counts → running ends, then place rows from the last down, which leaves each entry at its block's
  // start and the rows of a block in ascending order
  let sum = 0;
  for (let b = 0; b < blocks; b++) {
    sum += load<i32>(blockStart + (<usize>b << 2));
    store<i32>(blockStart + (<usize>b << 2), sum);
  }
  for (let r = rows - 1; r >= 0; r--) {
    const end = load<i32>(rowStart + (<usize>(r + 1) << 2));
    for (let q = load<i32>(rowStart + (<usize>r << 2)); q < end; q++) {
      const counter = blockStart + (<usize>load<i32>(rowBlocks + (<usize>q << 2)) << 2);
      const slot = load<i32>(counter) - 1;
      store<i32>(counter, slot);
      store<i32>(blockRows + (<usize>slot << 2), r);
    }
  }
  store<i32>(blockStart + (<usize>blocks << 2), count);
  return count;
}

/** [Σa, Σb, Σc, Σd]: the lane sums of four vectors, each as (a0 + a2) + (a1 + a3). */
// @ts-ignore: decorator
@inline function laneSums(a: v128, b: v128, c: v128, d: v128): v128 {
  const u = f32x4.add(v128.shuffle<f32>(a, b, 0, 4, 1, 5), v128.shuffle<f32>(a, b, 2, 6, 3, 7));
  const v = f32x4.add(v128.shuffle<f32>(c, d, 0, 4, 1, 5), v128.shuffle<f32>(c, d, 2, 6, 3, 7));
  return f32x4.add(v128.shuffle<f32>(u, v, 0, 1, 4, 5), v128.shuffle<f32>(u, v, 2, 3, 6, 7));
}

// @ts-ignore: decorator
@inline function laneSum(a: v128): f32 {
  return (f32x4.extract_lane(a, 0) + f32x4.extract_lane(a, 2)) + (f32x4.extract_lane(a, 1) + f32x4.extract_lane(a, 3));
}

/**
 * C[r, o] = Σ_b X[r, 4b..4b+3] · W[o, 4b..4b+3] over the nonzero blocks b of row r, for o in [n0, n1):
 * the forward product X · Wᵀ. Eight outputs at a time share each loaded X vector (8 accumulators); their
 * eight weight rows (8·k floats, 25 KB at k = 784) stay in L1 while every row of X streams past.
 */
export function sparseGemmNT(
  rows: i32, n: i32, k: i32, x: usize, rowStart: usize, rowBlocks: usize, w: usize, c: usize, n0: i32, n1: i32,
): void {
  const rowBytes = <usize>k << 2;
  const outRowBytes = <usize>n << 2;
  let o = n0;
  for (; o + GROUP <= n1; o += GROUP) {
    const w0 = w + <usize>o * rowBytes;
    for (let r = 0; r < rows; r++) {
      const xr = x + <usize>r * rowBytes;
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
      let a4 = f32x4.splat(0), a5 = f32x4.splat(0), a6 = f32x4.splat(0), a7 = f32x4.splat(0);
      let q = rowBlocks + (<usize>load<i32>(rowStart + (<usize>r << 2)) << 2);
      const end = rowBlocks + (<usize>load<i32>(rowStart + (<usize>(r + 1) << 2)) << 2);
      for (; q < end; q += 4) {
        const offset = <usize>load<i32>(q) << 4;
        const xv = v128.load(xr + offset);
        let wp = w0 + offset;
        a0 = madd(xv, v128.load(wp), a0); wp += rowBytes;
        a1 = madd(xv, v128.load(wp), a1); wp += rowBytes;
        a2 = madd(xv, v128.load(wp), a2); wp += rowBytes;
        a3 = madd(xv, v128.load(wp), a3); wp += rowBytes;
        a4 = madd(xv, v128.load(wp), a4); wp += rowBytes;
        a5 = madd(xv, v128.load(wp), a5); wp += rowBytes;
        a6 = madd(xv, v128.load(wp), a6); wp += rowBytes;
        a7 = madd(xv, v128.load(wp), a7);
      }
      const out = c + <usize>r * outRowBytes + (<usize>o << 2);
      v128.store(out, laneSums(a0, a1, a2, a3));
      v128.store(out, laneSums(a4, a5, a6, a7), 16);
    }
  }
  for (; o < n1; o++) {
    const wo = w + <usize>o * rowBytes;
    for (let r = 0; r < rows; r++) {
      const xr = x + <usize>r * rowBytes;
      let a = f32x4.splat(0);
      const end = load<i32>(rowStart + (<usize>(r + 1) << 2));
      for (let q = load<i32>(rowStart + (<usize>r << 2)); q < end; q++) {
        const offset = <usize>load<i32>(rowBlocks + (<usize>q << 2)) << 4;
        a = madd(v128.load(xr + offset), v128.load(wo + offset), a);
      }
      store<f32>(c + <usize>r * outRowBytes + (<usize>o << 2), laneSum(a));
    }
  }
}

/**
 * dW[o, 4b..4b+3] = Σ_r dZ[r, o] · X[r, 4b..4b+3] over the rows r where block b is nonzero, for o in
 * [n0, n1): the weight gradient dZᵀ · X. Blocks that are zero in every row get zeros. Eight outputs at
 * a time: each X vector is loaded once and multiplied by eight broadcast dZ values, whose columns
 * (rows · 32 bytes) stay in L1.
 */
export function sparseGemmTN(
  n: i32, k: i32, rows: i32, dz: usize, x: usize, blockStart: usize, blockRows: usize, dw: usize, n0: i32, n1: i32,
): void {
  const blocks = k >> 2;
  const rowBytes = <usize>k << 2;
  const dzRowBytes = <usize>n << 2;
  let o = n0;
  for (; o + GROUP <= n1; o += GROUP) {
    const dzo = dz + (<usize>o << 2);
    const dw0 = dw + <usize>o * rowBytes;
    for (let b = 0; b < blocks; b++) {
      const offset = <usize>b << 4;
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
      let a4 = f32x4.splat(0), a5 = f32x4.splat(0), a6 = f32x4.splat(0), a7 = f32x4.splat(0);
      let q = blockRows + (<usize>load<i32>(blockStart + (<usize>b << 2)) << 2);
      const end = blockRows + (<usize>load<i32>(blockStart + (<usize>(b + 1) << 2)) << 2);
      for (; q < end; q += 4) {
        const r = <usize>load<i32>(q);
        const xv = v128.load(x + r * rowBytes + offset);
        const d = dzo + r * dzRowBytes;
        a0 = madd(v128.load32_splat(d), xv, a0);
        a1 = madd(v128.load32_splat(d, 4), xv, a1);
        a2 = madd(v128.load32_splat(d, 8), xv, a2);
        a3 = madd(v128.load32_splat(d, 12), xv, a3);
        a4 = madd(v128.load32_splat(d, 16), xv, a4);
        a5 = madd(v128.load32_splat(d, 20), xv, a5);
        a6 = madd(v128.load32_splat(d, 24), xv, a6);
        a7 = madd(v128.load32_splat(d, 28), xv, a7);
      }
      let out = dw0 + offset;
      v128.store(out, a0); out += rowBytes;
      v128.store(out, a1); out += rowBytes;
      v128.store(out, a2); out += rowBytes;
      v128.store(out, a3); out += rowBytes;
      v128.store(out, a4); out += rowBytes;
      v128.store(out, a5); out += rowBytes;
      v128.store(out, a6); out += rowBytes;
      v128.store(out, a7);
    }
  }
  for (; o < n1; o++) {
    const dzo = dz + (<usize>o << 2);
    const dwo = dw + <usize>o * rowBytes;
    for (let b = 0; b < blocks; b++) {
      const offset = <usize>b << 4;
      let a = f32x4.splat(0);
      const end = load<i32>(blockStart + (<usize>(b + 1) << 2));
      for (let q = load<i32>(blockStart + (<usize>b << 2)); q < end; q++) {
        const r = <usize>load<i32>(blockRows + (<usize>q << 2));
        a = madd(v128.load32_splat(dzo + r * dzRowBytes), v128.load(x + r * rowBytes + offset), a);
      }
      v128.store(dwo + offset, a);
    }
  }
}
