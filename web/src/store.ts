/**
 * What the page keeps in this browser (IndexedDB, database "digitlab"): runs trained here (their
 * request and epochs so far, to offer a resume after a reload), each run's last checkpoint, and the
 * models trained here (config and weights, listed beside the server's). The page and its training
 * worker both open it.
 */
import type { CheckpointStore, EpochRecord, RunRequest } from '../../src/browser.js';
import type { DataChoice, GalleryData } from './train-protocol.js';

const DATABASE = 'digitlab';
const STORES = ['runs', 'checkpoints', 'models'] as const;
type StoreName = (typeof STORES)[number];

export interface StoredRun {
  id: string;
  request: Partial<RunRequest>;
  /** The data it trains on (IDX files the user chose are kept with it, so a resume can reread them). */
  data: DataChoice;
  epochs: EpochRecord[];
  /** How many epochs the run asked for. */
  planned: number;
  status: 'running' | 'done' | 'stopped' | 'failed';
  updated: number;
}

export interface StoredModel {
  id: string;
  config: Record<string, unknown>;
  weights: Uint8Array;
  created: number;
  /** Its test-set mistakes, computed where it was trained. */
  gallery?: GalleryData;
}

let opened: Promise<IDBDatabase> | null = null;

function database(): Promise<IDBDatabase> {
  opened ??= new Promise((resolve, reject) => {
    const request = indexedDB.open(DATABASE, 1);
    request.onupgradeneeded = () => {
      for (const name of STORES) if (!request.result.objectStoreNames.contains(name)) request.result.createObjectStore(name);
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(new Error(`this browser's storage (IndexedDB) could not be opened: ${request.error?.message ?? 'refused'}`));
  });
  return opened;
}

function done<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error('an IndexedDB request failed'));
  });
}

/** Runs `work` in one transaction over `stores`; resolves with its last request's result once the transaction has completed. */
async function transaction<T>(stores: StoreName | StoreName[], mode: IDBTransactionMode, work: (...stores: IDBObjectStore[]) => IDBRequest<T>): Promise<T> {
  const db = await database();
  const names = Array.isArray(stores) ? stores : [stores];
  const tx = db.transaction(names, mode);
  const result = done(work(...names.map((name) => tx.objectStore(name))));
  // a write is kept only once its transaction completes
  await new Promise<void>((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error ?? new Error(`writing ${names.join(' and ')} to IndexedDB failed`));
    tx.onabort = () => reject(tx.error ?? new Error(`writing ${names.join(' and ')} to IndexedDB was aborted (is the storage full?)`));
  });
  return result;
}

export const getRun = (id: string) => transaction<StoredRun | undefined>('runs', 'readonly', (s) => s.get(id));
export const putRun = (run: StoredRun) => transaction('runs', 'readwrite', (s) => s.put(run, run.id));
export const deleteRun = (id: string) => transaction(['runs', 'checkpoints'], 'readwrite', (runs, checkpoints) => {
  runs.delete(id);
  return checkpoints.delete(id);
});
export const listRuns = () => transaction<StoredRun[]>('runs', 'readonly', (s) => s.getAll());
export const getModel = (id: string) => transaction<StoredModel | undefined>('models', 'readonly', (s) => s.get(id));
export const putModel = (model: StoredModel) => transaction('models', 'readwrite', (s) => s.put(model, model.id));
export const listModels = () => transaction<StoredModel[]>('models', 'readonly', (s) => s.getAll());

/**
 * A run's checkpoint in IndexedDB. Each write replaces the checkpoint and the run's record (`record`
 * gives it for the checkpoint's bytes) in one transaction: a reload at any moment finds the two in
 * step, the last whole checkpoint beside the epochs it holds.
 */
export function checkpointStore(id: string, record: (bytes: Uint8Array) => StoredRun): CheckpointStore {
  return {
    name: `this browser's checkpoint of ${id}`,
    async read() {
      const bytes = await transaction<Uint8Array | undefined>('checkpoints', 'readonly', (s) => s.get(id));
      return bytes ?? null;
    },
    async write(bytes) {
      const run = record(bytes);
      await transaction(['checkpoints', 'runs'], 'readwrite', (checkpoints, runs) => {
        checkpoints.put(bytes, id);
        return runs.put(run, id);
      });
    },
  };
}

/** The epochs a checkpoint's metadata records (the run state train/checkpoint.ts writes), read from its header alone. */
export function checkpointHistory(bytes: Uint8Array): EpochRecord[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length))) as { __metadata__?: { digitlab?: string } };
  const state = (JSON.parse(header.__metadata__?.digitlab ?? '{}') as { state?: { history?: EpochRecord[] } }).state;
  return state?.history ?? [];
}
