/**
 * A thread that opens one study folder when told to, for the test of processes starting one study at
 * the same moment: it waits on a shared flag so that every thread opens at once, then says how it went.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteStudyStorage } from '../../src/study/storage-sqlite.js';

const { go, folders } = workerData as { go: SharedArrayBuffer; folders: string[] };
const flag = new Int32Array(go);
const outcomes: string[] = [];
for (let round = 0; round < folders.length; round++) {
  parentPort!.postMessage({ ready: round });
  Atomics.wait(flag, 0, round);
  try {
    const storage = SqliteStudyStorage.open(folders[round], { create: true });
    await storage.close();
    outcomes.push('ok');
  } catch (error) {
    outcomes.push((error as Error).message);
  }
}
parentPort!.postMessage({ outcomes });
