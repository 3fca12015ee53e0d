// Backend selection of createKernels.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { createKernels, relaxedSimdSupported, type KernelBackend } from '../../src/core/index.js';

it('creates the WebAssembly kernels by default, relaxed SIMD where the runtime has it', async () => {
  const kernels = await createKernels();
  assert.equal(kernels.name, (await relaxedSimdSupported()) ? 'wasm-relaxed-simd' : 'wasm-simd');
});

it('creates plain SIMD kernels when relaxed SIMD is declined', async () => {
  assert.equal((await createKernels({ backend: 'wasm', relaxed: false })).name, 'wasm-simd');
});

it('creates the reference kernels on request', async () => {
  const kernels = await createKernels({ backend: 'reference' });
  assert.equal(kernels.name, 'reference');
  assert.ok(kernels.allocF32(3) instanceof Float32Array);
});

it('rejects an unknown backend with a message naming the valid ones', async () => {
  await assert.rejects(createKernels({ backend: 'gpu' as KernelBackend }), /'auto', 'wasm' or 'reference'/);
});
