// GEMM throughput of the WebAssembly kernels, single thread: every form on the shapes of an MNIST
// network, plain and relaxed SIMD. Usage: node --import tsx bench/gemm.ts [seconds per case, default 0.3]
import { createWasmKernels, relaxedSimdSupported, type Kernels } from '../src/core/index.js';

const secondsPerCase = Number(process.argv[2] ?? 0.3);
// [m, n, k]: the forward pass of a 784 → 800 layer at batch 128, a 784 → 128 layer at batch 64, an
// 800 → 10 output layer at batch 128
const shapes: [number, number, number][] = [[128, 800, 784], [64, 128, 784], [128, 10, 800]];
const forms: [boolean, boolean, string][] = [[false, false, 'NN'], [false, true, 'NT'], [true, false, 'TN']];

function measure(kernels: Kernels, transA: boolean, transB: boolean, m: number, n: number, k: number): number {
  const a = kernels.allocF32(m * k).map(() => Math.random() - 0.5);
  const b = kernels.allocF32(k * n).map(() => Math.random() - 0.5);
  const aIn = kernels.allocF32(m * k);
  const bIn = kernels.allocF32(k * n);
  aIn.set(a);
  bIn.set(b);
  const c = kernels.allocF32(m * n);
  const flops = 2 * m * n * k;
  for (let i = 0; i < 3; i++) kernels.gemm(transA, transB, m, n, k, 1, aIn, bIn, 0, c); // warm up
  let best = Infinity;
  const deadline = performance.now() + secondsPerCase * 1000;
  while (performance.now() < deadline) {
    const start = performance.now();
    kernels.gemm(transA, transB, m, n, k, 1, aIn, bIn, 0, c);
    best = Math.min(best, performance.now() - start);
  }
  return flops / (best * 1e6);
}

const variants = [false];
if (await relaxedSimdSupported()) variants.push(true);
for (const relaxed of variants) {
  const kernels = await createWasmKernels({ relaxed });
  for (const [m, n, k] of shapes) {
    const figures = forms.map(([transA, transB, form]) => `${form} ${measure(kernels, transA, transB, m, n, k).toFixed(1)}`);
    console.log(`${kernels.name.padEnd(18)} m=${m} n=${n} k=${k}: ${figures.join('  ')} GFLOPS`);
  }
}
