import type { RandomState } from '../core/random.js';
import type { NamedTensor } from '../io/model-config.js';
import { decodeSafetensors, encodeSafetensors } from '../io/safetensors.js';
import type { Sequential } from '../nn/sequential.js';
import type { Optimizer } from '../optim/index.js';
import type { ConvergenceState } from './convergence.js';
import type { EpochRecord, TrainSettings } from './settings.js';

/**
 * A checkpoint is one safetensors file, written atomically after every epoch: the weights
 * (`model.*`), the best epoch's weights (`best.*`), the optimizer's buffers (`optimizer.*`), and in
 * the metadata, as JSON, everything else a run needs to continue exactly where it was: the epoch,
 * the history, the shuffling generator's state, the optimizer's scalars, early-stopping counters.
 * `model.*` is in PyTorch's layout; `best.*` and the optimizer's buffers are in the layout the network
 * computes with (Sequential.params(): the first layer's weight is [in, out] since version 2, in column panels
 * since version 3), which is why an older checkpoint cannot be resumed.
 */
const MAGIC = 'digitlab-checkpoint';
const VERSION = 3;

export interface CheckpointState {
  /** Completed epochs. */
  epoch: number;
  history: EpochRecord[];
  shuffleRandom: RandomState;
  /** The model's own generator (dropout masks); absent in checkpoints of models without one. */
  modelRandom?: RandomState;
  /** The augmenter's generator; absent in checkpoints of runs without augmentation. */
  augmentRandom?: RandomState;
  convergence: ConvergenceState;
  bestEpoch: number;
  bestValLoss: number;
  epochsWithoutImprovement: number;
  diverged: boolean;
  stoppedEarly: boolean;
}

/**
 * Where a run keeps its checkpoint: a file (fileCheckpointStore), or anything else that holds bytes
 * (a browser tab's IndexedDB). Only the last checkpoint is kept.
 */
export interface CheckpointStore {
  /** Names the checkpoint in messages and events (a file's path). */
  readonly name: string;
  /** The last checkpoint's bytes, or null when there is none. */
  read(): Promise<Uint8Array | null>;
  /** Replaces the checkpoint; until the new one is whole, the old one stays. */
  write(bytes: Uint8Array): Promise<void>;
}

