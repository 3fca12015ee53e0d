/**
 * One browser thread of the kernel pool (a Web Worker started by browser-pool.ts): the first message
 * brings the module, the shared memory and the control slot; then it runs the request loop of
 * pool-thread.ts until the pool stops it.
 */
import { servePoolRequests } from './pool-thread.js';
import type { PoolWorkerData } from './pool-protocol.js';

interface WorkerScope {
  onmessage: ((event: { data: PoolWorkerData }) => void) | null;
  postMessage(message: unknown): void;
}

const scope = globalThis as unknown as WorkerScope;
scope.onmessage = (event) => {
  scope.onmessage = null;
  servePoolRequests(event.data, () => scope.postMessage('ready'));
};
