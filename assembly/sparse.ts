// Kernels for a layer whose input is mostly zeros (the first layer of an MNIST network: about 19% of
// the pixels are nonzero). Each nonzero input X[r, j] meets row j of the layer's weights W [k, n]
// ([in, out]): C[r, :] += X[r, j] · W[j, :], and the weight gradient likewise gathers rows of dZ:
// dW[j, :] += X[r, j] · dZ[r, :]. Only the nonzero values are ever touched, one by one.
//
// W and dW are kept in column panels: the columns go in panels of PANEL (28; the last panel holds
// what is left), and panel p, columns [28p, 28p + width), is stored row after row as a dense
// [k, width] block starting at element 28p · k. So the 28 weights one nonzero input meets in a panel
// are 112 contiguous bytes, and a panel's weights (k · 112 bytes) are one contiguous block: measured
// on MNIST batches, the forward product ran ~17% faster than with W row-major, whose rows are 3,200
// bytes apart (nearly a page of memory per row). toPanels/fromPanels convert.
//
// The index of X [rows, k] (row-major, pointers are byte offsets) lists its nonzero values twice:
//   by row (built by indexNonzeros):    rowStart [rows + 1], then per entry rowCols (the column j,
//                                       ascending within a row) and rowValues (X[r, j]);
//   by column (built by indexColumns):  colStart [k + 1], then per entry colRows (the row r, ascending
//                                       within a column) and colValues (X[r, j]).
// Each entry array holds up to rows·k entries.
//
// Both products are one operation, a gathered product: out[i, o] = Σ_q values[q] · M[at[q], o] over list
// i's entries q. The forward product gathers rows of W by the row listing into C [rows, n] (row-major);
// the weight gradient gathers rows of dZ [rows, n] (row-major) by the column listing into dW.
// It computes output columns [n0, n1) only, so a caller can split them across threads. Every output
// element has its own accumulator lane and adds its terms one by one in index order with the same
// multiply-add, whatever block it falls in, so the result does not depend on the split as long as the
// split points are multiples of 4 (only the last n mod 4 columns take the scalar path).
import { madd } from './simd';

/** Columns per panel of W and dW (PANEL in src/core/panels.ts). */
const PANEL: i32 = 28;

/**
 * Lists the nonzero values of X [rows, k] by row (see above) and returns how many there are. −0 counts
 * as zero (it adds nothing); NaN counts as nonzero, so it still reaches the output.
 */
export function indexNonzeros(x: usize, rows: i32, k: i32, rowStart: usize, rowCols: usize, rowValues: usize): i32 {
  const count = listRows(x, 0, rows, k, rowStart, rowCols, rowValues, 0);
  store<i32>(rowStart + (<usize>rows << 2), count);
  return count;
}

/**
 * indexNonzeros of rows [r0, r1) only, their entries written from entry `base` on (rowStart[r] for
 * r0 ≤ r < r1 counts from 0 as ever, so it is base plus the entries before row r); the end, base plus
 * the entries listed, is stored at `end`. Threads list their own rows this way, each from base r0·k,
 * and the binding then moves the parts together.
 */
export function indexNonzeroRows(x: usize, r0: i32, r1: i32, k: i32, rowStart: usize, rowCols: usize, rowValues: usize, base: i32, end: usize): void {
  store<i32>(end, listRows(x, r0, r1, k, rowStart, rowCols, rowValues, base));
}

/**
 * The listing of rows [r0, r1) from entry `count` on; returns the entry after the last. Sixteen values
 * are tested per step (four compares, one 16-bit mask), and only the mask's set bits are visited:
 * MNIST rows and gradients after a max pool are mostly runs of zeros.
 */
// @ts-ignore: decorator
@inline function listRows(x: usize, r0: i32, r1: i32, k: i32, rowStart: usize, rowCols: usize, rowValues: usize, count: i32): i32 {
  const zero = f32x4.splat(0);
  for (let r = r0; r < r1; r++) {
    store<i32>(rowStart + (<usize>r << 2), count);
    const row = x + <usize>r * (<usize>k << 2);
    let j = 0;
    for (; j + 16 <= k; j += 16) {
      const at = row + (<usize>j << 2);
      let mask = i32x4.bitmask(f32x4.ne(v128.load(at), zero)) | (i32x4.bitmask(f32x4.ne(v128.load(at, 16), zero)) << 4) |
        (i32x4.bitmask(f32x4.ne(v128.load(at, 32), zero)) << 8) | (i32x4.bitmask(f32x4.ne(v128.load(at, 48), zero)) << 12);
      while (mask != 0) {
        const l = ctz(mask);
        store<i32>(rowCols + (<usize>count << 2), j + l);
        store<f32>(rowValues + (<usize>count << 2), load<f32>(at + (<usize>l << 2)));
        count++;
        mask &= mask - 1;
      }
    }
    for (; j < k; j++) {
      const value = load<f32>(row + (<usize>j << 2));
      if (value != 0) {
        store<i32>(rowCols + (<usize>count << 2), j);
        store<f32>(rowValues + (<usize>count << 2), value);
        count++;
      }
    }
  }
  return count;
}

