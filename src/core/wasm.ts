/**
 * The WebAssembly SIMD kernels (compiled from assembly/ by scripts/build-wasm.mjs) behind the Kernels
 * interface. One shared WebAssembly.Memory holds every array the kernels work on: allocF32/allocI32/
 * allocU8 hand out views on it from a bump allocator, and a kernel call passes only byte offsets (no copy).
 * The memory is shared (SharedArrayBuffer), so views stay valid when it grows and worker threads can
 * later run kernels on the same arrays.
 */
import type { Activation, Kernels, NonzeroIndex } from './kernels.js';
import { allocNonzeroIndex, checkNonzeroIndex, checkScale } from './nonzero-index.js';
import { KernelPool } from './pool.js';
import { Operation } from './pool-protocol.js';

/** Must equal MAXIMUM_PAGES in scripts/build-wasm.mjs: the import's limit (2 GiB in 64 KiB pages). */
const MAXIMUM_PAGES = 32768;
const PAGE_BYTES = 65536;
const ALIGNMENT = 16;
/** Must equal abiVersion() in assembly/index.ts. */
const ABI_VERSION = 7;

// When work is split across threads. A thread's share must take longer than the hand-off (about a
// microsecond to a spinning thread, tens of microseconds to a sleeping one).
/** Multiply-adds below which a product stays on the calling thread. */
const PARALLEL_MIN_MACS = 1 << 18;
/** Elements below which an optimizer update stays on the calling thread. */
const PARALLEL_MIN_ELEMENTS = 1 << 16;
/**
 * Fraction of nonzero inputs up to which the sparse products beat the dense GEMM. Measured on
 * Fashion-MNIST batches of 128 (784-800-10, a training step's forward and backward), the sparse path
 * took 0.72–0.82 of the dense path's time at densities 0.46–0.54, on 1 and 2 threads; its time grows
 * in proportion to the density, so they meet near 0.64.
 */
const DEFAULT_SPARSE_DENSITY_LIMIT = 0.6;
// Split points of the GEMM and sparse kernels (see assembly/gemm.ts, assembly/sparse.ts): parts that
// start at multiples of these keep every output element's summation order, so results do not depend
// on the number of threads.
const TILE_COLS = 8;
const TILE_ROWS = 4;
const DOT_MAX_COLUMNS = 16;
/**
 * Split unit of the sparse products: every block path of assembly/sparse.ts adds with the same
 * multiply-add, only the last < 4 columns of a part run scalar, so parts must start at multiples of 4.
 */
const SPARSE_UNIT = 4;
/** Output columns of the sparse products' widest block (assembly/sparse.ts): a part holds at least one. */
const SPARSE_BLOCK = 28;

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

// The project compiles without the DOM library, which is where TypeScript declares WebAssembly, so the
// few parts used here are typed locally.
export interface WasmMemory {
  readonly buffer: ArrayBufferLike;
  grow(deltaPages: number): number;
}
export interface WasmModule { readonly __brand?: 'WebAssembly.Module' }
interface WasmApi {
  Memory: new (descriptor: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: object) => { exports: unknown };
  validate(bytes: Uint8Array): boolean;
  compile(bytes: Uint8Array): Promise<WasmModule>;
}
const wasmApi = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

