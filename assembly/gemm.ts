// General matrix multiply C = alpha · op(A) · op(B) + beta · C, row-major, in the three forms the
// network needs (NN, NT, TN; TT works too). See src/core/kernels.ts for the contract.
//
// Shapes: op(A) is [m, k] (A is [m, k], or [k, m] when transA); op(B) is [k, n] (B is [k, n], or
// [n, k] when transB); C is [m, n]. Pointers are byte offsets into the imported memory. Each matrix
// has a leading dimension (lda, ldb, ldc: elements from one stored row to the next, at least its
// stored width), so a caller can multiply blocks of larger matrices, e.g. split C by columns or rows
// across threads.
//
// Method (the classic packed GEMM, sized for V8's 16 SIMD registers):
// 1. op(A) is packed once into row blocks of 4: packedA[i/4][p][i%4] = op(A)[i, p], so the micro-kernel
//    reads the four A values of step p from 16 contiguous bytes whatever the form of A.
// 2. For each block of 8 columns, op(B) is packed into a panel panel[p][j%8] = op(B)[p, j] (k · 32 bytes,
//    which stays in L1 while every row block of A streams past it). Transposed operands are packed with
//    4×4 in-register transposes, so NT and TN run the same inner loop as NN.
// 3. The micro-kernel keeps a 4×8 tile of C in 8 f32x4 accumulators; each step p broadcasts 4 A values
//    and loads 2 B vectors: 14 of the 16 registers, no spills. (Wider tiles spill and run at half speed;
//    V8 already unrolls the k loop, so it is not unrolled by hand.)
//    multiplyPanel runs it over one panel against every row block of packed A; the convolutions
//    (assembly/spatial.ts) call it on panels they unfold from their input themselves.
// 4. Outputs narrower than 16 columns or shorter than 4 rows would waste most of a 4×8 tile: they are
//    computed as dot products along k instead (gemmDot), after transposing operands that do not run
//    along k.
// Rows and columns beyond m and n are zero-padded in the packed copies; their results are not stored.
import { madd } from './simd';

const TILE_ROWS: i32 = 4;
const TILE_COLS: i32 = 8;
/** Products narrower than this run as dot products (gemmDot): 8-column panels would waste lanes. */
const DOT_MAX_COLUMNS: i32 = 16;

/** Whether C is computed as dot products (gemmDot) rather than by the packed, tiled kernel. */
// @ts-ignore: decorator
@inline function useDotProducts(m: i32, n: i32): bool {
  return n < DOT_MAX_COLUMNS || m < TILE_ROWS;
}

/**
 * Bytes of scratch memory `gemm` needs for these sizes: packed A, one B panel and a spare tile for the
 * tiled kernel; room for op(A) and op(B)ᵀ, transposed to rows along k, for the dot-product kernel.
 */
export function gemmScratchBytes(transA: bool, transB: bool, m: i32, n: i32, k: i32): usize {
  if (useDotProducts(m, n)) return (<usize>((transA ? m : 0) + (transB ? 0 : n)) * <usize>k) << 2;
  const rowsPadded = <usize>((m + TILE_ROWS - 1) & ~(TILE_ROWS - 1));
  return (rowsPadded * <usize>k + <usize>(TILE_COLS * k) + <usize>(TILE_ROWS * TILE_COLS)) << 2;
}

/**
 * dst[c, r] = src[r, c]: src is [rows, cols] with leading dimension ld, dst is [cols, rows] (dense);
 * 4×4 blocks go through registers.
 */
function transpose(src: usize, rows: i32, cols: i32, ld: i32, dst: usize): void {
  const srcRow = <usize>ld << 2;
  const dstRow = <usize>rows << 2;
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const s = src + <usize>r * srcRow;
    let c = 0;
    for (; c + 4 <= cols; c += 4) {
      const block = s + (<usize>c << 2);
      transposeStore4x4(
        v128.load(block), v128.load(block + srcRow), v128.load(block + 2 * srcRow), v128.load(block + 3 * srcRow),
        dst + <usize>c * dstRow + (<usize>r << 2), dstRow,
      );
    }
    for (; c < cols; c++) {
      for (let q = 0; q < 4; q++) {
        store<f32>(dst + <usize>c * dstRow + (<usize>(r + q) << 2), load<f32>(s + <usize>q * srcRow + (<usize>c << 2)));
      }
    }
  }
  for (; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      store<f32>(dst + <usize>c * dstRow + (<usize>r << 2), load<f32>(src + <usize>r * srcRow + (<usize>c << 2)));
    }
  }
}

