import type { Kernels } from '../src/core/index.js';

/** Best-of GFLOPS of one GEMM shape and form on `kernels`, timed for about `seconds` after a warm-up. */
export function gemmGflops(kernels: Kernels, transA: boolean, transB: boolean, m: number, n: number, k: number, seconds = 0.5): number {
  const a = kernels.allocF32(m * k);
  const b = kernels.allocF32(k * n);
  for (let i = 0; i < a.length; i++) a[i] = Math.random() - 0.5;
  for (let i = 0; i < b.length; i++) b[i] = Math.random() - 0.5;
  const c = kernels.allocF32(m * n);
  for (let i = 0; i < 3; i++) kernels.gemm(transA, transB, m, n, k, 1, a, b, 0, c);
  let best = Infinity;
  const deadline = performance.now() + seconds * 1000;
  while (performance.now() < deadline) {
    const start = performance.now();
    kernels.gemm(transA, transB, m, n, k, 1, a, b, 0, c);
    best = Math.min(best, performance.now() - start);
  }
  return (2 * m * n * k) / (best * 1e6);
}
