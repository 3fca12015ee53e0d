/**
 * The kernel pool's threads in a browser: Web Workers that share the kernels' WebAssembly memory. The
 * caller of a pooled kernel blocks in Atomics.wait, which a browser allows in a worker only, so kernels
 * with threads are for a worker (a training worker), never for a page's main thread.
 */
import { KernelPoolError, type PoolThread, type PoolThreadLauncher } from './pool.js';

interface BrowserWorker extends PoolThread {
  onmessage: (() => void) | null;
  onerror: ((event: { message?: string }) => void) | null;
  postMessage(message: unknown): void;
  terminate(): void;
}
type WorkerConstructor = new (url: URL, options: { type: 'module'; name: string }) => BrowserWorker;
// a browser's global (and not Node's): declared here, since the library is compiled without the DOM's types
declare const Worker: WorkerConstructor;

/** True on a worker's thread, where Atomics.wait is allowed. */
export function canBlock(): boolean {
  const scope = globalThis as { WorkerGlobalScope?: unknown; document?: unknown };
  return scope.WorkerGlobalScope !== undefined && scope.document === undefined;
}

/** Starts a Web Worker running pool-worker-web.ts on the pool's data. */
export const launchWebWorkerThread: PoolThreadLauncher = (data) => {
  if (typeof Worker === 'undefined') return Promise.reject(new KernelPoolError('this browser context cannot start workers: load the kernels with threads: 1'));
  return new Promise((resolve, reject) => {
    // written out as `new Worker(new URL(…, import.meta.url))`, the form bundlers recognize and bundle the worker for
    const worker = new Worker(new URL('./pool-worker-web.js', import.meta.url), { type: 'module', name: `digitlab kernels ${data.slot + 1}` });
    worker.onmessage = () => {
      worker.onmessage = null;
      worker.onerror = null;
      resolve(worker);
    };
    worker.onerror = (event) => {
      worker.terminate();
      reject(new KernelPoolError(`a kernel thread failed to start: ${event.message ?? 'the worker script did not load'}`));
    };
    worker.postMessage(data);
  });
};
