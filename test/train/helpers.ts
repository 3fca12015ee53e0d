import { sliceDataset, type DatasetSplits } from '../../src/data/dataset.js';
import { loadData } from '../../src/data/source.js';
import assert from 'node:assert/strict';
import type { Kernels } from '../../src/core/index.js';
import { DEFAULT_SETTINGS, TrainingAbortedError, TrainingRun, type TrainResult, type TrainSettings } from '../../src/train/trainer.js';

/** A small slice of the bundled MNIST, so training tests take a second. */
export function smallMnist(train = 2000, validation = 500, test = 500): DatasetSplits {
  const full = loadData('mnist');
  return {
    source: 'mnist-small',
    train: sliceDataset(full.train, 0, train),
    validation: sliceDataset(full.validation, 0, validation),
    test: sliceDataset(full.test, 0, test),
  };
}

export function settings(overrides: Partial<TrainSettings> = {}): TrainSettings {
  return { ...DEFAULT_SETTINGS, hidden: [32], epochs: 3, batchSize: 20, seed: 5, ...overrides };
}

/**
 * A run of `settings` stopped (by its abort signal) after `batch` batches of epoch `epoch`, then
 * resumed from its checkpoint at `path` to the end: the resumed run and its result.
 */
export async function interruptAndResume(
  kernels: Kernels, data: DatasetSplits, settings: TrainSettings, path: string, stopAt: { epoch: number; batch: number },
): Promise<{ run: TrainingRun; result: TrainResult; resumedAt: number }> {
  const controller = new AbortController();
  const first = new TrainingRun({ kernels, data, settings, checkpointPath: path, signal: controller.signal });
  let batches = 0;
  first.on('batchEnd', ({ epoch }) => {
    if (epoch === stopAt.epoch && ++batches === stopAt.batch) controller.abort();
  });
  await assert.rejects(first.run(), TrainingAbortedError);
  const run = new TrainingRun({ kernels, data, settings, checkpointPath: path, resume: true });
  let resumedAt = -1;
  run.on('resumed', ({ epoch }) => (resumedAt = epoch));
  const result = await run.run();
  return { run, result, resumedAt };
}

/** Asserts that two runs ended with the same weights, bit for bit. */
export function assertSameWeights(a: TrainingRun, b: TrainingRun): void {
  const theirs = b.model.params();
  a.model.params().forEach((p, i) => assert.deepEqual(theirs[i].value, p.value, `${p.name} differs after resuming`));
}