/** The functions exported by assembly/index.ts (pointers are byte offsets, booleans are 0/1). */
interface KernelExports {
  abiVersion(): number;
  heapBase(): number;
  gemmScratchBytes(transA: number, transB: number, m: number, n: number, k: number): number;
  gemm(transA: number, transB: number, m: number, n: number, k: number,
    alpha: number, a: number, lda: number, b: number, ldb: number, beta: number, c: number, ldc: number,
    scratch: number): void;
  biasActivation(y: number, bias: number, rows: number, cols: number, activation: number): void;
  activationBackward(activation: number, y: number, dy: number, length: number): void;
  biasGradient(dy: number, rows: number, cols: number, db: number): void;
  softmaxCrossEntropy(logits: number, labels: number, rows: number, cols: number, grad: number): number;
  softmax(logits: number, rows: number, cols: number, probs: number): void;
  sgdUpdate(param: number, grad: number, momentumBuffer: number, length: number,
    lr: number, momentum: number, dampening: number, weightDecay: number, nesterov: number, firstStep: number): void;
  adamUpdate(param: number, grad: number, expAvg: number, expAvgSq: number, maxExpAvgSq: number, length: number,
    lr: number, beta1: number, beta2: number, eps: number, weightDecay: number,
    decoupled: number, amsgrad: number, stepSize: number, biasCorrection2Sqrt: number): void;
  adagradUpdate(param: number, grad: number, stateSum: number, length: number,
    clr: number, weightDecay: number, eps: number): void;
  rmspropUpdate(param: number, grad: number, squareAvg: number, gradAvg: number, momentumBuffer: number,
    length: number, lr: number, alpha: number, eps: number, weightDecay: number, momentum: number,
    centered: number): void;
  indexNonzeros(x: number, rows: number, k: number, rowStart: number, rowCols: number, rowValues: number): number;
  indexPixels(pixels: number, rows: number, k: number, scale: number, rowStart: number, rowCols: number, rowValues: number): number;
  scalePixels(pixels: number, length: number, scale: number, out: number): void;
  indexColumns(rows: number, k: number, rowStart: number, rowCols: number, rowValues: number, colStart: number,
    colRows: number, colValues: number): void;
  sparseGemmNN(rows: number, n: number, k: number, rowStart: number, rowCols: number, rowValues: number, w: number, c: number,
    n0: number, n1: number): void;
  sparseGemmTN(k: number, n: number, rows: number, colStart: number, colRows: number, colValues: number, dz: number, dw: number,
    n0: number, n1: number): void;
  toPanels(src: number, rows: number, n: number, dst: number): void;
  fromPanels(src: number, rows: number, n: number, dst: number): void;
}

/** Activation codes of assembly/activations.ts. */
const ACTIVATION_CODES: Record<Activation, number> = { identity: 0, relu: 1, sigmoid: 2, tanh: 3 };

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
export interface WasmKernels extends Kernels {
  readonly memory: WasmMemory;
  readonly module: WasmModule;
  /**
   * `gemm` on blocks of larger row-major matrices (to split a product across threads, say): a, b and c
   * start at the block's first element (a subarray), and lda, ldb, ldc are the leading dimensions,
   * the element distance from one stored row to the next (at least the stored width: k or m for A,
   * n or k for B, n for C).
   */
  gemmBlock(
    transA: boolean, transB: boolean, m: number, n: number, k: number,
    alpha: number, a: Float32Array, lda: number, b: Float32Array, ldb: number, beta: number, c: Float32Array, ldc: number,
  ): void;
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

  // ---- memory: a bump allocator above the module's static data, 16-byte aligned for v128 access ----
  let top = align(wasm.heapBase());

  function reserve(bytes: number): number {
    const start = top;
    const end = align(start + bytes);
    const available = memory.buffer.byteLength;
    if (end > available) {
      const pages = Math.ceil((end - available) / PAGE_BYTES);
      try {
        memory.grow(pages);
      } catch (error) {
        throw new KernelMemoryError(
          `cannot grow WebAssembly memory to ${end} bytes (limit ${MAXIMUM_PAGES * PAGE_BYTES}): ${String(error)}`,
        );
      }
    }
    top = end;
    return start;
  }

  // Which SharedArrayBuffers are views of this memory. Identity is not enough: growing the memory gives
  // memory.buffer a new object while older views keep the old one, and V8 may hand out more than one
  // object for the same memory. So a buffer is tested once by writing a fresh value into a reserved
  // word of the memory and reading it back through the buffer; then it is remembered.
  const canaryOffset = reserve(ALIGNMENT);
  let canaryValue = 0;
  const verifiedBuffers = new WeakSet<ArrayBufferLike>();
  function isViewOfMemory(buffer: ArrayBufferLike): boolean {
    if (verifiedBuffers.has(buffer)) return true;
    if (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength < canaryOffset + 4) return false;
    const ours = new Int32Array(memory.buffer, canaryOffset, 1);
    const theirs = new Int32Array(buffer, canaryOffset, 1);
    for (let attempt = 0; attempt < 2; attempt++) {
      canaryValue = (canaryValue + 1) | 0;
      ours[0] = canaryValue;
      if (theirs[0] !== canaryValue) return false;
    }
    verifiedBuffers.add(buffer);
    return true;
  }

