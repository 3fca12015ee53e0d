/**
 * The WebAssembly SIMD kernels (compiled from assembly/ by scripts/build-wasm.mjs) behind the Kernels
 * interface. One shared WebAssembly.Memory holds every array the kernels work on: allocF32/allocI32/
 * allocU8 hand out views on it from a bump allocator, and a kernel call passes only byte offsets (no copy).
 * The memory is shared (SharedArrayBuffer), so views stay valid when it grows and worker threads can
 * run kernels on the same arrays. The bindings of each kernel family are in src/core/ops/, the memory
 * and thread machinery they share in wasm-runtime.ts.
 */
import type { Kernels } from './kernels.js';
import { bindActivations, type ActivationExports } from './ops/activations.js';
import { bindGemm, type GemmBlockKernels, type GemmExports } from './ops/gemm.js';
import { bindOptimizers, type OptimizerExports } from './ops/optimizers.js';
import { bindSoftmax, type SoftmaxExports } from './ops/softmax.js';
import { bindSpatial, type SpatialExports } from './ops/spatial.js';
import { bindSparse, DEFAULT_SPARSE_DENSITY_LIMIT, type SparseExports } from './ops/sparse.js';
import { bindWarp, type WarpExports } from './ops/warp.js';
import { KernelPool } from './pool.js';
import {
  KernelArgumentError, KernelLoadError, relaxedSimdSupported, simdSupported, wasmApi,
  type WasmApi, type WasmMemory, type WasmModule,
} from './wasm-api.js';
import { MAXIMUM_PAGES, WasmRuntime } from './wasm-runtime.js';

export {
  KernelArgumentError, KernelLoadError, KernelMemoryError, relaxedSimdSupported, simdSupported,
  type WasmMemory, type WasmModule,
} from './wasm-api.js';

/** Must equal abiVersion() in assembly/index.ts. */
const ABI_VERSION = 10;

/** The functions exported by assembly/index.ts (pointers are byte offsets, booleans are 0/1). */
interface KernelExports extends GemmExports, SparseExports, ActivationExports, SoftmaxExports, OptimizerExports, SpatialExports, WarpExports {
  abiVersion(): number;
  heapBase(): number;
}

/**
 * Reads build/<file>. Compiled code runs from dist/src/core/ (build/ is ../../../build from there),
 * sources run through tsx from src/core/ (../../build): both are tried.
 */
async function readBuildFile(file: string): Promise<Uint8Array> {
  const { readFile } = await import('node:fs/promises');
  const candidates = [new URL(`../../build/${file}`, import.meta.url), new URL(`../../../build/${file}`, import.meta.url)];
  for (const url of candidates) {
    try {
      return new Uint8Array(await readFile(url));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  throw new KernelLoadError(
    `build/${file} not found (looked at ${candidates.map((u) => u.pathname).join(' and ')}): run \`npm run build\``,
  );
}

/** The WebAssembly kernels, with the memory and compiled module a worker pool would share. */
export interface WasmKernels extends Kernels, GemmBlockKernels {
  readonly memory: WasmMemory;
  readonly module: WasmModule;
}

export interface WasmKernelOptions {
  /** Use relaxed SIMD (fused multiply-add) when the runtime supports it. Default true. */
  relaxed?: boolean;
  /**
   * Threads to split large products and updates across, the calling thread included (default 1).
   * More than one needs Node.js worker threads.
   */
  threads?: number;
  /** See Kernels.sparseDensityLimit (default 0.6; 0 turns the sparse path off). */
  sparseDensityLimit?: number;
}

/** Loads build/kernels-relaxed.wasm where relaxed SIMD runs (unless relaxed: false), else kernels-simd.wasm. */
export async function createWasmKernels(options: WasmKernelOptions = {}): Promise<WasmKernels> {
  if (wasmApi === undefined || !simdSupported()) {
    throw new KernelLoadError('this runtime has no WebAssembly SIMD: use the reference kernels (backend "reference")');
  }
  const threads = options.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1) throw new KernelArgumentError(`threads must be a positive integer, got ${threads}`);
  const limit = options.sparseDensityLimit ?? DEFAULT_SPARSE_DENSITY_LIMIT;
  if (!(limit >= 0 && limit <= 1)) throw new KernelArgumentError(`sparseDensityLimit must be in [0, 1], got ${limit}`);
  const relaxed = options.relaxed !== false && (await relaxedSimdSupported());
  let module: WasmModule | null = null;
  let name = 'wasm-simd';
  if (relaxed) {
    try {
      module = await wasmApi.compile(await readBuildFile('kernels-relaxed.wasm'));
      name = 'wasm-relaxed-simd';
    } catch (error) {
      if (error instanceof KernelLoadError) throw error;
      // a runtime that validates the probe but rejects the module: fall back to plain SIMD
    }
  }
  module ??= await wasmApi.compile(await readBuildFile('kernels-simd.wasm'));
  const kernels = instantiateWasmKernels(module, name, { sparseDensityLimit: limit });
  if (threads > 1) {
    if (typeof process === 'undefined' || process.versions?.node === undefined) {
      throw new KernelLoadError('more than one kernel thread needs Node.js worker threads');
    }
    kernels.attachPool(await KernelPool.start(module, kernels.memory, threads - 1));
  }
  return kernels;
}

/** Instantiates a compiled kernel module on a fresh shared memory. */
export function instantiateWasmKernels(
  module: WasmModule, name: string, options: { sparseDensityLimit?: number } = {},
): WasmKernels & { attachPool(pool: KernelPool): void } {
  const api = wasmApi as WasmApi;
  const memory = new api.Memory({ initial: 1, maximum: MAXIMUM_PAGES, shared: true });
  const instance = new api.Instance(module, { env: { memory } });
  const wasm = instance.exports as KernelExports;
  const version = typeof wasm.abiVersion === 'function' ? wasm.abiVersion() : 1;
  if (version !== ABI_VERSION) {
    throw new KernelLoadError(
      `the kernel module speaks version ${version} of the calling convention, this loader ${ABI_VERSION}: ` +
      'build/ and the compiled code are out of step, run `npm run build`',
    );
  }
  const rt = new WasmRuntime(memory, wasm.heapBase());
  return {
    name,
    memory,
    module,
    get threads() {
      return rt.threads;
    },
    attachPool: (pool) => rt.attachPool(pool),
    close: () => rt.close(),
    allocF32: (length) => rt.allocF32(length),
    allocI32: (length) => rt.allocI32(length),
    allocU8: (length) => rt.allocU8(length),
    ...bindGemm(rt, wasm),
    ...bindSparse(rt, wasm, options.sparseDensityLimit ?? DEFAULT_SPARSE_DENSITY_LIMIT),
    ...bindActivations(rt, wasm),
    ...bindSoftmax(rt, wasm),
    ...bindOptimizers(rt, wasm),
    // sparseDensityLimit 0 (always the dense products) holds for the convolutions too
    ...(options.sparseDensityLimit === 0 ? bindSpatial(rt, wasm, 0, 0) : bindSpatial(rt, wasm)),
    ...bindWarp(rt, wasm),
  };
}
