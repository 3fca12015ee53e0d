/**
 * One Node.js thread of the kernel pool (src/core/pool.ts): runs the request loop of pool-thread.ts on
 * the data the pool started it with, and says it is ready with a message.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { servePoolRequests } from './pool-thread.js';
import type { PoolWorkerData } from './pool-protocol.js';

servePoolRequests(workerData as PoolWorkerData, () => parentPort?.postMessage('ready'));