/**
 * indexNonzeros for pixels stored as bytes: lists X = P · scale, for P [rows, k] uint8, by row and
 * returns how many values are nonzero. Each value is the float nearest to P[r, j] · scale computed in
 * double precision, which is what a Float32Array holds after `x[i] = p[i] * scale` in JavaScript, so
 * the listing equals indexNonzeros of the scaled floats. Sixteen pixels are tested per compare; only
 * the set bits of the mask are visited. `scale` must be positive.
 */
export function indexPixels(
  pixels: usize, rows: i32, k: i32, scale: f64, rowStart: usize, rowCols: usize, rowValues: usize,
): i32 {
  const zero = i8x16.splat(0);
  let count = 0;
  for (let r = 0; r < rows; r++) {
    store<i32>(rowStart + (<usize>r << 2), count);
    const row = pixels + <usize>r * <usize>k;
    let j = 0;
    for (; j + 16 <= k; j += 16) {
      let mask = i8x16.bitmask(i8x16.ne(v128.load(row + <usize>j), zero));
      while (mask != 0) {
        const column = j + ctz(mask);
        store<i32>(rowCols + (<usize>count << 2), column);
        store<f32>(rowValues + (<usize>count << 2), <f32>(<f64>load<u8>(row + <usize>column) * scale));
        count++;
        mask &= mask - 1;
      }
    }
    for (; j < k; j++) {
      const pixel = load<u8>(row + <usize>j);
      if (pixel != 0) {
        store<i32>(rowCols + (<usize>count << 2), j);
        store<f32>(rowValues + (<usize>count << 2), <f32>(<f64>pixel * scale));
        count++;
      }
    }
  }
  store<i32>(rowStart + (<usize>rows << 2), count);
  return count;
}

/** out[i] = pixels[i] · scale for `length` bytes, rounded as indexPixels rounds them. */
export function scalePixels(pixels: usize, length: i32, scale: f64, out: usize): void {
  for (let i = 0; i < length; i++) {
    store<f32>(out + (<usize>i << 2), <f32>(<f64>load<u8>(pixels + <usize>i) * scale));
  }
}

/**
 * Lists the same nonzero values by column (see above) from the row listing of `rows` rows: a counting
 * sort by column, placing rows from the last down so each column's rows end up ascending.
 */
export function indexColumns(
  rows: i32, k: i32, rowStart: usize, rowCols: usize, rowValues: usize, colStart: usize, colRows: usize, colValues: usize,
): void {
  for (let j = 0; j <= k; j++) store<i32>(colStart + (<usize>j << 2), 0);
  const count = load<i32>(rowStart + (<usize>rows << 2));
  for (let q = 0; q < count; q++) {
    const counter = colStart + (<usize>load<i32>(rowCols + (<usize>q << 2)) << 2);
    store<i32>(counter, load<i32>(counter) + 1);
  }
  // counts → running ends
  let sum = 0;
  for (let j = 0; j < k; j++) {
    sum += load<i32>(colStart + (<usize>j << 2));
    store<i32>(colStart + (<usize>j << 2), sum);
  }
  for (let r = rows - 1; r >= 0; r--) {
    const first = load<i32>(rowStart + (<usize>r << 2));
    for (let q = load<i32>(rowStart + (<usize>(r + 1) << 2)) - 1; q >= first; q--) {
      const counter = colStart + (<usize>load<i32>(rowCols + (<usize>q << 2)) << 2);
      const slot = load<i32>(counter) - 1;
      store<i32>(counter, slot);
      store<i32>(colRows + (<usize>slot << 2), r);
      store<f32>(colValues + (<usize>slot << 2), load<f32>(rowValues + (<usize>q << 2)));
    }
  }
  store<i32>(colStart + (<usize>k << 2), count);
}

/**
 * C[r, o] = Σ_j X[r, j] · W[j, o] over the nonzero X[r, j] (by row), for o in [n0, n1): the forward
 * product X · W with W [k, n] in column panels and C [rows, n] (overwritten).
 */
export function sparseGemmNN(
  rows: i32, n: i32, k: i32, rowStart: usize, rowCols: usize, rowValues: usize, w: usize, c: usize, n0: i32, n1: i32,
): void {
  gather(rows, n, rowStart, rowCols, rowValues, w, k, PANEL, c, rows, n, n0, n1);
}

/**
 * dW[j, o] = Σ_r X[r, j] · dZ[r, o] over the nonzero X[r, j] (by column), for o in [n0, n1): the weight
 * gradient Xᵀ · dZ with dZ [rows, n] and dW [k, n] in column panels (overwritten; rows of W whose input
 * is zero in every row get zeros).
 */
