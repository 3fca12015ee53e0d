/**
 * What the page and its training worker (train-worker.ts) say to each other. The worker loads the data
 * and the kernels itself, so the images never cross threads; it keeps a checkpoint in IndexedDB after
 * each epoch (store.ts) and sends the trained model's two files when the run ends.
 */
import type { EpochRecord, RunRequest } from '../../src/browser.js';

/** Where the worker gets its data: the server's or the static site's manifest, or IDX files the user chose. */
export type DataChoice =
  | { kind: 'manifest'; url: string }
  | { kind: 'files'; files: Array<{ name: string; bytes: ArrayBuffer }> };

export type ToWorker =
  | {
    type: 'start';
    /** The run's key in IndexedDB (its checkpoint and record). */
    id: string;
    request: Partial<RunRequest>;
    data: DataChoice;
    /** Where the kernels' .wasm files are. */
    kernels: string;
    /** Continue from the run's checkpoint. */
    resume: boolean;
    threads: number;
  }
  | { type: 'stop' };

/** The test set's mistakes, as the server's gallery gives them. */
export interface GalleryData {
  data: string;
  accuracy: number;
  count: number;
  confusion: number[][];
  inputShape: [number, number];
  wrong: Array<{ index: number; label: number; predicted: number; confidence: number; pixels: string }>;
}

export type FromWorker =
  | { type: 'status'; text: string }
  | { type: 'start'; network: string; params: number; trainImages: number; epochs: number; threads: number; kernels: string; resumedEpoch: number }
  | { type: 'progress'; epoch: number; batch: number; batches: number; loss: number; samplesPerSecond: number }
  | { type: 'epoch'; record: EpochRecord }
  | { type: 'done'; config: Record<string, unknown>; weights: ArrayBuffer; testAccuracy: number; testLoss: number; seconds: number; samplesPerSecond: number; gallery: GalleryData }
  | { type: 'stopped'; message: string; checkpointEpoch: number }
  | { type: 'failed'; message: string };
