/**
 * What the kernel pool (pool.ts) and its threads (pool-worker.ts) agree on: the layout of a thread's
 * control slot and the kernel each operation number runs.
 */

/** Int32 fields of a thread's control slot (one 128-byte slot per thread, so threads share no cache line). */
export const Slot = {
  /** Raised by the caller for each request. */
  Request: 0,
  /** Set by the thread to the request it finished. */
  Done: 1,
  Operation: 2,
  /** Set by the thread when the kernel trapped. */
  Failed: 3,
} as const;
export const CONTROL_INTS = 32;
/** Float64 arguments per request. */
export const ARGUMENTS = 16;

/** Exported kernel functions by operation number; 0 stops the thread. */
export const OPERATIONS: readonly (string | null)[] = [
  null, 'gemm', 'sparseGemmNN', 'sparseGemmTN', 'sgdUpdate', 'adamUpdate', 'adagradUpdate', 'rmspropUpdate',
];
export const Operation = {
  Stop: 0,
  Gemm: 1,
  SparseGemmNN: 2,
  SparseGemmTN: 3,
  SgdUpdate: 4,
  AdamUpdate: 5,
  AdagradUpdate: 6,
  RmspropUpdate: 7,
} as const;

export interface PoolWorkerData {
  module: unknown;
  memory: unknown;
  control: SharedArrayBuffer;
  args: SharedArrayBuffer;
  slot: number;
  /** Polls of the request word before sleeping in Atomics.wait. */
  spin: number;
}
