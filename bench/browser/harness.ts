/**
 * Training samples/s as the trainer runs it, the same code in Node and in a browser's worker: a
 * TrainingRun (Adam, 1e-3) whose batches are counted after 10 warm-up batches, for `seconds`, then
 * stopped. Batch filling, forward, loss, backward, the optimizer's step, the shuffle at each epoch's
 * start and the trainer's own yields to the event loop are all in the figure; validation is not (the
 * run holds out no images, so there is none).
 */
import {
  buildModelSpec, DEFAULT_SETTINGS, presetLayers, sliceDataset, TrainingAbortedError, TrainingRun, type DatasetSplits, type Kernels, type TrainSettings,
} from '../../src/browser.js';

export interface TrainingSpeed {
  samples_per_second: number;
  batches: number;
}

function settingsFor(network: string, batch: number): TrainSettings {
  const mlp = /^784-(\d+)-10$/.exec(network);
  const base = { ...DEFAULT_SETTINGS, optimizer: 'adam' as const, optimizerOptions: { lr: 1e-3 }, epochs: 1000, batchSize: batch, seed: 0, earlyStoppingPatience: null };
  if (mlp) return { ...base, hidden: [Number(mlp[1])], activation: 'relu' };
  buildModelSpec([1, 28, 28], presetLayers(network), 10); // an unknown preset fails here, by name
  return { ...base, layers: presetLayers(network) };
}

export async function trainingSpeed(kernels: Kernels, data: DatasetSplits, network: string, batch: number, seconds: number): Promise<TrainingSpeed> {
  const controller = new AbortController();
  const train = { ...data, validation: sliceDataset(data.validation, 0, 0) };
  const run = new TrainingRun({ kernels, data: train, settings: settingsFor(network, batch), signal: controller.signal });
  const WARMUP = 10;
  let seen = 0;
  let started = 0;
  let samples = 0;
  let batches = 0;
  let ended = 0;
  run.on('batchEnd', () => {
    const now = performance.now();
    if (++seen <= WARMUP) {
      started = now;
      return;
    }
    samples += batch;
    batches++;
    ended = now;
    if (now - started > seconds * 1000) controller.abort();
  });
  try {
    await run.run();
    throw new Error(`${network}: 1000 epochs ended before ${seconds} s of batches`);
  } catch (error) {
    if (!(error instanceof TrainingAbortedError)) throw error;
  }
  return { samples_per_second: (samples * 1000) / (ended - started), batches };
}
