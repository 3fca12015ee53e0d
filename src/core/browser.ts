/**
 * Loading the WebAssembly kernels in a browser page: the .wasm bytes come over HTTP (the server
 * offers them under /api/kernels/), and the shared memory they import needs a cross-origin isolated
 * page (served with COOP same-origin and COEP require-corp). No Node modules here.
 */
import type { Kernels } from './kernels.js';
import { instantiateWasmKernels, KernelLoadError, relaxedSimdSupported, simdSupported, type WasmModule } from './wasm.js';

interface BrowserWasm {
  compile(bytes: ArrayBuffer): Promise<WasmModule>;
}

/** Fetches and instantiates the relaxed-SIMD build where the browser runs it, else the plain SIMD one. */
export async function loadBrowserKernels(baseUrl = '/api/kernels/'): Promise<Kernels> {
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
  return instantiateWasmKernels(module, relaxed ? 'wasm-relaxed-simd' : 'wasm-simd');
}
