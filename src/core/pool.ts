/**
 * A pool of worker threads that run kernels on the same WebAssembly memory as the calling thread.
 * Threads are started once and stay; a request is written into a shared control slot and signalled
 * with Atomics.notify (the thread spins briefly before sleeping, the caller spins briefly before
 * waiting), so a call allocates nothing and posts no message. A caller that finishes its own part
 * before a thread has started its one runs that part itself, on its own instance of the module (see
 * Slot.Claimed): a thread that sleeps or whose core is taken then costs no wait. Every part computes
 * the same whichever thread runs it, so results do not change. The caller splits the work: see wasm-runtime.ts and the bindings in ops/.
 * The threads are Node.js worker threads, or a browser's Web Workers (browser-pool.ts); either way the
 * caller blocks in Atomics.wait, which browsers allow in a worker but not on a page's main thread.
 */
import { ARGUMENTS, CONTROL_INTS, POOL_KERNELS, STOP, Slot, type PoolOperation, type PoolWorkerData } from './pool-protocol.js';
import type { WasmMemory, WasmModule } from './wasm-api.js';

/** Polls of a thread's request word before it sleeps: on the order of 100 µs. */
const WORKER_SPIN = 50_000;
/** Polls of a thread's done word before the caller sleeps. */
const CALLER_SPIN = 20_000;
/** Seconds without an answer after which a thread is taken for dead. */
const STALL_SECONDS = 120;

export class KernelPoolError extends Error {
  override name = 'KernelPoolError';
}

/** A started thread, as the pool holds it. */
export interface PoolThread {
  terminate(): unknown;
}

/** Starts one thread of the pool on `data`; resolves once the thread is ready for requests. */
export type PoolThreadLauncher = (data: PoolWorkerData) => Promise<PoolThread>;

type KernelFunction = (...args: number[]) => unknown;
interface WasmInstanceApi {
  Instance: new (module: unknown, imports: object) => { exports: Record<string, KernelFunction> };
}

export class KernelPool {
  private readonly state: Int32Array;
  private readonly args: Float64Array;
  private closed = false;

  /** The pool kernels on the calling thread's own instance (operation number i + 1 at index i + 1). */
  private readonly local: (KernelFunction | undefined)[];

  private constructor(
    private readonly workers: PoolThread[],
    control: SharedArrayBuffer,
    args: SharedArrayBuffer,
    module: WasmModule,
    memory: WasmMemory,
  ) {
    this.state = new Int32Array(control);
    this.args = new Float64Array(args);
    const wasm = (globalThis as unknown as { WebAssembly: WasmInstanceApi }).WebAssembly;
    const exports = new wasm.Instance(module, { env: { memory } }).exports;
    this.local = [undefined, ...POOL_KERNELS.map((name) => exports[name])];
  }

