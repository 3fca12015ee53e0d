/**
 * Loading the WebAssembly kernels in a browser page: the .wasm bytes come over HTTP (the server
 * offers them under /api/kernels/), and the shared memory they import needs a cross-origin isolated
 * page (served with COOP same-origin and COEP require-corp). No Node modules here.
 */
import { canBlock, launchWebWorkerThread } from './browser-pool.js';
import type { Kernels } from './kernels.js';
import { KernelPool } from './pool.js';
import { instantiateWasmKernels, KernelArgumentError, KernelLoadError, relaxedSimdSupported, simdSupported, type WasmModule } from './wasm.js';

interface BrowserWasm {
  compile(bytes: ArrayBuffer): Promise<WasmModule>;
}

export interface BrowserKernelOptions {
  /**
   * Threads to split large products and updates across, the calling thread included (default 1).
   * More than one needs a worker's thread (a page's main thread may not block) and starts Web Workers.
   */
  threads?: number;
}

/** The threads a browser offers: its logical processors. */
export function browserThreads(): number {
  const count = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  return Number.isInteger(count) && (count as number) > 0 ? (count as number) : 1;
}

/** Fetches and instantiates the relaxed-SIMD build where the browser runs it, else the plain SIMD one. */
export async function loadBrowserKernels(baseUrl = '/api/kernels/', options: BrowserKernelOptions = {}): Promise<Kernels> {
  const threads = options.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1) throw new KernelArgumentError(`threads must be a positive integer, got ${threads}`);
  if (threads > 1 && !canBlock()) {
    throw new KernelLoadError('kernels with more than one thread run in a worker only (a page\'s main thread may not wait for other threads): load them in a Web Worker, or use threads: 1');
  }
  const scope = globalThis as unknown as { crossOriginIsolated?: boolean; WebAssembly?: BrowserWasm; fetch: (url: string) => Promise<{ ok: boolean; status: number; arrayBuffer(): Promise<ArrayBuffer> }> };
  if (scope.crossOriginIsolated === false) {
    throw new KernelLoadError(
      'this page is not cross-origin isolated, so WebAssembly shared memory is unavailable: serve it with the headers ' +
        '"Cross-Origin-Opener-Policy: same-origin" and "Cross-Origin-Embedder-Policy: require-corp" (digitlab serve does)',
    );
  }
  if (!scope.WebAssembly || !simdSupported()) throw new KernelLoadError('this browser has no WebAssembly SIMD');
  const relaxed = await relaxedSimdSupported();
  const file = relaxed ? 'kernels-relaxed.wasm' : 'kernels-simd.wasm';
  const response = await scope.fetch(baseUrl + file);
  if (!response.ok) throw new KernelLoadError(`${baseUrl}${file}: HTTP ${response.status}`);
  const module = await scope.WebAssembly.compile(await response.arrayBuffer());
  const kernels = instantiateWasmKernels(module, relaxed ? 'wasm-relaxed-simd' : 'wasm-simd');
  if (threads > 1) kernels.attachPool(await KernelPool.start(module, kernels.memory, threads - 1, launchWebWorkerThread));
  return kernels;
}
