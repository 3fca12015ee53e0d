// One digitlab run until a test accuracy, timed from process start (module loading and data reading
// count, as for PyTorch's import). Prints one JSON line.
//   mlp (default): 784-800-10, batch 128, Adam lr 1e-3, until 98.0%
//   cnn:           the cnn preset, batch 128, Adam with one-cycle to 0.01 over 2 epochs, until 99.0%
//                  (bench/pytorch_cnn.py's RECIPE)
// Usage: node --import tsx bench/time-to-accuracy.ts SEED [THREADS] [--recipe mlp|cnn]
import { createKernels } from '../src/core/index.js';
import { loadData } from '../src/data/index.js';
import { presetLayers } from '../src/io/layer-text.js';
import { parseSchedule } from '../src/optim/schedules.js';
import { evaluate } from '../src/train/evaluate.js';
import { DEFAULT_SETTINGS, TrainingAbortedError, TrainingRun, type TrainSettings } from '../src/train/trainer.js';

const args = process.argv.slice(2);
const recipeAt = args.indexOf('--recipe');
const recipe = recipeAt >= 0 ? args.splice(recipeAt, 2)[1] : 'mlp';
if (recipe !== 'mlp' && recipe !== 'cnn') throw new Error(`--recipe is mlp or cnn, got ${recipe}`);
const seed = Number(args[0] ?? 0);
const threads = Number(args[1] ?? 2);
const target = recipe === 'cnn' ? 0.99 : 0.98;
const settings: TrainSettings = recipe === 'cnn'
  ? { ...DEFAULT_SETTINGS, layers: presetLayers('cnn'), batchSize: 128, optimizer: 'adam', optimizerOptions: { lr: 0.01 }, epochs: 2, schedule: parseSchedule('onecycle:0.01', 2), seed }
  : { ...DEFAULT_SETTINGS, hidden: [800], batchSize: 128, optimizer: 'adam', optimizerOptions: { lr: 1e-3 }, epochs: 20, seed };
const kernels = await createKernels({ backend: 'wasm', threads });
const data = loadData('mnist');
const controller = new AbortController();
const run = new TrainingRun({ kernels, data, signal: controller.signal, settings });
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
console.log(JSON.stringify(reached === null ? { recipe, seed, epochs: null, accuracy: last, seconds: null } : { recipe, seed, ...(reached as object) }));
await kernels.close();