  function checkLength(length: number, what: string): void {
    if (!Number.isInteger(length) || length < 0) throw new KernelArgumentError(`${what} must be a non-negative integer, got ${length}`);
  }

  /** The byte offset of `array` in the memory, after checking it lives there and holds `needed` elements. */
  function pointer(array: Float32Array | Int32Array | Uint8Array, needed: number, what: string): number {
    if (!isViewOfMemory(array.buffer)) {
      throw new KernelArgumentError(`${what} is not in this kernel memory: allocate it with kernels.allocF32/allocI32/allocU8`);
    }
    if (array.length < needed) {
      throw new KernelArgumentError(`${what} has ${array.length} elements, the call needs ${needed}`);
    }
    return array.byteOffset;
  }

  // GEMM scratch, one region per thread (index 0: the calling thread)
  const scratch: number[] = [0];
  const scratchBytes: number[] = [0];
  function gemmScratch(part: number, transA: number, transB: number, m: number, n: number, k: number): number {
    const needed = wasm.gemmScratchBytes(transA, transB, m, n, k);
    if (needed > scratchBytes[part]) {
      // grow geometrically: the allocator never frees, so keep the number of replacements small
      scratchBytes[part] = Math.max(needed, 2 * scratchBytes[part]);
      scratch[part] = reserve(scratchBytes[part]);
    }
    return scratch[part];
  }

  let pool: KernelPool | null = null;
  let threads = 1;

  /**
   * Where part `part` of `parts` begins when `total` items are split in units of `unit` (the last part
   * ends at total): a deterministic, nearly even split.
   */
  function splitPoint(total: number, unit: number, parts: number, part: number): number {
    if (part >= parts) return total;
    const units = Math.ceil(total / unit);
    return Math.min(total, Math.round((units * part) / parts) * unit);
  }

  /** The size of the smallest part when `total` is split into `parts` by `splitPoint`. */
  function smallestPart(total: number, unit: number, parts: number): number {
    let smallest = total;
    for (let t = 0; t < parts; t++) smallest = Math.min(smallest, splitPoint(total, unit, parts, t + 1) - splitPoint(total, unit, parts, t));
    return smallest;
  }

  /** Runs part 0 on this thread while threads 1..parts−1 run theirs, then waits for them. */
  function finishParts(parts: number): void {
    for (let t = 1; t < parts; t++) (pool as KernelPool).wait(t - 1);
  }

  /** Elements a [rows, cols] block with leading dimension ld spans, after checking ld. */
  function blockLength(rows: number, cols: number, ld: number, what: string): number {
    checkLength(ld, `${what} leading dimension`);
    if (ld < cols) throw new KernelArgumentError(`${what}: leading dimension ${ld} is less than the row width ${cols}`);
    return rows === 0 || cols === 0 ? 0 : (rows - 1) * ld + cols;
  }

