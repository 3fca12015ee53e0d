/**
 * A quick model for a first start (or a static site), when no trained model exists yet: one hidden
 * layer of 128 nodes, Adam for two epochs under a one-cycle schedule peaking at 0.01, on the given
 * data (on the bundled MNIST, 784-128-10 at about 97.5% test accuracy after a few seconds).
 */
import { join } from 'node:path';
import { createKernels } from '../core/index.js';
import { loadData } from '../data/source.js';
import { parseSchedule } from '../optim/schedules.js';
import { trainAndSave } from '../train/model-config.js';
import { DEFAULT_SETTINGS, TrainingRun } from '../train/trainer.js';

export const DEFAULT_MODEL_NAME = 'default';

/** Trains the quick model into runsDir/default and returns the folder and its test accuracy. */
export async function trainDefaultModel(runsDir: string, data = 'mnist'): Promise<{ dir: string; testAccuracy: number }> {
  const splits = loadData(data);
  const settings = { ...DEFAULT_SETTINGS, hidden: [128], optimizer: 'adam' as const, optimizerOptions: { lr: 0.001 }, schedule: parseSchedule('onecycle:0.01', 2), epochs: 2, batchSize: 64, seed: 1 };
  const run = new TrainingRun({ kernels: await createKernels(), data: splits, settings });
  const dir = join(runsDir, DEFAULT_MODEL_NAME);
  const { result } = await trainAndSave(run, dir);
  return { dir, testAccuracy: result.test.accuracy };
}
