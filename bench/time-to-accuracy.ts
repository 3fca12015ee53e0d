// One digitlab run of 784-800-10 (batch 128, Adam lr 1e-3) until 98.0% test accuracy, timed from
// process start (module loading and data reading count, as for PyTorch's import). Prints one JSON line.
// Usage: node --import tsx bench/time-to-accuracy.ts SEED [THREADS]
import { createKernels } from '../src/core/index.js';
import { loadData } from '../src/data/index.js';
import { evaluate } from '../src/train/evaluate.js';
import { DEFAULT_SETTINGS, TrainingAbortedError, TrainingRun } from '../src/train/trainer.js';

const seed = Number(process.argv[2] ?? 0);
const threads = Number(process.argv[3] ?? 2);
const target = 0.98;
const kernels = await createKernels({ backend: 'wasm', threads });
const data = loadData('mnist');
const controller = new AbortController();
const run = new TrainingRun({
  kernels, data, signal: controller.signal,
  settings: { ...DEFAULT_SETTINGS, hidden: [800], batchSize: 128, optimizer: 'adam', optimizerOptions: { lr: 1e-3 }, epochs: 20, seed },
});
let reached: { epochs: number; accuracy: number; seconds: number } | null = null;
let last = 0;
run.on('epochEnd', (e) => {
  last = evaluate(run.model, data.test).accuracy;
  if (last >= target && reached === null) {
    reached = { epochs: e.epoch, accuracy: last, seconds: process.uptime() };
    controller.abort();
  }
});
try {
  await run.run();
} catch (error) {
  if (!(error instanceof TrainingAbortedError)) throw error;
}
console.log(JSON.stringify(reached === null ? { seed, epochs: null, accuracy: last, seconds: null } : { seed, ...(reached as object) }));
await kernels.close();
