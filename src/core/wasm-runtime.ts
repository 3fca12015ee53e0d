/**
 * What every WebAssembly kernel binding shares (src/core/ops/*.ts): the instance's exports, the one
 * shared memory with its bump allocator, the checks that turn a typed array into a byte offset, and the
 * thread pool with the deterministic split points that keep results independent of the thread count.
 */
import type { KernelPool } from './pool.js';
import type { PoolOperation } from './pool-protocol.js';
import { KernelArgumentError, KernelMemoryError, type WasmMemory } from './wasm-api.js';

/** Must equal MAXIMUM_PAGES in scripts/build-wasm.mjs: the import's limit (2 GiB in 64 KiB pages). */
export const MAXIMUM_PAGES = 32768;
const PAGE_BYTES = 65536;
const ALIGNMENT = 16;

/** Multiply-adds below which a product stays on the calling thread. */
export const PARALLEL_MIN_MACS = 1 << 18;
/** Elements below which an element-wise kernel stays on the calling thread. */
export const PARALLEL_MIN_ELEMENTS = 1 << 16;

function align(bytes: number): number {
  return Math.ceil(bytes / ALIGNMENT) * ALIGNMENT;
}

export function checkLength(length: number, what: string): void {
  if (!Number.isInteger(length) || length < 0) throw new KernelArgumentError(`${what} must be a non-negative integer, got ${length}`);
}

/**
 * Where part `part` of `parts` begins when `total` items are split in units of `unit` (the last part
 * ends at total): a deterministic, nearly even split.
 */
export function splitPoint(total: number, unit: number, parts: number, part: number): number {
  if (part >= parts) return total;
  const units = Math.ceil(total / unit);
  return Math.min(total, Math.round((units * part) / parts) * unit);
}

/** The size of the smallest part when `total` is split into `parts` by `splitPoint`. */
export function smallestPart(total: number, unit: number, parts: number): number {
  let smallest = total;
  for (let t = 0; t < parts; t++) smallest = Math.min(smallest, splitPoint(total, unit, parts, t + 1) - splitPoint(total, unit, parts, t));
  return smallest;
}

/** Calls `check` and reports what it throws as a KernelArgumentError (shared checks throw RangeError). */
export function asArgumentError(check: () => void): void {
  try {
    check();
  } catch (error) {
    throw new KernelArgumentError((error as Error).message);
  }
}

export class WasmRuntime {
  private top: number;
  private readonly canaryOffset: number;
  private canaryValue = 0;
  private readonly verifiedBuffers = new WeakSet<ArrayBufferLike>();
  private pool: KernelPool | null = null;
  private threadCount = 1;
  private readonly threadListeners: ((threads: number) => void)[] = [];

  constructor(
    readonly memory: WasmMemory,
    heapBase: number,
  ) {
    this.top = align(heapBase);
    this.canaryOffset = this.reserve(ALIGNMENT);
  }

  /** Threads kernels may split work across, the calling thread included. */
  get threads(): number {
    return this.threadCount;
  }

  /** Lets a binding grow per-thread state (scratch regions) when a pool is attached. */
  onThreads(listener: (threads: number) => void): void {
    this.threadListeners.push(listener);
  }

  attachPool(pool: KernelPool): void {
    this.pool = pool;
    this.threadCount = pool.size + 1;
    for (const listener of this.threadListeners) listener(this.threadCount);
  }

  async close(): Promise<void> {
    const running = this.pool;
    this.pool = null;
    this.threadCount = 1;
    if (running) await running.close();
  }

  /** `bytes` of memory (16-byte aligned, never freed), growing the memory when needed. */
  reserve(bytes: number): number {
    const start = this.top;
    const end = align(start + bytes);
    const available = this.memory.buffer.byteLength;
    if (end > available) {
      const pages = Math.ceil((end - available) / PAGE_BYTES);
      try {
        this.memory.grow(pages);
      } catch (error) {
        throw new KernelMemoryError(
          `cannot grow WebAssembly memory to ${end} bytes (limit ${MAXIMUM_PAGES * PAGE_BYTES}): ${String(error)}`,
        );
      }
    }
    this.top = end;
    return start;
  }

  /** A zero-filled view of `length` floats of the memory (never freed). */
  allocF32(length: number): Float32Array {
    checkLength(length, 'length');
    const offset = this.reserve(4 * length); // first: it may grow the memory, which replaces memory.buffer
    return new Float32Array(this.memory.buffer, offset, length);
  }

  allocI32(length: number): Int32Array {
    checkLength(length, 'length');
    const offset = this.reserve(4 * length); // first: it may grow the memory, which replaces memory.buffer
    return new Int32Array(this.memory.buffer, offset, length);
  }

  allocU8(length: number): Uint8Array {
    checkLength(length, 'length');
    const offset = this.reserve(length); // first: it may grow the memory, which replaces memory.buffer
    return new Uint8Array(this.memory.buffer, offset, length);
  }

  // Which SharedArrayBuffers are views of this memory. Identity is not enough: growing the memory gives
  // memory.buffer a new object while older views keep the old one, and V8 may hand out more than one
  // object for the same memory. So a buffer is tested once by writing a fresh value into a reserved
  // word of the memory and reading it back through the buffer; then it is remembered.
  private isViewOfMemory(buffer: ArrayBufferLike): boolean {
    if (this.verifiedBuffers.has(buffer)) return true;
    if (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength < this.canaryOffset + 4) return false;
    const ours = new Int32Array(this.memory.buffer, this.canaryOffset, 1);
    const theirs = new Int32Array(buffer, this.canaryOffset, 1);
    for (let attempt = 0; attempt < 2; attempt++) {
      this.canaryValue = (this.canaryValue + 1) | 0;
      ours[0] = this.canaryValue;
      if (theirs[0] !== this.canaryValue) return false;
    }
    this.verifiedBuffers.add(buffer);
    return true;
  }

  /** The byte offset of `array` in the memory, after checking it lives there and holds `needed` elements. */
  pointer(array: Float32Array | Int32Array | Uint8Array, needed: number, what: string): number {
    if (!this.isViewOfMemory(array.buffer)) {
      throw new KernelArgumentError(`${what} is not in this kernel memory: allocate it with kernels.allocF32/allocI32/allocU8`);
    }
    if (array.length < needed) {
      throw new KernelArgumentError(`${what} has ${array.length} elements, the call needs ${needed}`);
    }
    return array.byteOffset;
  }

  /** Parts a job can be split into: 1 without a pool or below `minimum` work, else up to `most`. */
  parts(work: number, minimum: number, most: number): number {
    if (this.pool === null || work < minimum) return 1;
    return Math.max(1, Math.min(this.threadCount, most));
  }

  /** Sends part `part` (≥ 1) of a split job to its thread; the caller runs part 0 itself. */
  post(
    part: number, operation: PoolOperation,
    a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0,
    a8 = 0, a9 = 0, a10 = 0, a11 = 0, a12 = 0, a13 = 0, a14 = 0, a15 = 0,
  ): void {
    (this.pool as KernelPool).post(part - 1, operation, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15);
  }

  /** Waits for parts 1..parts−1 (run part 0 on this thread between posting them and calling this). */
  finish(parts: number): void {
    for (let t = 1; t < parts; t++) (this.pool as KernelPool).wait(t - 1);
  }

  /** The two pointers, after checking that the `bytes` from each do not overlap (a copy cannot work in place). */
  distinct(a: number, b: number, bytes: number, what: string): [number, number] {
    if (bytes > 0 && a < b + bytes && b < a + bytes) throw new KernelArgumentError(`${what}: x and out overlap; give out its own array`);
    return [a, b];
  }
}