/** Transposes the 4×4 block of rows r0..r3 and stores its columns at dst, dst+stride, dst+2·stride, dst+3·stride. */
// @ts-ignore: decorator
@inline function transposeStore4x4(r0: v128, r1: v128, r2: v128, r3: v128, dst: usize, stride: usize): void {
  // t0 = [r0₀ r1₀ r0₁ r1₁], t1 = [r0₂ r1₂ r0₃ r1₃], likewise t2, t3 from r2, r3;
  // then column q gathers the matching halves: c0 = [r0₀ r1₀ r2₀ r3₀], …
  const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
  const t1 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
  const t2 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
  const t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
  v128.store(dst, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
  v128.store(dst + stride, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7));
  v128.store(dst + 2 * stride, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5));
  v128.store(dst + 3 * stride, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7));
}

/**
 * packed[i/4][p][i%4] = op(A)[i, p] for i < m (rows up to the next multiple of 4 are zero).
 * A is [m, k] (rows contiguous along p) or, when transA, [k, m] (4 consecutive i contiguous).
 */
export function packA(transA: bool, m: i32, k: i32, a: usize, lda: i32, packed: usize): void {
  const kk = <usize>k;
  for (let i0 = 0; i0 < m; i0 += TILE_ROWS) {
    const dst = packed + ((<usize>i0 * kk) << 2);
    const full = i0 + TILE_ROWS <= m;
    if (full && transA) {
      // op(A)[i0..i0+3, p] = A[p, i0..i0+3]: one vector per step
      const rowBytes = <usize>lda << 2;
      let src = a + (<usize>i0 << 2);
      for (let p = 0; p < k; p++) {
        v128.store(dst + (<usize>p << 4), v128.load(src));
        src += rowBytes;
      }
    } else if (full) {
      // rows i0..i0+3 of A, 4 steps at a time through a 4×4 transpose
      const rowBytes = <usize>lda << 2;
      const src = a + <usize>i0 * rowBytes;
      let p = 0;
      for (; p + 4 <= k; p += 4) {
        const s = src + (<usize>p << 2);
        transposeStore4x4(
          v128.load(s), v128.load(s + rowBytes), v128.load(s + 2 * rowBytes), v128.load(s + 3 * rowBytes),
          dst + (<usize>p << 4), 16,
        );
      }
      for (; p < k; p++) {
        for (let r = 0; r < TILE_ROWS; r++) {
          store<f32>(dst + (<usize>(p * TILE_ROWS + r) << 2), load<f32>(src + <usize>r * rowBytes + (<usize>p << 2)));
        }
      }
    } else {
      // the last, partial row block: element by element, zero beyond m
      for (let p = 0; p < k; p++) {
        for (let r = 0; r < TILE_ROWS; r++) {
          const i = i0 + r;
          let value: f32 = 0;
          if (i < m) {
            value = transA
              ? load<f32>(a + ((<usize>p * <usize>lda + <usize>i) << 2))
              : load<f32>(a + ((<usize>i * <usize>lda + <usize>p) << 2));
          }
          store<f32>(dst + (<usize>(p * TILE_ROWS + r) << 2), value);
        }
      }
    }
  }
}

/**
 * panel[p][c] = op(B)[p, j0 + c] for c < 8 (columns at or beyond n are zero).
 * B is [k, n] (8 consecutive j contiguous) or, when transB, [n, k] (each column j contiguous along p).
 */
