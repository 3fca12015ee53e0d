/**
 * The compute kernels every layer of digitlab runs on, behind one interface with two implementations:
 * a plain TypeScript reference (src/core/reference.ts) and WebAssembly SIMD (src/core/wasm.ts,
 * compiled from assembly/). Tests compare the two on random shapes.
 *
 * Each family of kernels lives in one file of src/core/ops/: its part of this interface (with the
 * shapes and formulas), its TypeScript reference, and its WebAssembly binding. Adding a kernel means
 * its AssemblyScript (assembly/, exported from assembly/index.ts) and those three pieces in its family's
 * file; a kernel that splits across threads also names its export in POOL_KERNELS (pool-protocol.ts).
 *
 * Conventions (as in llm.c): flat row-major Float32Arrays; shapes are stated at each kernel.
 * Arrays handed to a kernel must come from the same Kernels' `allocF32` / `allocI32` / `allocU8` (for
 * the WebAssembly backend they are views on its memory, and a kernel call copies nothing).
 */
import type { ActivationKernels } from './ops/activations.js';
import type { GemmKernels } from './ops/gemm.js';
import type { OptimizerKernels } from './ops/optimizers.js';
import type { SoftmaxKernels } from './ops/softmax.js';
import type { SparseKernels } from './ops/sparse.js';
import type { SpatialKernels } from './ops/spatial.js';
import type { WarpKernels } from './ops/warp.js';

export type { Activation } from './ops/activations.js';
export type { NonzeroIndex } from './ops/sparse.js';
export type { WarpPlan } from './ops/warp.js';

/** Memory and lifetime: what every backend provides besides its kernels. */
export interface KernelMemory {
  /** 'reference', 'wasm-simd' or 'wasm-relaxed-simd'. */
  readonly name: string;

  /** Threads the kernels split large products and updates across (1: the calling thread only). */
  readonly threads: number;

  /** A zero-filled array the kernels can work on. Never freed: allocate buffers once and reuse them. */
  allocF32(length: number): Float32Array;
  allocI32(length: number): Int32Array;
  /** A zero-filled byte array the kernels can read (a batch of raw pixels, see `indexPixels`). */
  allocU8(length: number): Uint8Array;

  /** Releases what the kernels hold beyond their memory (the pool's threads). */
  close(): Promise<void>;
}

export interface Kernels
  extends KernelMemory, GemmKernels, SparseKernels, ActivationKernels, SoftmaxKernels, OptimizerKernels, SpatialKernels, WarpKernels {}