/** The checkpoint file at `path`, replaced atomically (Node.js only: the file modules load on first use). */
export function fileCheckpointStore(path: string): CheckpointStore {
  return {
    name: path,
    async read() {
      const { readFile } = await import('node:fs/promises');
      try {
        return await readFile(path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw error;
      }
    },
    async write(bytes) {
      const { writeFileAtomic } = await import('../io/atomic.js');
      await writeFileAtomic(path, bytes);
    },
  };
}

export class CheckpointError extends Error {
  constructor(path: string, problem: string) {
    super(`checkpoint ${path}: ${problem}`);
    this.name = 'CheckpointError';
  }
}

/** The checkpoint of a run as safetensors bytes. */
export function encodeCheckpoint(
  settings: TrainSettings, state: CheckpointState, model: Sequential, optimizer: Optimizer, best: Float32Array[],
): Uint8Array {
  const tensors: NamedTensor[] = [];
  for (const t of model.toTensors()) tensors.push({ ...t, name: `model.${t.name}` });
  model.snapshotNames().forEach((name, i) => tensors.push({ name: `best.${name}`, shape: [best[i].length], data: best[i] }));
  const optimizerJson = splitTensors(optimizer.state(), 'optimizer', tensors);
  const header = {
    magic: MAGIC,
    version: VERSION,
    settings,
    // JSON has no Infinity: an unset best loss is written as null.
    state: { ...state, bestValLoss: Number.isFinite(state.bestValLoss) ? state.bestValLoss : null },
    optimizer: optimizerJson,
  };
  return encodeSafetensors(tensors, { digitlab: JSON.stringify(header) });
}

/**
 * Restores model, optimizer and best weights from a checkpoint's bytes (`path` names them in errors)
 * and returns the run state. A checkpoint from other settings is refused: continuing it with these
 * settings would not be the same run.
 */
export function decodeCheckpoint(
  bytes: Uint8Array, path: string, settings: TrainSettings, model: Sequential, optimizer: Optimizer, best: Float32Array[],
): CheckpointState {
  const { tensors, metadata } = decodeSafetensors(bytes, path);
  let header: { magic?: string; version?: number; settings?: TrainSettings; state?: CheckpointState; optimizer?: unknown };
  try {
    header = JSON.parse(metadata?.digitlab ?? 'null') ?? {};
  } catch {
    throw new CheckpointError(path, 'its metadata is not valid JSON; delete it to start the run over');
  }
  if (header.magic !== MAGIC) throw new CheckpointError(path, 'not a digitlab checkpoint; delete it or choose another --out');
  if (header.version !== VERSION) {
    const why = header.version === 1 || header.version === 2
      ? ': the first layer\'s weights and their optimizer state have changed layout since' : '';
    throw new CheckpointError(
      path,
      `version ${header.version} is not supported (this digitlab reads version ${VERSION}${why}); ` +
      'drop --resume or delete it to start the run over',
    );
  }
  const differences = differingSettings(header.settings ?? ({} as TrainSettings), settings);
  if (differences.length > 0) {
    throw new CheckpointError(
      path,
      `it was made with other settings (${differences.join('; ')}); rerun with the same options to resume, or drop --resume to start over`,
    );
  }
  const named = new Map<string, NamedTensor>();
  for (const [name, t] of tensors) named.set(name, { name, shape: t.shape, data: t.data });
  const take = (prefix: string): NamedTensor[] =>
    [...named.values()].filter((t) => t.name.startsWith(prefix)).map((t) => ({ ...t, name: t.name.slice(prefix.length) }));
  try {
    model.loadTensors(take('model.'));
    const bestTensors = new Map(take('best.').map((t) => [t.name, t]));
    model.snapshotNames().forEach((name, i) => {
      const t = bestTensors.get(name);
      if (!t || t.data.length !== best[i].length) throw new Error(`missing best.${name}`);
      best[i].set(t.data);
    });
    optimizer.loadState(joinTensors(header.optimizer, 'optimizer', named) as ReturnType<Optimizer['state']>);
  } catch (error) {
    throw new CheckpointError(path, `${(error as Error).message}; delete it to start the run over`);
  }
  const state = header.state as CheckpointState;
  state.bestValLoss = state.bestValLoss ?? Infinity;
  return state;
}

/** Names of the settings that differ (compared as JSON). */
function differingSettings(saved: TrainSettings, current: TrainSettings): string[] {
  const keys = new Set([...Object.keys(saved), ...Object.keys(current)]) as Set<keyof TrainSettings>;
  const out: string[] = [];
  for (const key of keys) {
    // The epoch count may grow: resuming with more epochs continues the same run further, unless a
    // one-cycle schedule spans the run (no totalSteps of its own): more epochs make another schedule.
    const spansRun = current.schedule?.type === 'onecycle' && current.schedule.totalSteps === undefined;
    if (key === 'epochs' && !spansRun) continue;
    const a = JSON.stringify(saved[key]);
    const b = JSON.stringify(current[key]);
    if (a !== b) out.push(`${key}: ${a} then, ${b} now`);
  }
  return out;
}

/** Moves every Float32Array of a state object into `tensors` (named by its path) and returns the rest as JSON. */
function splitTensors(value: unknown, path: string, tensors: NamedTensor[]): unknown {
  if (value instanceof Float32Array) {
    tensors.push({ name: path, shape: [value.length], data: value });
    return { $tensor: path };
  }
  if (Array.isArray(value)) return value.map((v, i) => splitTensors(v, `${path}.${i}`, tensors));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, splitTensors(v, `${path}.${k}`, tensors)]));
  }
  return value;
}

function joinTensors(value: unknown, path: string, tensors: Map<string, NamedTensor>): unknown {
  if (Array.isArray(value)) return value.map((v) => joinTensors(v, path, tensors));
  if (value && typeof value === 'object') {
    const ref = (value as { $tensor?: string }).$tensor;
    if (typeof ref === 'string') {
      const t = tensors.get(ref);
      if (!t) throw new Error(`missing tensor ${ref}`);
      return t.data;
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, joinTensors(v, path, tensors)]));
  }
  return value;
}
