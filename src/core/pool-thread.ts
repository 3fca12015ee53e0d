/**
 * The request loop of one kernel-pool thread (pool.ts), whatever started the thread: instantiates the
 * kernel module on the shared memory, calls `ready`, then waits for requests in its control slot and
 * runs them until the stop request. A request is an operation number and up to 16 numeric arguments
 * (byte offsets, sizes, scalars) written into shared memory, so no message is posted per call. It
 * blocks in Atomics.wait, so it runs only where that is allowed: a Node.js thread, a browser worker.
 */
import { ARGUMENTS, CONTROL_INTS, POOL_KERNELS, Slot, type PoolWorkerData } from './pool-protocol.js';

type KernelFunction = (...args: number[]) => unknown;
interface WasmInstanceApi {
  Instance: new (module: unknown, imports: object) => { exports: Record<string, KernelFunction> };
}

export function servePoolRequests(data: PoolWorkerData, ready: () => void): void {
  const { module, memory, control, args, slot, spin } = data;
  const wasm = (globalThis as unknown as { WebAssembly: WasmInstanceApi }).WebAssembly;
  const exports = new wasm.Instance(module, { env: { memory } }).exports;
  // operation 0 (no function) stops the thread
  const operations: (KernelFunction | undefined)[] = [undefined, ...POOL_KERNELS.map((name) => exports[name])];
  const state = new Int32Array(control, slot * CONTROL_INTS * 4, CONTROL_INTS);
  const a = new Float64Array(args, slot * ARGUMENTS * 8, ARGUMENTS);

  // The last request handled is the one Done names (only this thread writes Done), never a fresh read
  // of Request: the caller may post its first request as soon as 'ready' arrives, before this thread
  // would get to read Request, and a thread that took that request for an old one would wait forever.
  let seen = Atomics.load(state, Slot.Done);
  ready();

  for (;;) {
    // spin briefly (the next request of a training step usually follows within microseconds), then sleep
    let spins = 0;
    while (Atomics.load(state, Slot.Request) === seen) {
      if (++spins > spin) {
        Atomics.wait(state, Slot.Request, seen);
        spins = 0;
      }
    }
    seen = Atomics.load(state, Slot.Request);
    // the caller may have taken this request already (see Slot.Claimed); then it is only acknowledged
    if (Atomics.compareExchange(state, Slot.Claimed, seen - 1, seen) === seen - 1) {
      const run = operations[state[Slot.Operation]];
      if (run === undefined) break; // the stop request
      try {
        run(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13], a[14], a[15]);
      } catch {
        state[Slot.Failed] = 1;
      }
    }
    Atomics.store(state, Slot.Done, seen);
    Atomics.notify(state, Slot.Done);
  }
}
