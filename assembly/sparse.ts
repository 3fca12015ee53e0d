// Kernels for a layer whose input is mostly zeros (the first layer of an MNIST network: about 19% of
// the pixels are nonzero). The layer keeps its weights transposed, W is [k, n] ([in, out]), so each
// nonzero input X[r, j] contributes a contiguous row of W: C[r, :] += X[r, j] · W[j, :], and the
// weight gradient likewise gathers contiguous rows of dZ: dW[j, :] += X[r, j] · dZ[r, :]. Only the
// nonzero values are ever touched, one by one.
//
// The index of X [rows, k] (row-major, pointers are byte offsets) lists its nonzero values twice:
//   by row (built by indexNonzeros):    rowStart [rows + 1], then per entry rowCols (the column j,
//                                       ascending within a row) and rowValues (X[r, j]);
//   by column (built by indexColumns):  colStart [k + 1], then per entry colRows (the row r, ascending
//                                       within a column) and colValues (X[r, j]).
// Each entry array holds up to rows·k entries.
//
// The products compute output columns [n0, n1) only, so a caller can split them across threads. Each
// output element has its own accumulator lane and sums its terms in index order, so the result does not
// depend on the split as long as n0 is a multiple of GROUP (the tail paths only run past the last group).
import { madd } from './simd';

/**
 * Output columns per register block: 4 accumulators of 4 lanes, two nonzeros per loop turn. Measured
 * on 784-800 with MNIST batches, this ran 1.5× faster than 8 accumulators (32 columns), which V8 does
 * not keep in registers together with the loop's other values.
 */
const GROUP: i32 = 16;



/**
 * Lists the nonzero values of X [rows, k] by row (see above) and returns how many there are. −0 counts
 * as zero (it adds nothing); NaN counts as nonzero, so it still reaches the output.
 */
