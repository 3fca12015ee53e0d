/**
 * General matrix multiply: the kernel behind every dense product (assembly/gemm.ts), its TypeScript
 * reference, and its binding, which splits large products across the pool's threads.
 */
import { Operation } from '../pool-protocol.js';
import { KernelArgumentError } from '../wasm-api.js';
import { checkLength, PARALLEL_MIN_MACS, smallestPart, splitPoint, type WasmRuntime } from '../wasm-runtime.js';

export interface GemmKernels {
  /**
   * C[m,n] = alpha · op(A) · op(B) + beta · C, row-major.
   * op(A) is [m,k]: A is [m,k], or [k,m] when transA. op(B) is [k,n]: B is [k,n], or [n,k] when transB.
   * The forms used: NN (input gradient; forward of a first layer, whose W is kept [in,out]), NT (forward,
   * W is [out,in]), TN (weight gradient).
   * When beta is 0, C's previous content is ignored (even NaN).
   */
  gemm(
    transA: boolean, transB: boolean, m: number, n: number, k: number,
    alpha: number, a: Float32Array, b: Float32Array, beta: number, c: Float32Array,
  ): void;
}

export interface GemmBlockKernels {
  /**
   * `gemm` on blocks of larger row-major matrices (to split a product across threads, say): a, b and c
   * start at the block's first element (a subarray), and lda, ldb, ldc are the leading dimensions,
   * the element distance from one stored row to the next (at least the stored width: k or m for A,
   * n or k for B, n for C).
   */
  gemmBlock(
    transA: boolean, transB: boolean, m: number, n: number, k: number,
    alpha: number, a: Float32Array, lda: number, b: Float32Array, ldb: number, beta: number, c: Float32Array, ldc: number,
  ): void;
}

/** The exports of assembly/gemm.ts (pointers are byte offsets, booleans 0/1). */
export interface GemmExports {
  gemmScratchBytes(transA: number, transB: number, m: number, n: number, k: number): number;
  gemm(transA: number, transB: number, m: number, n: number, k: number,
    alpha: number, a: number, lda: number, b: number, ldb: number, beta: number, c: number, ldc: number,
    scratch: number): void;
}

export const gemmReference: GemmKernels = {
  gemm(transA, transB, m, n, k, alpha, a, b, beta, c) {
    // op(A)[i, p] = transA ? A[p, i] : A[i, p]; op(B)[p, j] = transB ? B[j, p] : B[p, j]
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let sum = 0;
        for (let p = 0; p < k; p++) {
          const x = transA ? a[p * m + i] : a[i * k + p];
          const y = transB ? b[j * k + p] : b[p * n + j];
          sum += x * y;
        }
        c[i * n + j] = beta === 0 ? alpha * sum : alpha * sum + beta * c[i * n + j];
      }
    }
  },
};

// Split points of assembly/gemm.ts: parts that start at multiples of these keep every output
// element's summation order, so results do not depend on the number of threads.
const TILE_COLS = 8;
const TILE_ROWS = 4;
const DOT_MAX_COLUMNS = 16;

/** Elements a [rows, cols] block with leading dimension ld spans, after checking ld. */
function blockLength(rows: number, cols: number, ld: number, what: string): number {
  checkLength(ld, `${what} leading dimension`);
  if (ld < cols) throw new KernelArgumentError(`${what}: leading dimension ${ld} is less than the row width ${cols}`);
  return rows === 0 || cols === 0 ? 0 : (rows - 1) * ld + cols;
}

