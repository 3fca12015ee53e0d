// Compiles the AssemblyScript kernels in assembly/ into two WebAssembly modules:
//   build/kernels-simd.wasm     128-bit SIMD (runs everywhere WebAssembly SIMD does)
//   build/kernels-relaxed.wasm  the same source with relaxed SIMD (f32x4.relaxed_madd → a real FMA)
// src/core/wasm.ts picks the relaxed one when the runtime validates it. Both import a shared memory
// (env.memory, up to MAXIMUM_PAGES), so typed-array views stay valid when it grows and worker threads
// can share it. Uses the `asc` installed by `npm install`: no global tools, no network.
import { mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import asc from 'assemblyscript/asc';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'assembly', 'index.ts');
const outDir = join(root, 'build');

/** 32768 pages of 64 KiB = 2 GiB: ample for MNIST, and half of what 32-bit WebAssembly can address. */
export const MAXIMUM_PAGES = 32768;

const common = [
  entry,
  '-O3',
  '--runtime', 'stub',
  '--noAssert',
  '--importMemory',
  '--enable', 'simd',
  '--enable', 'threads',
  '--sharedMemory',
  '--initialMemory', '1',
  '--maximumMemory', String(MAXIMUM_PAGES),
];

const targets = [
  { file: 'kernels-simd.wasm', extra: [] },
  { file: 'kernels-relaxed.wasm', extra: ['--enable', 'relaxed-simd'] },
];

mkdirSync(outDir, { recursive: true });
for (const { file, extra } of targets) {
  const outFile = join(outDir, file);
  const { error, stderr } = await asc.main([...common, ...extra, '--outFile', outFile]);
  if (error) {
    console.error(stderr.toString());
    console.error(`build-wasm: compiling ${file} failed: ${error.message}`);
    process.exit(1);
  }
  console.log(`build-wasm: ${join('build', file)} (${statSync(outFile).size} bytes)`);
}