  function gemmBlock(
    transA: boolean, transB: boolean, m: number, n: number, k: number,
    alpha: number, a: Float32Array, lda: number, b: Float32Array, ldb: number, beta: number, c: Float32Array, ldc: number,
  ): void {
    checkLength(m, 'm');
    checkLength(n, 'n');
    checkLength(k, 'k');
    const pa = pointer(a, transA ? blockLength(k, m, lda, 'gemm: A') : blockLength(m, k, lda, 'gemm: A'), 'gemm: A');
    const pb = pointer(b, transB ? blockLength(n, k, ldb, 'gemm: B') : blockLength(k, n, ldb, 'gemm: B'), 'gemm: B');
    const pc = pointer(c, blockLength(m, n, ldc, 'gemm: C'), 'gemm: C');
    if (m === 0 || n === 0) return;
    const ta = transA ? 1 : 0;
    const tb = transB ? 1 : 0;
    if (pool !== null && m * n * k >= PARALLEL_MIN_MACS) {
      // Split C into column or row blocks that each take the kernel's path of the whole product: the
      // tiled kernel (n ≥ 16, m ≥ 4) by 8-column or 4-row blocks, the dot-product kernel by 4-row
      // blocks (n < 16) or by column pairs (m < 4). Every element then sums in the same order.
      const dot = n < DOT_MAX_COLUMNS || m < TILE_ROWS;
      let byColumns: boolean;
      let unit: number;
      if (!dot) {
        byColumns = n >= 2 * TILE_COLS * threads;
        unit = byColumns ? TILE_COLS : TILE_ROWS;
      } else {
        byColumns = m < TILE_ROWS;
        unit = byColumns ? 2 : TILE_ROWS;
      }
      // the tiled kernel's parts must stay wide (≥ 16 columns) or tall (≥ 4 rows) enough to remain tiled
      const smallest = dot ? 1 : byColumns ? DOT_MAX_COLUMNS : TILE_ROWS;
      let parts = Math.min(threads, Math.ceil((byColumns ? n : m) / unit));
      while (parts > 1 && smallestPart(byColumns ? n : m, unit, parts) < smallest) parts--;
      if (parts > 1) {
        for (let t = parts - 1; t >= 0; t--) {
          const from = splitPoint(byColumns ? n : m, unit, parts, t);
          const to = splitPoint(byColumns ? n : m, unit, parts, t + 1);
          const mp = byColumns ? m : to - from;
          const np = byColumns ? to - from : n;
          // byte offsets of the block's first elements
          const a0 = pa + 4 * (byColumns ? 0 : transA ? from : from * lda);
          const b0 = pb + 4 * (byColumns ? (transB ? from * ldb : from) : 0);
          const c0 = pc + 4 * (byColumns ? from : from * ldc);
          const work = gemmScratch(t, ta, tb, mp, np, k);
          if (t > 0) (pool as KernelPool).post(t - 1, Operation.Gemm, ta, tb, mp, np, k, alpha, a0, lda, b0, ldb, beta, c0, ldc, work);
          else wasm.gemm(ta, tb, mp, np, k, alpha, a0, lda, b0, ldb, beta, c0, ldc, work);
        }
        finishParts(parts);
        return;
      }
    }
    wasm.gemm(ta, tb, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc, gemmScratch(0, ta, tb, m, n, k));
  }

  /** Parts an element-wise update of `length` elements is split into (by 16 elements, keeping lanes aligned). */
  function elementParts(length: number): number {
    if (pool === null || length < PARALLEL_MIN_ELEMENTS) return 1;
    return Math.min(threads, Math.ceil(length / 16));
  }

  function checkIndex(index: NonzeroIndex, rows: number, cols: number, what: string): void {
    try {
      checkNonzeroIndex(index, rows, cols, what);
    } catch (error) {
      throw new KernelArgumentError((error as Error).message);
    }
  }

  /** Parts outputs [0, n) of a sparse product are split into (by SPARSE_UNIT columns) when it is large enough. */
  function sparseParts(n: number, macs: number): number {
    if (pool === null || macs < PARALLEL_MIN_MACS) return 1;
    return Math.max(1, Math.min(threads, Math.floor(n / SPARSE_BLOCK)));
  }

  /**
   * Runs a sparse product over its output columns [0, n), split by columns across threads when its
   * `entries` nonzeros make it large enough. Both products take (lists, n, rows of the gathered
   * matrix, start, at, values, gathered matrix, output) and then the columns [n0, n1) to compute.
   */
  function sparseProduct(
    operation: typeof Operation.SparseGemmNN | typeof Operation.SparseGemmTN, entries: number,
    lists: number, n: number, gatheredRows: number, start: number, at: number, values: number, gathered: number, out: number,
  ): void {
    const run = operation === Operation.SparseGemmNN ? wasm.sparseGemmNN : wasm.sparseGemmTN;
    const parts = sparseParts(n, entries * n);
    for (let t = parts - 1; t >= 0; t--) {
      const n0 = splitPoint(n, SPARSE_UNIT, parts, t);
      const n1 = splitPoint(n, SPARSE_UNIT, parts, t + 1);
      if (t > 0) (pool as KernelPool).post(t - 1, operation, lists, n, gatheredRows, start, at, values, gathered, out, n0, n1);
      else run(lists, n, gatheredRows, start, at, values, gathered, out, n0, n1);
    }
    finishParts(parts);
  }