export function indexNonzeros(x: usize, rows: i32, k: i32, rowStart: usize, rowCols: usize, rowValues: usize): i32 {
  const zero = f32x4.splat(0);
  let count = 0;
  for (let r = 0; r < rows; r++) {
    store<i32>(rowStart + (<usize>r << 2), count);
    const row = x + <usize>r * (<usize>k << 2);
    let j = 0;
    // four at a time: MNIST rows are mostly runs of zeros, skipped one vector compare per 4 pixels
    for (; j + 4 <= k; j += 4) {
      const v = v128.load(row + (<usize>j << 2));
      if (!v128.any_true(f32x4.ne(v, zero))) continue;
      for (let l = 0; l < 4; l++) {
        const value = load<f32>(row + (<usize>(j + l) << 2));
        if (value != 0) {
          store<i32>(rowCols + (<usize>count << 2), j + l);
          store<f32>(rowValues + (<usize>count << 2), value);
          count++;
        }
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
  store<i32>(rowStart + (<usize>rows << 2), count);
  return count;
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
 * product X · W with W [k, n] and C [rows, n] (overwritten). A block of 32 outputs takes all rows before
 * the next block, so its slice of W (k · 128 bytes) stays in cache while the rows stream past.
 */
export function sparseGemmNN(
  rows: i32, n: i32, rowStart: usize, rowCols: usize, rowValues: usize, w: usize, c: usize, n0: i32, n1: i32,
): void {
  const rowBytes = <usize>n << 2;
  let o = n0;
  for (; o + GROUP <= n1; o += GROUP) {
    const wo = w + (<usize>o << 2);
    for (let r = 0; r < rows; r++) {
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
      let q = <usize>load<i32>(rowStart + (<usize>r << 2)) << 2;
      const end = <usize>load<i32>(rowStart + (<usize>(r + 1) << 2)) << 2;
      // two nonzeros per turn, each accumulator still summing them in index order
      for (; q + 4 < end; q += 8) {
        const v = v128.load32_splat(rowValues + q);
        const wp = wo + <usize>load<i32>(rowCols + q) * rowBytes;
        const u = v128.load32_splat(rowValues + q, 4);
        const wq = wo + <usize>load<i32>(rowCols + q, 4) * rowBytes;
        a0 = madd(u, v128.load(wq), madd(v, v128.load(wp), a0));
        a1 = madd(u, v128.load(wq, 16), madd(v, v128.load(wp, 16), a1));
        a2 = madd(u, v128.load(wq, 32), madd(v, v128.load(wp, 32), a2));
        a3 = madd(u, v128.load(wq, 48), madd(v, v128.load(wp, 48), a3));
      }
      if (q < end) {
        const v = v128.load32_splat(rowValues + q);
        const wp = wo + <usize>load<i32>(rowCols + q) * rowBytes;
        a0 = madd(v, v128.load(wp), a0);
        a1 = madd(v, v128.load(wp, 16), a1);
        a2 = madd(v, v128.load(wp, 32), a2);
        a3 = madd(v, v128.load(wp, 48), a3);
      }
      const out = c + <usize>r * rowBytes + (<usize>o << 2);
      v128.store(out, a0);
      v128.store(out, a1, 16);
      v128.store(out, a2, 32);
      v128.store(out, a3, 48);
    }
  }
  // the last columns: four, then one at a time
  for (; o < n1; o += 4) {
    const wo = w + (<usize>o << 2);
    const wide = o + 4 <= n1;
    for (let r = 0; r < rows; r++) {
      const first = <usize>load<i32>(rowStart + (<usize>r << 2)) << 2;
      const end = <usize>load<i32>(rowStart + (<usize>(r + 1) << 2)) << 2;
      const out = c + <usize>r * rowBytes + (<usize>o << 2);
      if (wide) {
        let a = f32x4.splat(0);
        for (let q = first; q < end; q += 4) {
          a = madd(v128.load32_splat(rowValues + q), v128.load(wo + <usize>load<i32>(rowCols + q) * rowBytes), a);
        }
        v128.store(out, a);
      } else {
        for (let t = 0; o + t < n1; t++) {
          let a: f32 = 0;
          const wt = wo + (<usize>t << 2);
          for (let q = first; q < end; q += 4) {
            a += load<f32>(rowValues + q) * load<f32>(wt + <usize>load<i32>(rowCols + q) * rowBytes);
          }
          store<f32>(out + (<usize>t << 2), a);
        }
      }
    }
  }
}

/**
 * dW[j, o] = Σ_r X[r, j] · dZ[r, o] over the nonzero X[r, j] (by column), for o in [n0, n1): the weight
 * gradient Xᵀ · dZ with dZ [rows, n] and dW [k, n] (overwritten; rows of W whose input is zero in every
 * row get zeros). A block of 16 outputs takes every column before the next block, so its slice of dZ
 * (rows · 64 bytes) stays in L1.
 */
export function sparseGemmTN(
  k: i32, n: i32, colStart: usize, colRows: usize, colValues: usize, dz: usize, dw: usize, n0: i32, n1: i32,
): void {
  const rowBytes = <usize>n << 2;
  let o = n0;
  for (; o + GROUP <= n1; o += GROUP) {
    const dzo = dz + (<usize>o << 2);
    for (let j = 0; j < k; j++) {
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
      let q = <usize>load<i32>(colStart + (<usize>j << 2)) << 2;
      const end = <usize>load<i32>(colStart + (<usize>(j + 1) << 2)) << 2;
      for (; q + 4 < end; q += 8) {
        const v = v128.load32_splat(colValues + q);
        const dp = dzo + <usize>load<i32>(colRows + q) * rowBytes;
        const u = v128.load32_splat(colValues + q, 4);
        const dq = dzo + <usize>load<i32>(colRows + q, 4) * rowBytes;
        a0 = madd(u, v128.load(dq), madd(v, v128.load(dp), a0));
        a1 = madd(u, v128.load(dq, 16), madd(v, v128.load(dp, 16), a1));
        a2 = madd(u, v128.load(dq, 32), madd(v, v128.load(dp, 32), a2));
        a3 = madd(u, v128.load(dq, 48), madd(v, v128.load(dp, 48), a3));
      }
      if (q < end) {
        const v = v128.load32_splat(colValues + q);
        const dp = dzo + <usize>load<i32>(colRows + q) * rowBytes;
        a0 = madd(v, v128.load(dp), a0);
        a1 = madd(v, v128.load(dp, 16), a1);
        a2 = madd(v, v128.load(dp, 32), a2);
        a3 = madd(v, v128.load(dp, 48), a3);
      }
      const out = dw + <usize>j * rowBytes + (<usize>o << 2);
      v128.store(out, a0);
      v128.store(out, a1, 16);
      v128.store(out, a2, 32);
      v128.store(out, a3, 48);
    }
  }
  for (; o < n1; o += 4) {
    const dzo = dz + (<usize>o << 2);
    const wide = o + 4 <= n1;
    for (let j = 0; j < k; j++) {
      const first = <usize>load<i32>(colStart + (<usize>j << 2)) << 2;
      const end = <usize>load<i32>(colStart + (<usize>(j + 1) << 2)) << 2;
      const out = dw + <usize>j * rowBytes + (<usize>o << 2);
      if (wide) {
        let a = f32x4.splat(0);
        for (let q = first; q < end; q += 4) {
          a = madd(v128.load32_splat(colValues + q), v128.load(dzo + <usize>load<i32>(colRows + q) * rowBytes), a);
        }
        v128.store(out, a);
      } else {
        for (let t = 0; o + t < n1; t++) {
          let a: f32 = 0;
          const dt = dzo + (<usize>t << 2);
          for (let q = first; q < end; q += 4) {
            a += load<f32>(colValues + q) * load<f32>(dt + <usize>load<i32>(colRows + q) * rowBytes);
          }
          store<f32>(out + (<usize>t << 2), a);
        }
      }
    }
  }
}