export function sparseGemmTN(
  k: i32, n: i32, rows: i32, colStart: usize, colRows: usize, colValues: usize, dz: usize, dw: usize, n0: i32, n1: i32,
): void {
  gather(k, n, colStart, colRows, colValues, dz, rows, n, dw, k, PANEL, n0, n1);
}

/**
 * The gathered product for lists [0, lists) and columns [n0, n1), where M ([mRows, n]) and out
 * ([lists, n]) are each in column panels of the given width (n: row-major). The columns are cut where
 * either matrix changes panel, and each piece runs as one `segment`.
 */
function gather(
  lists: i32, n: i32, start: usize, at: usize, values: usize,
  m: usize, mRows: i32, mPanel: i32, out: usize, outRows: i32, outPanel: i32, n0: i32, n1: i32,
): void {
  let o = n0;
  while (o < n1) {
    const mFirst = o - o % mPanel;
    const mWidth = min(mPanel, n - mFirst);
    const outFirst = o - o % outPanel;
    const outWidth = min(outPanel, n - outFirst);
    const end = min(n1, min(mFirst + mWidth, outFirst + outWidth));
    segment(
      lists, start, at, values,
      m + ((<usize>mFirst * <usize>mRows + <usize>(o - mFirst)) << 2), <usize>mWidth << 2,
      out + ((<usize>outFirst * <usize>outRows + <usize>(o - outFirst)) << 2), <usize>outWidth << 2,
      end - o,
    );
    o = end;
  }
}

/**
 * `width` columns of the gathered product: out[i, c] = Σ_q values[q] · M[at[q], c] for c < width, where
 * row j of M starts at m + j · mStride and row i of out at out + i · outStride (bytes). Columns go in
 * blocks of 28, then 16, 8 and 4, then one by one; a block takes every list before the next block, so
 * its slice of M stays in cache while the lists stream past.
 *
 * Why 28: each accumulator is a chain of dependent multiply-adds (4 cycles apiece), so throughput grows
 * with the number of independent accumulators. Seven accumulators, one broadcast value and seven loaded
 * vectors are 15 registers, which V8 keeps without spilling; with eight accumulators it spills and runs
 * at two thirds of the speed. Measured on 784-800 with MNIST batches, 28 columns ran ~15% faster than
 * blocks of 16 with two entries per turn.
 */