export function bindGemm(rt: WasmRuntime, wasm: GemmExports): GemmKernels & GemmBlockKernels {
  // scratch for packed panels, one region per thread (index 0: the calling thread)
  const scratch: number[] = [0];
  const scratchBytes: number[] = [0];
  rt.onThreads((threads) => {
    while (scratch.length < threads) {
      scratch.push(0);
      scratchBytes.push(0);
    }
  });
  function gemmScratch(part: number, transA: number, transB: number, m: number, n: number, k: number): number {
    const needed = wasm.gemmScratchBytes(transA, transB, m, n, k);
    if (needed > scratchBytes[part]) {
      // grow geometrically: the allocator never frees, so keep the number of replacements small
      scratchBytes[part] = Math.max(needed, 2 * scratchBytes[part]);
      scratch[part] = rt.reserve(scratchBytes[part]);
    }
    return scratch[part];
  }

  function gemmBlock(
    transA: boolean, transB: boolean, m: number, n: number, k: number,
    alpha: number, a: Float32Array, lda: number, b: Float32Array, ldb: number, beta: number, c: Float32Array, ldc: number,
  ): void {
    checkLength(m, 'm');
    checkLength(n, 'n');
    checkLength(k, 'k');
    const pa = rt.pointer(a, transA ? blockLength(k, m, lda, 'gemm: A') : blockLength(m, k, lda, 'gemm: A'), 'gemm: A');
    const pb = rt.pointer(b, transB ? blockLength(n, k, ldb, 'gemm: B') : blockLength(k, n, ldb, 'gemm: B'), 'gemm: B');
    const pc = rt.pointer(c, blockLength(m, n, ldc, 'gemm: C'), 'gemm: C');
    if (m === 0 || n === 0) return;
    const ta = transA ? 1 : 0;
    const tb = transB ? 1 : 0;
    const threads = rt.parts(m * n * k, PARALLEL_MIN_MACS, rt.threads);
    if (threads > 1) {
      // Split C into column or row blocks that each take the kernel's path of the whole product: the
      // tiled kernel (n ≥ 16, m ≥ 4) by 8-column or 4-row blocks, the dot-product kernel by 4-row
      // blocks (n < 16) or by column pairs (m < 4). Every element then sums in the same order.
      const dot = n < DOT_MAX_COLUMNS || m < TILE_ROWS;
      let byColumns: boolean;
      let unit: number;
      if (!dot) {
        byColumns = n >= 2 * TILE_COLS * threads;
        unit = byColumns ? TILE_COLS : TILE_ROWS;
      } else {
        byColumns = m < TILE_ROWS;
        unit = byColumns ? 2 : TILE_ROWS;
      }
      // the tiled kernel's parts must stay wide (≥ 16 columns) or tall (≥ 4 rows) enough to remain tiled
      const smallest = dot ? 1 : byColumns ? DOT_MAX_COLUMNS : TILE_ROWS;
      let parts = Math.min(threads, Math.ceil((byColumns ? n : m) / unit));
      while (parts > 1 && smallestPart(byColumns ? n : m, unit, parts) < smallest) parts--;
      if (parts > 1) {
        for (let t = parts - 1; t >= 0; t--) {
          const from = splitPoint(byColumns ? n : m, unit, parts, t);
          const to = splitPoint(byColumns ? n : m, unit, parts, t + 1);
          const mp = byColumns ? m : to - from;
          const np = byColumns ? to - from : n;
          // byte offsets of the block's first elements
          const a0 = pa + 4 * (byColumns ? 0 : transA ? from : from * lda);
          const b0 = pb + 4 * (byColumns ? (transB ? from * ldb : from) : 0);
          const c0 = pc + 4 * (byColumns ? from : from * ldc);
          const work = gemmScratch(t, ta, tb, mp, np, k);
          if (t > 0) rt.post(t, Operation.gemm, ta, tb, mp, np, k, alpha, a0, lda, b0, ldb, beta, c0, ldc, work);
          else wasm.gemm(ta, tb, mp, np, k, alpha, a0, lda, b0, ldb, beta, c0, ldc, work);
        }
        rt.finish(parts);
        return;
      }
    }
    wasm.gemm(ta, tb, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc, gemmScratch(0, ta, tb, m, n, k));
  }

  return {
    gemmBlock,
    gemm(transA, transB, m, n, k, alpha, a, b, beta, c) {
      // dense operands: each stored row is exactly as long as the matrix is wide
      gemmBlock(transA, transB, m, n, k, alpha, a, transA ? m : k, b, transB ? k : n, beta, c, n);
    },
  };
}
