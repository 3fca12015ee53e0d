/**
 * The compute core: kernels behind one interface (WebAssembly SIMD by default, a plain TypeScript
 * reference for checking), and the seeded random generator.
 */
import type { Kernels } from './kernels.js';
import { createReferenceKernels } from './reference.js';
import { createWasmKernels, KernelLoadError } from './wasm.js';

export type { Activation, Kernels, NonzeroIndex } from './kernels.js';
export { KernelPoolError } from './pool.js';
export { Random, type RandomState } from './random.js';
export { createReferenceKernels } from './reference.js';
export {
  createWasmKernels, instantiateWasmKernels, relaxedSimdSupported, simdSupported,
  KernelArgumentError, KernelLoadError, KernelMemoryError,
  type WasmKernels, type WasmKernelOptions, type WasmMemory, type WasmModule,
} from './wasm.js';

export type KernelBackend = 'auto' | 'wasm' | 'reference';

export interface KernelOptions {
  /**
   * 'wasm' (WebAssembly SIMD, an error where it cannot load), 'reference' (plain TypeScript), or
   * 'auto' (the default: WebAssembly, falling back to the reference where it cannot load).
   */
  backend?: KernelBackend;
  /** Use relaxed SIMD (fused multiply-add) where the runtime supports it. Default true. */
  relaxed?: boolean;
  /**
   * Threads the WebAssembly kernels split large products and updates across, the calling thread
   * included. Default: the cores available to the process (os.availableParallelism) under Node.js,
   * 1 elsewhere. Results do not depend on it. Pass 1 when running several trainings side by side.
   */
  threads?: number;
  /**
   * The largest fraction of nonzero inputs at which a network's first layer skips zero inputs
   * (default 0.6; 0 always runs the dense product). Results agree with the dense path within rounding.
   */
  sparseDensityLimit?: number;
}

/** The cores available to this process under Node.js, else 1. */
export async function defaultThreads(): Promise<number> {
  if (typeof process === 'undefined' || process.versions?.node === undefined) return 1;
  const os = await import('node:os');
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

export async function createKernels(options: KernelOptions = {}): Promise<Kernels> {
  const backend = options.backend ?? 'auto';
  const wasmOptions = {
    relaxed: options.relaxed,
    threads: options.threads ?? (await defaultThreads()),
    sparseDensityLimit: options.sparseDensityLimit,
  };
  switch (backend) {
    case 'reference':
      return createReferenceKernels();
    case 'wasm':
      return createWasmKernels(wasmOptions);
    case 'auto':
      try {
        return await createWasmKernels(wasmOptions);
      } catch (error) {
        if (!(error instanceof KernelLoadError)) throw error;
        // the reference is many times slower: say so rather than fall back silently
        if (typeof process !== 'undefined') process.emitWarning(`${error.message}; using the reference kernels`);
        return createReferenceKernels();
      }
    default:
      throw new RangeError(`unknown kernel backend ${JSON.stringify(backend)}: use 'auto', 'wasm' or 'reference'`);
  }
}