function segment(
  lists: i32, start: usize, at: usize, values: usize, m: usize, mStride: usize, out: usize, outStride: usize, width: i32,
): void {
  let o = 0;
  for (; o + 28 <= width; o += 28) {
    const mo = m + (<usize>o << 2);
    for (let i = 0; i < lists; i++) {
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
      let a4 = f32x4.splat(0), a5 = f32x4.splat(0), a6 = f32x4.splat(0);
      const end = <usize>load<i32>(start + (<usize>(i + 1) << 2)) << 2;
      for (let q = <usize>load<i32>(start + (<usize>i << 2)) << 2; q < end; q += 4) {
        const v = v128.load32_splat(values + q);
        const p = mo + <usize>load<i32>(at + q) * mStride;
        a0 = madd(v, v128.load(p), a0);
        a1 = madd(v, v128.load(p, 16), a1);
        a2 = madd(v, v128.load(p, 32), a2);
        a3 = madd(v, v128.load(p, 48), a3);
        a4 = madd(v, v128.load(p, 64), a4);
        a5 = madd(v, v128.load(p, 80), a5);
        a6 = madd(v, v128.load(p, 96), a6);
      }
      const dst = out + <usize>i * outStride + (<usize>o << 2);
      v128.store(dst, a0);
      v128.store(dst, a1, 16);
      v128.store(dst, a2, 32);
      v128.store(dst, a3, 48);
      v128.store(dst, a4, 64);
      v128.store(dst, a5, 80);
      v128.store(dst, a6, 96);
    }
  }
  if (o + 16 <= width) {
    // two entries per turn, each accumulator still adding them in index order
    const mo = m + (<usize>o << 2);
    for (let i = 0; i < lists; i++) {
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
      let q = <usize>load<i32>(start + (<usize>i << 2)) << 2;
      const end = <usize>load<i32>(start + (<usize>(i + 1) << 2)) << 2;
      for (; q + 4 < end; q += 8) {
        const v = v128.load32_splat(values + q);
        const p = mo + <usize>load<i32>(at + q) * mStride;
        const u = v128.load32_splat(values + q, 4);
        const s = mo + <usize>load<i32>(at + q, 4) * mStride;
        a0 = madd(u, v128.load(s), madd(v, v128.load(p), a0));
        a1 = madd(u, v128.load(s, 16), madd(v, v128.load(p, 16), a1));
        a2 = madd(u, v128.load(s, 32), madd(v, v128.load(p, 32), a2));
        a3 = madd(u, v128.load(s, 48), madd(v, v128.load(p, 48), a3));
      }
      if (q < end) {
        const v = v128.load32_splat(values + q);
        const p = mo + <usize>load<i32>(at + q) * mStride;
        a0 = madd(v, v128.load(p), a0);
        a1 = madd(v, v128.load(p, 16), a1);
        a2 = madd(v, v128.load(p, 32), a2);
        a3 = madd(v, v128.load(p, 48), a3);
      }
      const dst = out + <usize>i * outStride + (<usize>o << 2);
      v128.store(dst, a0);
      v128.store(dst, a1, 16);
      v128.store(dst, a2, 32);
      v128.store(dst, a3, 48);
    }
    o += 16;
  }
  if (o + 8 <= width) {
    const mo = m + (<usize>o << 2);
    for (let i = 0; i < lists; i++) {
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0);
      let q = <usize>load<i32>(start + (<usize>i << 2)) << 2;
      const end = <usize>load<i32>(start + (<usize>(i + 1) << 2)) << 2;
      for (; q + 4 < end; q += 8) {
        const v = v128.load32_splat(values + q);
        const p = mo + <usize>load<i32>(at + q) * mStride;
        const u = v128.load32_splat(values + q, 4);
        const s = mo + <usize>load<i32>(at + q, 4) * mStride;
        a0 = madd(u, v128.load(s), madd(v, v128.load(p), a0));
        a1 = madd(u, v128.load(s, 16), madd(v, v128.load(p, 16), a1));
      }
      if (q < end) {
        const v = v128.load32_splat(values + q);
        const p = mo + <usize>load<i32>(at + q) * mStride;
        a0 = madd(v, v128.load(p), a0);
        a1 = madd(v, v128.load(p, 16), a1);
      }
      const dst = out + <usize>i * outStride + (<usize>o << 2);
      v128.store(dst, a0);
      v128.store(dst, a1, 16);
    }
    o += 8;
  }
  for (; o + 4 <= width; o += 4) {
    const mo = m + (<usize>o << 2);
    for (let i = 0; i < lists; i++) {
      let a = f32x4.splat(0);
      const end = <usize>load<i32>(start + (<usize>(i + 1) << 2)) << 2;
      for (let q = <usize>load<i32>(start + (<usize>i << 2)) << 2; q < end; q += 4) {
        a = madd(v128.load32_splat(values + q), v128.load(mo + <usize>load<i32>(at + q) * mStride), a);
      }
      v128.store(out + <usize>i * outStride + (<usize>o << 2), a);
    }
  }
  for (; o < width; o++) {
    const mo = m + (<usize>o << 2);
    for (let i = 0; i < lists; i++) {
      let a: f32 = 0;
      const end = <usize>load<i32>(start + (<usize>(i + 1) << 2)) << 2;
      for (let q = <usize>load<i32>(start + (<usize>i << 2)) << 2; q < end; q += 4) {
        a += load<f32>(values + q) * load<f32>(mo + <usize>load<i32>(at + q) * mStride);
      }
      store<f32>(out + <usize>i * outStride + (<usize>o << 2), a);
    }
  }
}

/**
 * dst = src in column panels (see above): src [rows, n] row-major, dst [rows, n] in panels of PANEL.
 */
export function toPanels(src: usize, rows: i32, n: i32, dst: usize): void {
  for (let first = 0; first < n; first += PANEL) {
    const width = min(PANEL, n - first);
    const panel = dst + ((<usize>first * <usize>rows) << 2);
    for (let i = 0; i < rows; i++) {
      copyFloats(src + ((<usize>i * <usize>n + <usize>first) << 2), panel + ((<usize>i * <usize>width) << 2), width);
    }
  }
}

/** dst = src row-major: src [rows, n] in column panels of PANEL, dst [rows, n] row-major. */
export function fromPanels(src: usize, rows: i32, n: i32, dst: usize): void {
  for (let first = 0; first < n; first += PANEL) {
    const width = min(PANEL, n - first);
    const panel = src + ((<usize>first * <usize>rows) << 2);
    for (let i = 0; i < rows; i++) {
      copyFloats(panel + ((<usize>i * <usize>width) << 2), dst + ((<usize>i * <usize>n + <usize>first) << 2), width);
    }
  }
}

// @ts-ignore: decorator
@inline function copyFloats(from: usize, to: usize, count: i32): void {
  let c = 0;
  for (; c + 4 <= count; c += 4) v128.store(to + (<usize>c << 2), v128.load(from + (<usize>c << 2)));
  for (; c < count; c++) store<f32>(to + (<usize>c << 2), load<f32>(from + (<usize>c << 2)));
}
