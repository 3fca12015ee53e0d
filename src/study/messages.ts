/** What the scheduler and a trial's worker thread say to each other. */
import type { KernelBackend } from '../core/index.js';
import type { EpochRecord, TrainSettings } from '../train/trainer.js';

/** Values of the shared verdict flag a worker waits on at a rung. */
export const VERDICT = { waiting: 0, keep: 1, prune: 2 } as const;

/** The worker's `workerData`. */
export interface TrialInput {
  kind: 'digitlab-trial';
  data: string;
  validation: number;
  trainSubset: number | null;
  settings: TrainSettings;
  /** The trial's folder: checkpoint.safetensors and model/. */
  dir: string;
  backend: KernelBackend;
  /** Epochs after which the worker waits for a verdict (empty without pruning). */
  rungs: number[];
  /** An Int32Array's buffer of one element (see VERDICT). */
  verdict: SharedArrayBuffer;
}

export interface TrialTimings {
  load: number;
  train: number;
  save?: number;
}

export interface FinishedTrial {
  params: number;
  bytes: number;
  bestEpoch: number;
  testAccuracy: number;
  testLoss: number;
  convergedEpoch: number | null;
  secondsToConverge: number | null;
  seconds: number;
  diverged: boolean;
  confusion: number[][];
  modelDir: string | null;
}

export type WorkerMessage =
  | { type: 'started'; params: number; bytes: number; kernels: string; trainImages: number }
  | { type: 'resumed'; epoch: number; history: EpochRecord[] }
  | { type: 'batch'; epoch: number; batch: number; batches: number }
  | { type: 'epoch'; record: EpochRecord }
  | { type: 'rung'; epoch: number; metric: number }
  | { type: 'done'; result: FinishedTrial; timings: TrialTimings }
  | { type: 'pruned'; timings: TrialTimings }
  | { type: 'stopped'; timings: TrialTimings }
  | { type: 'error'; message: string };
