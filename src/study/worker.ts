/**
 * One trial in its own worker thread: loads the data, creates its own kernels, trains with a
 * checkpoint in the trial's folder, and reports every epoch to the scheduler. At a successive-halving
 * rung it waits (Atomics.wait on a shared flag) for the scheduler's verdict, so a pruned trial stops
 * exactly at the rung and never trains a batch of the next epoch.
 */
import { trainAndSave } from '../train/model-config.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { createKernels, type KernelBackend, type KernelOptions } from '../core/index.js';
import type { Kernels } from '../core/kernels.js';
import { sliceDataset, type DatasetSplits } from '../data/dataset.js';
import { loadData } from '../data/source.js';
import { decodeSafetensors } from '../io/safetensors.js';
import { TrainingAbortedError, TrainingRun, type EpochRecord } from '../train/trainer.js';
import { VERDICT, type TrialInput, type WorkerMessage } from './messages.js';

/** The training split, optionally cut to its first `trainSubset` images (a quicker study). */
export function loadTrialData(source: string, validation: number | null, trainSubset: number | null): DatasetSplits {
  const data = loadData(source, { validation: validation ?? undefined });
  if (trainSubset === null || trainSubset >= data.train.count) return data;
  return { ...data, train: sliceDataset(data.train, 0, trainSubset) };
}

/**
 * The only place a trial creates kernels. Trials already run one per core, so each trial's kernels
 * must keep to one thread; a kernel thread pool, where available, is asked for a single thread.
 */
export function createTrialKernels(backend: KernelBackend): Promise<Kernels> {
  const options: KernelOptions & { threads?: number } = { backend, threads: 1 };
  return createKernels(options);
}

/**
 * The epochs a checkpoint has recorded. The process may have died after the checkpoint was written
 * but before the scheduler stored its epoch, so the resumed trial hands its whole history back.
 */
function checkpointHistory(path: string): EpochRecord[] {
  const { metadata } = decodeSafetensors(readFileSync(path), path);
  const header = JSON.parse(metadata?.digitlab ?? '{}') as { state?: { history?: EpochRecord[] } };
  return header.state?.history ?? [];
}

async function runTrial(input: TrialInput): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('the trial worker must run in a worker thread');
  const post = (message: WorkerMessage) => port.postMessage(message);
  const controller = new AbortController();
  port.on('message', (message: { type: string }) => {
    if (message.type === 'stop') controller.abort();
  });
  const verdict = new Int32Array(input.verdict);
  let pruned = false;

  const started = performance.now();
  const data = loadTrialData(input.data, input.validation, input.trainSubset);
  const kernels = await createTrialKernels(input.backend);
  const loadSeconds = (performance.now() - started) / 1000;
  const run = new TrainingRun({
    kernels,
    data,
    settings: input.settings,
    checkpointPath: join(input.dir, 'checkpoint.safetensors'),
    resume: true,
    signal: controller.signal,
  });
  post({ type: 'started', params: run.model.parameterCount, bytes: run.model.byteSize, kernels: kernels.name, trainImages: data.train.count });
  run.on('resumed', ({ epoch, path }) => post({ type: 'resumed', epoch, history: checkpointHistory(path) }));
  let lastBatchPost = 0;
  run.on('batchEnd', ({ epoch, batch, batches }) => {
    const now = performance.now();
    // A few updates a second are enough for a progress line.
    if (now - lastBatchPost < 250 && batch !== batches) return;
    lastBatchPost = now;
    post({ type: 'batch', epoch, batch, batches });
  });
  run.on('epochEnd', (record) => {
    post({ type: 'epoch', record });
    if (input.rungs.includes(record.epoch) && Number.isFinite(record.val_loss) && record.epoch < input.settings.epochs) {
      Atomics.store(verdict, 0, VERDICT.waiting);
      post({ type: 'rung', epoch: record.epoch, metric: record.val_accuracy ?? NaN });
      Atomics.wait(verdict, 0, VERDICT.waiting);
      if (Atomics.load(verdict, 0) === VERDICT.prune) {
        pruned = true;
        controller.abort();
      }
    }
  });

  const trainStarted = performance.now();
  const modelDir = join(input.dir, 'model');
  let result;
  let config;
  let saveSeconds;
  try {
    ({ result, config, saveSeconds } = await trainAndSave(run, modelDir, { skipDiverged: true }));
  } catch (error) {
    if (error instanceof TrainingAbortedError) {
      post({ type: pruned ? 'pruned' : 'stopped', timings: { load: loadSeconds, train: (performance.now() - trainStarted) / 1000 } });
      return;
    }
    throw error;
  }
  const trainSeconds = (performance.now() - trainStarted) / 1000 - saveSeconds;
  post({
    type: 'done',
    result: {
      params: result.params,
      bytes: result.bytes,
      bestEpoch: result.best_epoch,
      testAccuracy: result.test.accuracy,
      testLoss: result.test.loss,
      convergedEpoch: result.converged_epoch,
      secondsToConverge: result.seconds_to_converge,
      seconds: result.seconds,
      diverged: result.diverged,
      confusion: result.test.confusion,
      modelDir: config ? modelDir : null,
    },
    timings: { load: loadSeconds, train: trainSeconds, save: saveSeconds },
  });
}

if (parentPort && workerData?.kind === 'digitlab-trial') {
  runTrial(workerData as TrialInput).catch((error: Error) => {
    parentPort?.postMessage({ type: 'error', message: error?.message ?? String(error) } satisfies WorkerMessage);
  });
}
