/**
 * The parts of the WebAssembly JavaScript API the kernels use, typed here (the project compiles
 * without the DOM library, which is where TypeScript declares WebAssembly), the feature probes, and the
 * errors of loading and calling WebAssembly kernels. No Node modules, no other core file.
 */

/** An argument a kernel cannot accept: an array from elsewhere, too short, or a bad size. */
export class KernelArgumentError extends RangeError {
  override name = 'KernelArgumentError';
}

/** The WebAssembly kernels cannot be loaded here: no SIMD in this runtime, or build/ is missing. */
export class KernelLoadError extends Error {
  override name = 'KernelLoadError';
}

/** Out of WebAssembly memory (the 2 GiB limit, or the host refused to grow). */
export class KernelMemoryError extends Error {
  override name = 'KernelMemoryError';
}

export interface WasmMemory {
  readonly buffer: ArrayBufferLike;
  grow(deltaPages: number): number;
}
export interface WasmModule { readonly __brand?: 'WebAssembly.Module' }
export interface WasmApi {
  Memory: new (descriptor: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: object) => { exports: unknown };
  validate(bytes: Uint8Array): boolean;
  compile(bytes: Uint8Array): Promise<WasmModule>;
}
export const wasmApi = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

/**
 * (func (param v128 v128 v128) (result v128) local.get 0 local.get 1 local.get 2 f32x4.relaxed_madd):
 * valid exactly where relaxed SIMD is enabled. f32x4.relaxed_madd is opcode 0xfd 0x105 (LEB128 85 02).
 */
const RELAXED_SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
  0x01, 0x08, 0x01, 0x60, 0x03, 0x7b, 0x7b, 0x7b, 0x01, 0x7b, // type section: (v128 ×3) → v128
  0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
  0x0a, 0x0d, 0x01, 0x0b, 0x00, 0x20, 0x00, 0x20, 0x01, 0x20, 0x02, 0xfd, 0x85, 0x02, 0x0b, // code
]);

/** The same function with f32x4.add (0xfd 0xe4 0x01) instead, wrapped as (a + b) + c: plain SIMD. */
const SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  0x01, 0x08, 0x01, 0x60, 0x03, 0x7b, 0x7b, 0x7b, 0x01, 0x7b,
  0x03, 0x02, 0x01, 0x00,
  0x0a, 0x10, 0x01, 0x0e, 0x00, 0x20, 0x00, 0x20, 0x01, 0xfd, 0xe4, 0x01, 0x20, 0x02, 0xfd, 0xe4, 0x01, 0x0b,
]);

function validates(bytes: Uint8Array): boolean {
  try {
    return wasmApi !== undefined && wasmApi.validate(bytes);
  } catch {
    return false;
  }
}

/** Whether this runtime runs WebAssembly SIMD (the kernels need it). */
export function simdSupported(): boolean {
  return validates(SIMD_PROBE);
}

/**
 * Whether this runtime runs relaxed SIMD. On Node 20 it sits behind a V8 flag, which is switched on
 * here when needed (harmless when already on; it must happen before the kernels are compiled).
 */
export async function relaxedSimdSupported(): Promise<boolean> {
  if (validates(RELAXED_SIMD_PROBE)) return true;
  if (typeof process === 'undefined' || process.versions?.node === undefined) return false;
  try {
    const v8 = await import('node:v8');
    v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  } catch {
    return false;
  }
  return validates(RELAXED_SIMD_PROBE);
}