  /**
   * Starts `count` threads on `module` and `memory` (Node.js worker threads unless `launch` says
   * otherwise); resolves when every one is ready.
   */
  static async start(module: WasmModule, memory: WasmMemory, count: number, launch: PoolThreadLauncher = launchNodeThread): Promise<KernelPool> {
    const control = new SharedArrayBuffer(count * CONTROL_INTS * 4);
    const args = new SharedArrayBuffer(count * ARGUMENTS * 8);
    const started = await Promise.allSettled(
      Array.from({ length: count }, (_, slot) => launch({ module, memory, control, args, slot, spin: WORKER_SPIN })),
    );
    const threads = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) {
      await Promise.all(threads.map((t) => t.terminate()));
      const reason = failed.reason as Error;
      throw reason instanceof KernelPoolError ? reason : new KernelPoolError(`a kernel thread failed to start: ${reason.message}`);
    }
    return new KernelPool(threads, control, args, module, memory);
  }

  get size(): number {
    return this.workers.length;
  }

  /** Sends thread `index` one kernel call (up to 16 numeric arguments); `wait(index)` collects it. */
  post(
    index: number, operation: PoolOperation,
    a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0,
    a8 = 0, a9 = 0, a10 = 0, a11 = 0, a12 = 0, a13 = 0, a14 = 0, a15 = 0,
  ): void {
    if (this.closed) throw new KernelPoolError('the kernel pool is closed');
    const a = this.args;
    const base = index * ARGUMENTS;
    a[base] = a0; a[base + 1] = a1; a[base + 2] = a2; a[base + 3] = a3;
    a[base + 4] = a4; a[base + 5] = a5; a[base + 6] = a6; a[base + 7] = a7;
    a[base + 8] = a8; a[base + 9] = a9; a[base + 10] = a10; a[base + 11] = a11;
    a[base + 12] = a12; a[base + 13] = a13; a[base + 14] = a14; a[base + 15] = a15;
    const slot = index * CONTROL_INTS;
    this.state[slot + Slot.Operation] = operation;
    Atomics.add(this.state, slot + Slot.Request, 1); // a sequentially consistent write publishes the arguments
    Atomics.notify(this.state, slot + Slot.Request, 1);
  }

  /** Blocks until thread `index` has finished its last request, or runs it here if the thread has not started it. */
  wait(index: number): void {
    const slot = index * CONTROL_INTS;
    const request = Atomics.load(this.state, slot + Slot.Request);
    if (Atomics.compareExchange(this.state, slot + Slot.Claimed, request - 1, request) === request - 1) {
      const run = this.local[this.state[slot + Slot.Operation]];
      if (run !== undefined) {
        const a = this.args;
        const b = index * ARGUMENTS;
        run(a[b], a[b + 1], a[b + 2], a[b + 3], a[b + 4], a[b + 5], a[b + 6], a[b + 7],
          a[b + 8], a[b + 9], a[b + 10], a[b + 11], a[b + 12], a[b + 13], a[b + 14], a[b + 15]);
      }
      return;
    }
    let spins = 0;
    let idleSeconds = 0;
    for (;;) {
      const done = Atomics.load(this.state, slot + Slot.Done);
      if (done === request) break;
      if (++spins > CALLER_SPIN && Atomics.wait(this.state, slot + Slot.Done, done, 1000) === 'timed-out') {
        // One kernel call takes milliseconds: a thread silent this long has died, and waiting on would
        // hang the process with no word of why.
        if (++idleSeconds >= STALL_SECONDS) {
          throw new KernelPoolError(`kernel thread ${index + 1} has not answered for ${STALL_SECONDS} s; it has probably stopped`);
        }
      }
    }
    if (this.state[slot + Slot.Failed] !== 0) {
      this.state[slot + Slot.Failed] = 0;
      throw new KernelPoolError(`a kernel failed on thread ${index + 1} (out-of-bounds memory access?)`);
    }
  }

  /** Stops the threads. */
  async close(): Promise<void> {
    if (this.closed) return;
    for (let i = 0; i < this.workers.length; i++) this.post(i, STOP);
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** Starts a Node.js worker thread running pool-worker.ts. */
async function launchNodeThread(workerData: PoolWorkerData): Promise<PoolThread> {
  const { Worker } = await import('node:worker_threads');
  // Compiled code runs the .js next to this file; sources (tests, benchmarks) run through tsx, which
  // the thread then loads too.
  const here = import.meta.url;
  const fromSource = here.endsWith('.ts');
  const script = new URL(fromSource ? './pool-worker.ts' : './pool-worker.js', here);
  const worker = fromSource
    ? new Worker(
      `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})` +
        `.then((tsx) => { tsx.register(); return import(${JSON.stringify(script.href)}); })`,
      { eval: true, workerData },
    )
    : new Worker(script, { workerData });
  try {
    await new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', (error) => reject(new KernelPoolError(`a kernel thread failed to start: ${error.message}`)));
    });
  } catch (error) {
    await worker.terminate();
    throw error;
  }
  worker.unref(); // idle threads must not keep the process alive
  return worker;
}