  /** The two pointers, after checking that the `bytes` from each do not overlap (a copy cannot work in place). */
  function distinct(a: number, b: number, bytes: number, what: string): [number, number] {
    if (bytes > 0 && a < b + bytes && b < a + bytes) throw new KernelArgumentError(`${what}: x and out overlap; give out its own array`);
    return [a, b];
  }

  function scaleOf(scale: number, what: string): number {
    try {
      checkScale(scale, what);
    } catch (error) {
      throw new KernelArgumentError((error as Error).message);
    }
    return scale;
  }

  return {
    name,
    memory,
    module,
    gemmBlock,
    sparseDensityLimit: options.sparseDensityLimit ?? DEFAULT_SPARSE_DENSITY_LIMIT,

    get threads() {
      return threads;
    },

    attachPool(started: KernelPool) {
      pool = started;
      threads = started.size + 1;
      while (scratch.length < threads) {
        scratch.push(0);
        scratchBytes.push(0);
      }
    },

    async close() {
      const running = pool;
      pool = null;
      threads = 1;
      if (running) await running.close();
    },

    allocNonzeroIndex(rows, cols) {
      try {
        return allocNonzeroIndex((length) => this.allocI32(length), (length) => this.allocF32(length), rows, cols);
      } catch (error) {
        throw new KernelArgumentError((error as Error).message);
      }
    },

    indexNonzeros(x, rows, cols, index) {
      checkLength(rows, 'rows');
      checkIndex(index, rows, cols, 'indexNonzeros');
      const entries = rows * cols;
      return wasm.indexNonzeros(
        pointer(x, entries, 'indexNonzeros: x'), rows, cols, pointer(index.rowStart, rows + 1, 'indexNonzeros: rowStart'),
        pointer(index.rowCols, entries, 'indexNonzeros: rowCols'), pointer(index.rowValues, entries, 'indexNonzeros: rowValues'),
      );
    },

    indexPixels(pixels, rows, cols, scale, index) {
      checkLength(rows, 'rows');
      checkIndex(index, rows, cols, 'indexPixels');
      const entries = rows * cols;
      return wasm.indexPixels(
        pointer(pixels, entries, 'indexPixels: pixels'), rows, cols, scaleOf(scale, 'indexPixels'),
        pointer(index.rowStart, rows + 1, 'indexPixels: rowStart'), pointer(index.rowCols, entries, 'indexPixels: rowCols'),
        pointer(index.rowValues, entries, 'indexPixels: rowValues'),
      );
    },

    scalePixels(pixels, length, scale, out) {
      checkLength(length, 'length');
      wasm.scalePixels(
        pointer(pixels, length, 'scalePixels: pixels'), length, scaleOf(scale, 'scalePixels'), pointer(out, length, 'scalePixels: out'),
      );
    },

    indexColumns(index, rows) {
      checkLength(rows, 'rows');
      const cols = index.cols;
      checkIndex(index, rows, cols, 'indexColumns');
      const entries = rows * cols;
      wasm.indexColumns(
        rows, cols, pointer(index.rowStart, rows + 1, 'indexColumns: rowStart'),
        pointer(index.rowCols, entries, 'indexColumns: rowCols'), pointer(index.rowValues, entries, 'indexColumns: rowValues'),
        pointer(index.colStart, cols + 1, 'indexColumns: colStart'), pointer(index.colRows, entries, 'indexColumns: colRows'),
        pointer(index.colValues, entries, 'indexColumns: colValues'),
      );
    },

    sparseGemmNN(rows, n, k, index, w, c) {
      checkLength(rows, 'rows');
      checkLength(n, 'n');
      checkIndex(index, rows, k, 'sparseGemmNN');
      sparseProduct(
        Operation.SparseGemmNN, index.rowStart[rows], rows, n, k,
        pointer(index.rowStart, rows + 1, 'sparseGemmNN: rowStart'), pointer(index.rowCols, 0, 'sparseGemmNN: rowCols'),
        pointer(index.rowValues, 0, 'sparseGemmNN: rowValues'), pointer(w, k * n, 'sparseGemmNN: w'), pointer(c, rows * n, 'sparseGemmNN: c'),
      );
    },

    sparseGemmTN(k, n, rows, index, dz, dw) {
      checkLength(rows, 'rows');
      checkLength(n, 'n');
      checkIndex(index, rows, k, 'sparseGemmTN');
      sparseProduct(
        Operation.SparseGemmTN, index.colStart[k], k, n, rows,
        pointer(index.colStart, k + 1, 'sparseGemmTN: colStart'), pointer(index.colRows, 0, 'sparseGemmTN: colRows'),
        pointer(index.colValues, 0, 'sparseGemmTN: colValues'), pointer(dz, rows * n, 'sparseGemmTN: dz'), pointer(dw, k * n, 'sparseGemmTN: dw'),
      );
    },

    toPanels(x, rows, n, out) {
      checkLength(rows, 'rows');
      checkLength(n, 'n');
      const [px, pout] = distinct(pointer(x, rows * n, 'toPanels: x'), pointer(out, rows * n, 'toPanels: out'), 4 * rows * n, 'toPanels');
      wasm.toPanels(px, rows, n, pout);
    },

    fromPanels(x, rows, n, out) {
      checkLength(rows, 'rows');
      checkLength(n, 'n');
      const [px, pout] = distinct(pointer(x, rows * n, 'fromPanels: x'), pointer(out, rows * n, 'fromPanels: out'), 4 * rows * n, 'fromPanels');
      wasm.fromPanels(px, rows, n, pout);
    },

    allocF32(length) {
      checkLength(length, 'length');
      const offset = reserve(4 * length); // first: it may grow the memory, which replaces memory.buffer
      return new Float32Array(memory.buffer, offset, length);
    },

    allocI32(length) {
      checkLength(length, 'length');
      const offset = reserve(4 * length); // first: it may grow the memory, which replaces memory.buffer
      return new Int32Array(memory.buffer, offset, length);
    },

    allocU8(length) {
      checkLength(length, 'length');
      const offset = reserve(length); // first: it may grow the memory, which replaces memory.buffer
      return new Uint8Array(memory.buffer, offset, length);
    },

    gemm(transA, transB, m, n, k, alpha, a, b, beta, c) {
      // dense operands: each stored row is exactly as long as the matrix is wide
      gemmBlock(transA, transB, m, n, k, alpha, a, transA ? m : k, b, transB ? k : n, beta, c, n);
    },

    biasActivation(y, bias, rows, cols, activation) {
      checkLength(rows, 'rows');
      checkLength(cols, 'cols');
      const code = ACTIVATION_CODES[activation];
      if (code === undefined) throw new KernelArgumentError(`unknown activation ${String(activation)}`);
      wasm.biasActivation(pointer(y, rows * cols, 'biasActivation: y'), pointer(bias, cols, 'biasActivation: bias'),
        rows, cols, code);
    },

    activationBackward(activation, y, dy, length) {
      checkLength(length, 'length');
      const code = ACTIVATION_CODES[activation];
      if (code === undefined) throw new KernelArgumentError(`unknown activation ${String(activation)}`);
      wasm.activationBackward(code, pointer(y, length, 'activationBackward: y'),
        pointer(dy, length, 'activationBackward: dy'), length);
    },

    biasGradient(dy, rows, cols, db) {
      checkLength(rows, 'rows');
      checkLength(cols, 'cols');
      wasm.biasGradient(pointer(dy, rows * cols, 'biasGradient: dy'), rows, cols, pointer(db, cols, 'biasGradient: db'));
    },

    softmaxCrossEntropy(logits, labels, rows, cols, grad) {
      checkLength(rows, 'rows');
      checkLength(cols, 'cols');
      const pl = pointer(logits, rows * cols, 'softmaxCrossEntropy: logits');
      const py = pointer(labels, rows, 'softmaxCrossEntropy: labels');
      const pg = pointer(grad, rows * cols, 'softmaxCrossEntropy: grad');
      for (let r = 0; r < rows; r++) {
        const label = labels[r];
        if (!(label >= 0 && label < cols)) throw new KernelArgumentError(`label ${label} of row ${r} is not in [0, ${cols})`);
      }
      return wasm.softmaxCrossEntropy(pl, py, rows, cols, pg);
    },

    softmax(logits, rows, cols, probs) {
      checkLength(rows, 'rows');
      checkLength(cols, 'cols');
      wasm.softmax(pointer(logits, rows * cols, 'softmax: logits'), rows, cols, pointer(probs, rows * cols, 'softmax: probs'));
    },

    sgdUpdate(param, grad, momentumBuffer, length, lr, momentum, dampening, weightDecay, nesterov, firstStep) {
      checkLength(length, 'length');
      const pp = pointer(param, length, 'sgdUpdate: param');
      const pg = pointer(grad, length, 'sgdUpdate: grad');
      const pm = momentum !== 0 ? pointer(momentumBuffer, length, 'sgdUpdate: momentumBuffer') : 0;
      const parts = elementParts(length);
      for (let t = parts - 1; t >= 0; t--) {
        const from = splitPoint(length, 16, parts, t);
        const count = splitPoint(length, 16, parts, t + 1) - from;
        const o = 4 * from;
        if (t > 0) {
          (pool as KernelPool).post(t - 1, Operation.SgdUpdate, pp + o, pg + o, pm === 0 ? 0 : pm + o, count,
            lr, momentum, dampening, weightDecay, nesterov ? 1 : 0, firstStep ? 1 : 0);
        } else {
          wasm.sgdUpdate(pp + o, pg + o, pm === 0 ? 0 : pm + o, count, lr, momentum, dampening, weightDecay,
            nesterov ? 1 : 0, firstStep ? 1 : 0);
        }
      }
      finishParts(parts);
    },

    adamUpdate(param, grad, expAvg, expAvgSq, maxExpAvgSq, length, lr, beta1, beta2, eps, weightDecay,
      decoupled, amsgrad, stepSize, biasCorrection2Sqrt) {
      checkLength(length, 'length');
      const pp = pointer(param, length, 'adamUpdate: param');
      const pg = pointer(grad, length, 'adamUpdate: grad');
      const pm = pointer(expAvg, length, 'adamUpdate: expAvg');
      const pv = pointer(expAvgSq, length, 'adamUpdate: expAvgSq');
      const pmax = amsgrad ? pointer(maxExpAvgSq, length, 'adamUpdate: maxExpAvgSq') : 0;
      const parts = elementParts(length);
      for (let t = parts - 1; t >= 0; t--) {
        const from = splitPoint(length, 16, parts, t);
        const count = splitPoint(length, 16, parts, t + 1) - from;
        const o = 4 * from;
        if (t > 0) {
          (pool as KernelPool).post(t - 1, Operation.AdamUpdate, pp + o, pg + o, pm + o, pv + o, pmax === 0 ? 0 : pmax + o,
            count, lr, beta1, beta2, eps, weightDecay, decoupled ? 1 : 0, amsgrad ? 1 : 0, stepSize, biasCorrection2Sqrt);
        } else {
          wasm.adamUpdate(pp + o, pg + o, pm + o, pv + o, pmax === 0 ? 0 : pmax + o, count, lr, beta1, beta2, eps,
            weightDecay, decoupled ? 1 : 0, amsgrad ? 1 : 0, stepSize, biasCorrection2Sqrt);
        }
      }
      finishParts(parts);
    },

    adagradUpdate(param, grad, stateSum, length, clr, weightDecay, eps) {
      checkLength(length, 'length');
      wasm.adagradUpdate(
        pointer(param, length, 'adagradUpdate: param'), pointer(grad, length, 'adagradUpdate: grad'),
        pointer(stateSum, length, 'adagradUpdate: stateSum'), length, clr, weightDecay, eps,
      );
    },

    rmspropUpdate(param, grad, squareAvg, gradAvg, momentumBuffer, length, lr, alpha, eps, weightDecay, momentum,
      centered) {
      checkLength(length, 'length');
      wasm.rmspropUpdate(
        pointer(param, length, 'rmspropUpdate: param'), pointer(grad, length, 'rmspropUpdate: grad'),
        pointer(squareAvg, length, 'rmspropUpdate: squareAvg'),
        centered ? pointer(gradAvg, length, 'rmspropUpdate: gradAvg') : 0,
        momentum > 0 ? pointer(momentumBuffer, length, 'rmspropUpdate: momentumBuffer') : 0,
        length, lr, alpha, eps, weightDecay, momentum, centered ? 1 : 0,
      );
    },
  };
}

function align(bytes: number): number {
  return Math.ceil(bytes / ALIGNMENT) * ALIGNMENT;
}
