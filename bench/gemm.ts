// GEMM throughput of the WebAssembly kernels, single thread: every form on the shapes of an MNIST
// network, plain and relaxed SIMD. Usage: node --import tsx bench/gemm.ts [seconds per case, default 0.3]
import { createWasmKernels, relaxedSimdSupported } from '../src/core/index.js';
import { gemmGflops } from './gemm-speed.js';

const secondsPerCase = Number(process.argv[2] ?? 0.3);
// [m, n, k]: the forward pass of a 784 → 800 layer at batch 128, a 784 → 128 layer at batch 64, an
// 800 → 10 output layer at batch 128
const shapes: [number, number, number][] = [[128, 800, 784], [64, 128, 784], [128, 10, 800]];
const forms: [boolean, boolean, string][] = [[false, false, 'NN'], [false, true, 'NT'], [true, false, 'TN']];

const variants = [false];
if (await relaxedSimdSupported()) variants.push(true);
for (const relaxed of variants) {
  const kernels = await createWasmKernels({ relaxed });
  for (const [m, n, k] of shapes) {
    const figures = forms.map(([transA, transB, form]) => `${form} ${gemmGflops(kernels, transA, transB, m, n, k, secondsPerCase).toFixed(1)}`);
    console.log(`${kernels.name.padEnd(18)} m=${m} n=${n} k=${k}: ${figures.join('  ')} GFLOPS`);
  }
}
