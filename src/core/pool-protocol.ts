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
  /**
   * The last request taken to run, by the thread or by the caller: whoever moves it from the request
   * before to this one (compare-exchange) runs it. A caller done with its own part takes a request its
   * thread has not started (the thread asleep, or its core busy elsewhere) instead of waiting for it.
   */
  Claimed: 4,
} as const;
export const CONTROL_INTS = 32;
/** Float64 arguments per request. */
export const ARGUMENTS = 16;

/**
 * The exported kernel functions a thread can run: operation number i + 1 runs POOL_KERNELS[i], 0 stops
 * the thread. A kernel that splits across threads adds its export's name here.
 */
export const POOL_KERNELS = [
  'gemm', 'sparseGemmNN', 'sparseGemmTN', 'sgdUpdate', 'adamUpdate', 'adagradUpdate', 'rmspropUpdate',
  'conv2dForward', 'conv2dInputGrad', 'conv2dWeightGrad', 'maxpool2dForward', 'maxpool2dBackward', 'avgpool2dForward',
  'avgpool2dBackward', 'conv2dForwardSparse', 'conv2dWeightGradSparse',
  'conv2dInputGradSparse', 'conv2dWeightGradSparseDy', 'indexNonzeroRows', 'warpImagesU8', 'warpImagesF32',
] as const;
export type PoolKernel = (typeof POOL_KERNELS)[number];

/** An operation number (see POOL_KERNELS). */
export type PoolOperation = number & { readonly __operation?: true };
export const STOP: PoolOperation = 0;
export const Operation = Object.fromEntries(POOL_KERNELS.map((name, i) => [name, i + 1])) as Record<PoolKernel, PoolOperation>;

export interface PoolWorkerData {
  module: unknown;
  memory: unknown;
  control: SharedArrayBuffer;
  args: SharedArrayBuffer;
  slot: number;
  /** Polls of the request word before sleeping in Atomics.wait. */
  spin: number;
}