export function packPanel(transB: bool, n: i32, k: i32, b: usize, ldb: i32, j0: i32, panel: usize): void {
  const full = j0 + TILE_COLS <= n;
  if (full && !transB) {
    const rowBytes = <usize>ldb << 2;
    let src = b + (<usize>j0 << 2);
    for (let p = 0; p < k; p++) {
      const dst = panel + (<usize>p << 5);
      v128.store(dst, v128.load(src));
      v128.store(dst, v128.load(src, 16), 16);
      src += rowBytes;
    }
  } else if (full) {
    // columns j0..j0+7 are rows of B: transpose 4×4 blocks, two per group of 4 steps
    const rowBytes = <usize>ldb << 2;
    const src = b + <usize>j0 * rowBytes;
    let p = 0;
    for (; p + 4 <= k; p += 4) {
      const s = src + (<usize>p << 2);
      const dst = panel + (<usize>p << 5);
      transposeStore4x4(
        v128.load(s), v128.load(s + rowBytes), v128.load(s + 2 * rowBytes), v128.load(s + 3 * rowBytes),
        dst, 32,
      );
      const s4 = s + 4 * rowBytes;
      transposeStore4x4(
        v128.load(s4), v128.load(s4 + rowBytes), v128.load(s4 + 2 * rowBytes), v128.load(s4 + 3 * rowBytes),
        dst + 16, 32,
      );
    }
    for (; p < k; p++) {
      for (let c = 0; c < TILE_COLS; c++) {
        store<f32>(panel + (<usize>(p * TILE_COLS + c) << 2), load<f32>(src + <usize>c * rowBytes + (<usize>p << 2)));
      }
    }
  } else {
    for (let p = 0; p < k; p++) {
      for (let c = 0; c < TILE_COLS; c++) {
        const j = j0 + c;
        let value: f32 = 0;
        if (j < n) {
          value = transB
            ? load<f32>(b + ((<usize>j * <usize>ldb + <usize>p) << 2))
            : load<f32>(b + ((<usize>p * <usize>ldb + <usize>j) << 2));
        }
        store<f32>(panel + (<usize>(p * TILE_COLS + c) << 2), value);
      }
    }
  }
}

/** C[row, 0..7] = alpha·acc + beta·C (C ignored when beta is 0), for a row with all 8 columns present. */
// @ts-ignore: decorator
@inline function storeRow(dst: usize, acc0: v128, acc1: v128, alpha: v128, beta: f32): void {
  if (beta == 0) {
    v128.store(dst, f32x4.mul(acc0, alpha));
    v128.store(dst, f32x4.mul(acc1, alpha), 16);
  } else {
    const betaV = f32x4.splat(beta);
    v128.store(dst, f32x4.add(f32x4.mul(acc0, alpha), f32x4.mul(v128.load(dst), betaV)));
    v128.store(dst, f32x4.add(f32x4.mul(acc1, alpha), f32x4.mul(v128.load(dst, 16), betaV)), 16);
  }
}

