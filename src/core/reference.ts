/**
 * The reference kernels: plain TypeScript loops, written to be obviously correct rather than fast.
 * The WebAssembly kernels are tested against these (see test/core/kernels.test.ts). Intermediate
 * arithmetic runs in float64; results are stored as float32. Each family's reference sits beside its
 * WebAssembly binding in src/core/ops/.
 */
import type { Kernels } from './kernels.js';
import { activationReference } from './ops/activations.js';
import { gemmReference } from './ops/gemm.js';
import { optimizerReference } from './ops/optimizers.js';
import { softmaxReference } from './ops/softmax.js';
import { sparseReference } from './ops/sparse.js';
import { spatialReference } from './ops/spatial.js';
import { warpReference } from './ops/warp.js';

export function createReferenceKernels(): Kernels {
  return {
    name: 'reference',
    threads: 1,
    allocF32: (length) => new Float32Array(length),
    allocI32: (length) => new Int32Array(length),
    allocU8: (length) => new Uint8Array(length),
    close: () => Promise.resolve(),
    ...gemmReference,
    ...sparseReference,
    ...activationReference,
    ...softmaxReference,
    ...optimizerReference,
    ...spatialReference,
    ...warpReference,
  };
}
