/**
 * The compute core: kernels behind one interface (WebAssembly SIMD by default, a plain TypeScript
 * reference for checking), and the seeded random generator.
 */
import type { Kernels } from './kernels.js';
import { createReferenceKernels } from './reference.js';
import { createWasmKernels, KernelLoadError } from './wasm.js';

export type { Activation, Kernels } from './kernels.js';
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
}

export async function createKernels(options: KernelOptions = {}): Promise<Kernels> {
  const backend = options.backend ?? 'auto';
  switch (backend) {
    case 'reference':
      return createReferenceKernels();
    case 'wasm':
      return createWasmKernels({ relaxed: options.relaxed });
    case 'auto':
      try {
        return await createWasmKernels({ relaxed: options.relaxed });
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