/** Σ of the four lanes of v. */
// @ts-ignore: decorator
@inline function sumLanes(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/** C[i, j] = alpha·s + beta·C[i, j] (C ignored when beta is 0). */
// @ts-ignore: decorator
@inline function storeScalar(dst: usize, s: f32, alpha: f32, beta: f32): void {
  store<f32>(dst, beta == 0 ? alpha * s : alpha * s + beta * load<f32>(dst));
}

/**
 * C = alpha · A · Bᵀ + beta · C as dot products, for outputs too narrow (n < 16) or too short (m < 4)
 * for 4×8 tiles: C[i, j] = alpha · A[i, :] · B[j, :] + beta · C[i, j], A [m, k] and B [n, k] both
 * contiguous along k (other forms are first transposed into that shape).
 * A 4×2 tile of C keeps 8 accumulators, each the 4 partial sums of a dot product along k; per 4 steps
 * of k it loads 4 A vectors and 2 B vectors (14 registers, the same balance as the packed kernel), and
 * it reduces the lanes once at the end. Odd columns and leftover rows take single dot products.
 */
export function gemmDot(
  m: i32, n: i32, k: i32, alpha: f32, a: usize, lda: i32, b: usize, ldb: i32, beta: f32, c: usize, ldc: i32,
): void {
  const rowBytesA = <usize>lda << 2;
  const rowBytesB = <usize>ldb << 2;
  const kBytes = <usize>k << 2;
  const vectorBytes = <usize>(k & ~3) << 2;
  const outRowBytes = <usize>ldc << 2;
  let i = 0;
  for (; i + 4 <= m; i += 4) {
    const a0 = a + <usize>i * rowBytesA;
    const a1 = a0 + rowBytesA;
    const a2 = a1 + rowBytesA;
    const a3 = a2 + rowBytesA;
    const out = c + <usize>i * outRowBytes;
    let j = 0;
    for (; j + 2 <= n; j += 2) {
      const b0 = b + <usize>j * rowBytesB;
      const b1 = b0 + rowBytesB;
      let s00 = f32x4.splat(0), s01 = f32x4.splat(0);
      let s10 = f32x4.splat(0), s11 = f32x4.splat(0);
      let s20 = f32x4.splat(0), s21 = f32x4.splat(0);
      let s30 = f32x4.splat(0), s31 = f32x4.splat(0);
      let p: usize = 0;
      for (; p < vectorBytes; p += 16) {
        const y0 = v128.load(b0 + p);
        const y1 = v128.load(b1 + p);
        let x = v128.load(a0 + p);
        s00 = madd(x, y0, s00);
        s01 = madd(x, y1, s01);
        x = v128.load(a1 + p);
        s10 = madd(x, y0, s10);
        s11 = madd(x, y1, s11);
        x = v128.load(a2 + p);
        s20 = madd(x, y0, s20);
        s21 = madd(x, y1, s21);
        x = v128.load(a3 + p);
        s30 = madd(x, y0, s30);
        s31 = madd(x, y1, s31);
      }
      let t00 = sumLanes(s00), t01 = sumLanes(s01), t10 = sumLanes(s10), t11 = sumLanes(s11);
      let t20 = sumLanes(s20), t21 = sumLanes(s21), t30 = sumLanes(s30), t31 = sumLanes(s31);
      for (; p < kBytes; p += 4) {
        const y0 = load<f32>(b0 + p);
        const y1 = load<f32>(b1 + p);
        const x0 = load<f32>(a0 + p), x1 = load<f32>(a1 + p), x2 = load<f32>(a2 + p), x3 = load<f32>(a3 + p);
        t00 += x0 * y0; t01 += x0 * y1;
        t10 += x1 * y0; t11 += x1 * y1;
        t20 += x2 * y0; t21 += x2 * y1;
        t30 += x3 * y0; t31 += x3 * y1;
      }
      const dst = out + (<usize>j << 2);
      storeScalar(dst, t00, alpha, beta);
      storeScalar(dst + 4, t01, alpha, beta);
      storeScalar(dst + outRowBytes, t10, alpha, beta);
      storeScalar(dst + outRowBytes + 4, t11, alpha, beta);
      storeScalar(dst + 2 * outRowBytes, t20, alpha, beta);
      storeScalar(dst + 2 * outRowBytes + 4, t21, alpha, beta);
      storeScalar(dst + 3 * outRowBytes, t30, alpha, beta);
      storeScalar(dst + 3 * outRowBytes + 4, t31, alpha, beta);
    }
    for (; j < n; j++) {
      for (let r = 0; r < 4; r++) {
        storeScalar(out + <usize>r * outRowBytes + (<usize>j << 2),
          dot(a0 + <usize>r * rowBytesA, b + <usize>j * rowBytesB, k), alpha, beta);
      }
    }
  }
  for (; i < m; i++) {
    const out = c + <usize>i * outRowBytes;
    for (let j = 0; j < n; j++) {
      storeScalar(out + (<usize>j << 2), dot(a + <usize>i * rowBytesA, b + <usize>j * rowBytesB, k), alpha, beta);
    }
  }
}

/** x · y over k floats, with four independent accumulators along k to hide the add latency. */
function dot(x: usize, y: usize, k: i32): f32 {
  const end = <usize>k << 2;
  const vectorEnd = <usize>(k & ~15) << 2;
  let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
  let p: usize = 0;
  for (; p < vectorEnd; p += 64) {
    s0 = madd(v128.load(x + p), v128.load(y + p), s0);
    s1 = madd(v128.load(x + p, 16), v128.load(y + p, 16), s1);
    s2 = madd(v128.load(x + p, 32), v128.load(y + p, 32), s2);
    s3 = madd(v128.load(x + p, 48), v128.load(y + p, 48), s3);
  }
  let sum = sumLanes(f32x4.add(f32x4.add(s0, s1), f32x4.add(s2, s3)));
  for (; p < end; p += 4) sum += load<f32>(x + p) * load<f32>(y + p);
  return sum;
}

/** See the top of this file. `scratch` must hold gemmScratchBytes(transA, transB, m, n, k) bytes. */
export function gemm(
  transA: bool, transB: bool, m: i32, n: i32, k: i32,
  alpha: f32, a: usize, lda: i32, b: usize, ldb: i32, beta: f32, c: usize, ldc: i32, scratch: usize,
): void {
  if (m <= 0 || n <= 0) return;
  if (k < 0) k = 0;
  if (useDotProducts(m, n)) {
    // rows of op(A) and columns of op(B) must run along k: transpose the operands that do not
    let rowsA = a;
    let ldRowsA = lda;
    let columnsB = b;
    let ldColumnsB = ldb;
    if (transA) {
      rowsA = scratch;
      ldRowsA = k;
      transpose(a, k, m, lda, rowsA);
    }
    if (!transB) {
      columnsB = scratch + (transA ? (<usize>m * <usize>k) << 2 : 0);
      ldColumnsB = k;
      transpose(b, k, n, ldb, columnsB);
    }
    gemmDot(m, n, k, alpha, rowsA, ldRowsA, columnsB, ldColumnsB, beta, c, ldc);
    return;
  }
  const kk = <usize>k;
  const packedA = scratch;
  const rowsPadded = <usize>((m + TILE_ROWS - 1) & ~(TILE_ROWS - 1));
  const panel = packedA + ((rowsPadded * kk) << 2);
  const spare = panel + ((<usize>TILE_COLS * kk) << 2);
  packA(transA, m, k, a, lda, packedA);
  for (let j0 = 0; j0 < n; j0 += TILE_COLS) {
    packPanel(transB, n, k, b, ldb, j0, panel);
    multiplyPanel(m, min(TILE_COLS, n - j0), k, alpha, packedA, panel, beta, c + (<usize>j0 << 2), ldc, spare);
  }
}

/**
 * C[0..m, 0..cols) = alpha · packedA · panel + beta · C for one panel of op(B) (cols ≤ 8 of its columns,
 * packed by packPanel or laid out the same way), packedA as packA leaves it; C has leading dimension ldc
 * and starts at the panel's first column. `spare` holds one 4×8 tile (128 bytes). The convolutions of
 * assembly/spatial.ts pack their own panels and call this directly.
 */
export function multiplyPanel(
  m: i32, cols: i32, k: i32, alpha: f32, packedA: usize, panel: usize, beta: f32, c: usize, ldc: i32, spare: usize,
): void {
  const kk = <usize>k;
  const alphaV = f32x4.splat(alpha);
  const rowBytes = <usize>ldc << 2;
  const fullCols = cols == TILE_COLS;
  for (let i0 = 0; i0 < m; i0 += TILE_ROWS) {
    let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
    let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
    let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
    let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
    let pa = packedA + ((<usize>i0 * kk) << 2);
    let pb = panel;
    const paEnd = pa + (kk << 4);
    while (pa < paEnd) {
      const b0 = v128.load(pb);
      const b1 = v128.load(pb, 16);
      let av = v128.load32_splat(pa);
      c00 = madd(av, b0, c00);
      c01 = madd(av, b1, c01);
      av = v128.load32_splat(pa, 4);
      c10 = madd(av, b0, c10);
      c11 = madd(av, b1, c11);
      av = v128.load32_splat(pa, 8);
      c20 = madd(av, b0, c20);
      c21 = madd(av, b1, c21);
      av = v128.load32_splat(pa, 12);
      c30 = madd(av, b0, c30);
      c31 = madd(av, b1, c31);
      pa += 16;
      pb += 32;
    }
    const dst = c + <usize>i0 * rowBytes;
    if (fullCols && i0 + TILE_ROWS <= m) {
      storeRow(dst, c00, c01, alphaV, beta);
      storeRow(dst + rowBytes, c10, c11, alphaV, beta);
      storeRow(dst + 2 * rowBytes, c20, c21, alphaV, beta);
      storeRow(dst + 3 * rowBytes, c30, c31, alphaV, beta);
    } else {
      // an edge tile: spill it to the spare tile, then store only the rows and columns that exist
      v128.store(spare, c00);
      v128.store(spare, c01, 16);
      v128.store(spare, c10, 32);
      v128.store(spare, c11, 48);
      v128.store(spare, c20, 64);
      v128.store(spare, c21, 80);
      v128.store(spare, c30, 96);
      v128.store(spare, c31, 112);
      const rows = min(TILE_ROWS, m - i0);
      for (let r = 0; r < rows; r++) {
        for (let q = 0; q < cols; q++) {
          const out = dst + <usize>r * rowBytes + (<usize>q << 2);
          const value = alpha * load<f32>(spare + (<usize>(r * TILE_COLS + q) << 2));
          store<f32>(out, beta == 0 ? value : value + beta * load<f32>(out));
        }
      }
    }
  }
}
