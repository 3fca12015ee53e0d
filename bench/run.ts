// The benchmark suite: training and inference samples/s, time to 98% test accuracy, GEMM GFLOPS per
// shape and thread count, peak RSS of `digitlab train --hidden 800`, the thread/sparse equivalence
// of the loss curve, a study on PostgreSQL under load (bench/study-claims.ts) and training in a browser
// tab beside Node (bench/browser.ts). Writes bench/results/latest.json and latest.md.
//
//   npm run bench                 digitlab alone; asserts what it can measure alone
//   npm run bench -- --compare    also runs bench/pytorch_mlp.py and bench/tfjs_mlp.mjs in this run and
//                                 writes the ratios of the acceptance targets
//   --quick                       skips the time-to-accuracy runs
//   --rounds N                    rounds of the throughput measurements (default 3)
//
// These machines are shared and their speed drifts by tens of percent within minutes, so a library
// measured only after the other can win or lose by the drift alone. The throughput measurements
// therefore run in rounds, digitlab then PyTorch in each, and each library's figure is its best round
// (noise only ever slows a run down); the time-to-accuracy runs alternate likewise, seed by seed. Every
// round's figures are kept in latest.json.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createKernels, createWasmKernels, relaxedSimdSupported, type Kernels } from '../src/core/index.js';
import { loadData } from '../src/data/index.js';
import { presetLayers } from '../src/io/layer-text.js';
import { buildModelSpec, type ModelSpec } from '../src/io/model-spec.js';
import { mlpModelSpec } from '../src/nn/mlp.js';
import { Sequential } from '../src/nn/sequential.js';
import { createOptimizer } from '../src/optim/index.js';
import { Augmenter, DEFAULT_AFFINE, DEFAULT_ELASTIC, type AugmentSpec } from '../src/data/augment.js';
import { BatchBuffer } from '../src/train/batches.js';
import { gemmGflops } from './gemm-speed.js';
import { DEFAULT_SETTINGS, TrainingRun } from '../src/train/trainer.js';
import { sliceDataset } from '../src/data/dataset.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const compare = args.has('--compare');
const quick = args.has('--quick');
const roundsArg = process.argv.indexOf('--rounds');
const rounds = roundsArg > 0 ? Number(process.argv[roundsArg + 1]) : 3;
if (!(Number.isInteger(rounds) && rounds >= 1)) throw new Error(`--rounds takes a whole number ≥ 1, got ${process.argv[roundsArg + 1]}`);
const log = (line: string) => process.stderr.write(`${line}\n`);

const data = loadData('mnist');

/** The networks of the throughput rows: `784-H-10` MLPs and the presets. */
function networkSpec(config: string): ModelSpec {
  const mlp = /^784-(\d+)-10$/.exec(config);
  return mlp ? mlpModelSpec({ inputs: 784, hidden: [Number(mlp[1])], classes: 10, activation: 'relu' }) : buildModelSpec([1, 28, 28], presetLayers(config), 10);
}

/**
 * Training samples/s: batch filling (with `augment`, its distortion too), forward, loss, backward and
 * the Adam step, as the trainer runs them.
 */
function trainingSpeed(kernels: Kernels, network: string, batch: number, seconds = 4, augment?: AugmentSpec): number {
  const train = data.train;
  const augmenter = augment ? new Augmenter(kernels, augment, 1, batch, train.height, train.width) : undefined;
  const model = Sequential.create(kernels, networkSpec(network), 0);
  const optimizer = createOptimizer('adam', kernels, model.params(), { lr: 1e-3 });
  model.reserve(batch);
  const buffer = new BatchBuffer(model, batch);
  const order = new Uint32Array(train.count).map((_, i) => i);
  const batches = Math.floor(train.count / batch);
  const step = (b: number) => {
    buffer.fill(train, order, (b % batches) * batch, batch, augmenter);
    buffer.forward(batch, true);
    model.lossAndGradient(buffer.labels, batch);
    model.backward(batch);
    optimizer.step();
  };
  for (let b = 0; b < 10; b++) step(b);
  let steps = 0;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) step(steps++);
  return (steps * batch) / ((performance.now() - start) / 1000);
}

/** Milliseconds to distort one batch of `batch` training images (the augmenter alone, best of 5 runs of 1 s). */
function augmentationMs(kernels: Kernels, augment: AugmentSpec, batch: number): number {
  const train = data.train;
  const size = train.height * train.width;
  const src = kernels.allocU8(batch * size);
  src.set(train.images.subarray(0, batch * size));
  const out = kernels.allocU8(batch * size);
  const augmenter = new Augmenter(kernels, augment, 1, batch, train.height, train.width);
  for (let i = 0; i < 20; i++) augmenter.apply(src, batch, out);
  let best = Infinity;
  for (let run = 0; run < 5; run++) {
    let count = 0;
    const start = performance.now();
    while (performance.now() - start < 1000) {
      augmenter.apply(src, batch, out);
      count++;
    }
    best = Math.min(best, (performance.now() - start) / count);
  }
  return best;
}

/** Batch-1000 images/s of a network: forward and softmax. */
function batchInferenceSpeed(kernels: Kernels, network: string): number {
  const test = data.test;
  const model = Sequential.create(kernels, networkSpec(network), 0);
  const buffer = new BatchBuffer(model, 1000);
  const probs = kernels.allocF32(1000 * 10);
  const order = new Uint32Array(test.count).map((_, i) => i);
  const once = (run: number) => {
    buffer.fill(test, order, (run % 10) * 1000, 1000);
    kernels.softmax(buffer.forward(1000), 1000, 10, probs);
  };
  once(0);
  let runs = 0;
  const start = performance.now();
  while (performance.now() - start < 2000 || runs < 3) once(runs++);
  return (runs * 1000) / ((performance.now() - start) / 1000);
}

/** Single-image latency (median, µs) and batch-1000 images/s of 784-800-10: forward and softmax. */
function inferenceSpeed(kernels: Kernels): { single_image_microseconds: number; batch1000_images_per_second: number } {
  const test = data.test;
  const model = Sequential.create(kernels, networkSpec('784-800-10'), 0);
  const buffer = new BatchBuffer(model, 1000);
  const probs = kernels.allocF32(1000 * 10);
  const times: number[] = [];
  const one = new Uint32Array(1);
  for (let i = 0; i < 2200; i++) {
    one[0] = i % test.count;
    const start = performance.now();
    buffer.fill(test, one, 0, 1);
    kernels.softmax(buffer.forward(1), 1, 10, probs);
    if (i >= 200) times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  let runs = 0;
  const order = new Uint32Array(test.count).map((_, i) => i);
  const start = performance.now();
  while (performance.now() - start < 2000 || runs < 3) {
    buffer.fill(test, order, (runs % 10) * 1000, 1000);
    kernels.softmax(buffer.forward(1000), 1000, 10, probs);
    runs++;
  }
  return {
    single_image_microseconds: times[times.length >> 1] * 1000,
    batch1000_images_per_second: (runs * 1000) / ((performance.now() - start) / 1000),
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length % 2 ? sorted[sorted.length >> 1] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
}

/** Runs a command, returning its last stdout line parsed as JSON (null when it failed). */
function runJson(command: string, commandArgs: string[], env: NodeJS.ProcessEnv = process.env): { json: unknown; stderr: string } {
  const result = spawnSync(command, commandArgs, { cwd: root, env, encoding: 'utf8', maxBuffer: 1 << 26 });
  const lines = (result.stdout ?? '').trim().split('\n');
  try {
    return { json: JSON.parse(lines[lines.length - 1]), stderr: result.stderr ?? '' };
  } catch {
    log(`${command} ${commandArgs.join(' ')} failed (exit ${result.status}): ${(result.stderr ?? '').slice(-2000)}`);
    return { json: null, stderr: result.stderr ?? '' };
  }
}

/** Loss curves of a short run (3,000 images, 3 epochs, 784-300-10 at batch 100, Adam). */
async function lossCurve(threads: number, sparseDensityLimit: number): Promise<number[]> {
  const kernels = await createKernels({ backend: 'wasm', threads, sparseDensityLimit });
  const small = { ...data, train: sliceDataset(data.train, 0, 3000), validation: sliceDataset(data.validation, 0, 500), test: sliceDataset(data.test, 0, 500) };
  const run = new TrainingRun({ kernels, data: small, settings: { ...DEFAULT_SETTINGS, hidden: [300], batchSize: 100, epochs: 3, seed: 5 } });
  const result = await run.run();
  await kernels.close();
  return result.epochs.flatMap((e) => [e.train_loss, e.val_loss ?? NaN]);
}

const maxDifference = (a: number[], b: number[]) => Math.max(...a.map((v, i) => Math.abs(v - b[i])));

// ---------------------------------------------------------------------------------------------------
const started = new Date().toISOString();
const load = loadavg();
log(`load average ${load.map((v) => v.toFixed(2)).join(' ')} on ${cpus().length} cores${load[0] > 1.5 ? ' (busy: figures will be noisy)' : ''}`);
const relaxed = await relaxedSimdSupported();
const checks: { name: string; pass: boolean; detail: string }[] = [];

// GEMM
const gemm: { backend: string; form: string; m: number; n: number; k: number; threads: number; gflops: number }[] = [];
for (const useRelaxed of relaxed ? [true, false] : [false]) {
  for (const threads of [1, 2]) {
    const kernels = await createWasmKernels({ relaxed: useRelaxed, threads });
    for (const [form, transA, transB, m, n, k] of [
      ['NN', false, false, 128, 784, 800], ['NT', false, true, 128, 800, 784], ['TN', true, false, 800, 784, 128],
      ['NT', false, true, 64, 128, 784],
    ] as const) {
      const gflops = gemmGflops(kernels, transA, transB, m, n, k);
      gemm.push({ backend: kernels.name, form, m, n, k, threads, gflops });
      log(`gemm ${kernels.name} ${form} ${m}×${n}×${k}, ${threads} thread(s): ${gflops.toFixed(1)} GFLOPS`);
    }
    await kernels.close();
  }
}
for (const backend of new Set(gemm.map((g) => g.backend))) {
  const g = gemm.find((x) => x.backend === backend && x.threads === 1 && x.m === 128 && x.n === 784 && x.k === 800) as (typeof gemm)[number];
  const bar = backend === 'wasm-relaxed-simd' ? 45 : 36;
  checks.push({ name: `GEMM 128×784×800, 1 thread, ${backend} ≥ ${bar} GFLOPS`, pass: g.gflops >= bar, detail: `${g.gflops.toFixed(1)} GFLOPS` });
}

// training and inference throughput, in rounds alternating with PyTorch's (see the top of this file)
interface Throughput {
  training: { config: string; threads: number; samples_per_second: number }[];
  inference: { single_image_microseconds: number; batch1000_images_per_second: number };
  /** Batch-1000 images/s of the convolutional presets. */
  cnnInference: { config: string; threads: number; images_per_second: number }[];
}
async function measureThroughput(): Promise<Throughput> {
  const training: Throughput['training'] = [];
  for (const [network, batch] of [['784-800-10', 128], ['784-128-10', 64], ['lenet5', 128], ['cnn', 128]] as const) {
    for (const threads of [1, 2]) {
      const kernels = await createKernels({ backend: 'wasm', threads });
      const samples = trainingSpeed(kernels, network, batch);
      await kernels.close();
      training.push({ config: `${network} b${batch}`, threads, samples_per_second: samples });
      log(`train ${network} b${batch}, ${threads} thread(s): ${samples.toFixed(0)} samples/s`);
    }
  }
  const cnnInference: Throughput['cnnInference'] = [];
  for (const network of ['lenet5', 'cnn']) {
    for (const threads of [1, 2]) {
      const kernels = await createKernels({ backend: 'wasm', threads });
      const images = batchInferenceSpeed(kernels, network);
      await kernels.close();
      cnnInference.push({ config: `${network} b1000`, threads, images_per_second: images });
      log(`inference ${network} b1000, ${threads} thread(s): ${images.toFixed(0)} images/s`);
    }
  }
  const inferenceKernels = await createKernels({ backend: 'wasm', threads: 1 });
  const inference = inferenceSpeed(inferenceKernels);
  await inferenceKernels.close();
  log(`inference 784-800-10, 1 thread: ${inference.single_image_microseconds.toFixed(1)} µs per image, ${inference.batch1000_images_per_second.toFixed(0)} images/s at batch 1000`);
  return { training, inference, cnnInference };
}

/** Each figure's best over the rounds: the highest throughput, the lowest latency. */
function bestOf(results: Throughput[]): Throughput {
  return {
    training: results[0].training.map((t) => ({
      ...t,
      samples_per_second: Math.max(...results.map((r) => r.training.find((u) => u.config === t.config && u.threads === t.threads)?.samples_per_second ?? 0)),
    })),
    inference: {
      single_image_microseconds: Math.min(...results.map((r) => r.inference.single_image_microseconds)),
      batch1000_images_per_second: Math.max(...results.map((r) => r.inference.batch1000_images_per_second)),
    },
    cnnInference: (results[0].cnnInference ?? []).map((t) => ({
      ...t,
      images_per_second: Math.max(...results.map((r) => r.cnnInference?.find((u) => u.config === t.config && u.threads === t.threads)?.images_per_second ?? 0)),
    })),
  };
}

const python = '/usr/bin/python3';
const pythonEnv = { ...process.env, LD_LIBRARY_PATH: '/usr/lib/x86_64-linux-gnu/openblas-openmp' };
interface Library { library: string; blas?: string[]; training?: Throughput['training']; inference?: Throughput['inference'] }
type PytorchResults = Library & {
  time_to_accuracy?: { seconds: number | null }[]; time_to_accuracy_median?: number | null;
  cnnInference?: Throughput['cnnInference']; mkldnn?: boolean;
  cnn_time_to_accuracy?: { seconds: number | null }[]; cnn_time_to_accuracy_median?: number | null;
};
const digitlabRounds: Throughput[] = [];
const pytorchRounds: PytorchResults[] = [];
for (let round = 1; round <= rounds; round++) {
  log(`round ${round} of ${rounds}`);
  digitlabRounds.push(await measureThroughput());
  if (compare) {
    log(`load average before PyTorch: ${loadavg()[0].toFixed(2)}`);
    const json = runJson(python, [join('bench', 'pytorch_mlp.py')], pythonEnv).json as PytorchResults | null;
    const cnn = runJson(python, [join('bench', 'pytorch_cnn.py'), '--rounds', '1'], pythonEnv).json as
      { training?: Throughput['training']; inference?: Throughput['cnnInference']; mkldnn?: boolean } | null;
    if (json) {
      pytorchRounds.push({ ...json, training: [...(json.training ?? []), ...(cnn?.training ?? [])], cnnInference: cnn?.inference ?? [], mkldnn: cnn?.mkldnn });
      log(`PyTorch: ${JSON.stringify(pytorchRounds[pytorchRounds.length - 1])}`);
    }
  }
}
const { training, inference, cnnInference } = bestOf(digitlabRounds);

// equivalence of the loss curve
const oneThread = await lossCurve(1, 1);
const twoThreads = await lossCurve(2, 1);
const dense = await lossCurve(2, 0);
const threadDifference = maxDifference(oneThread, twoThreads);
const sparseDifference = maxDifference(twoThreads, dense);
checks.push({ name: 'loss curve, 1 vs 2 threads, within 1e-4', pass: threadDifference <= 1e-4, detail: `max difference ${threadDifference}` });
checks.push({ name: 'loss curve, sparse vs dense first layer, within 1e-4', pass: sparseDifference <= 1e-4, detail: `max difference ${sparseDifference}` });

// the cost of augmentation: distorting a batch against a cnn training step, side by side on each thread count
const augmentation: { threads: number; spec: string; batch_ms: number; cnn_step_ms: number; share: number; cnn_plain_samples_per_second: number; cnn_augmented_samples_per_second: number }[] = [];
for (const threads of [1, 2]) {
  const kernels = await createKernels({ backend: 'wasm', threads });
  const plain = trainingSpeed(kernels, 'cnn', 128);
  const both = { affine: DEFAULT_AFFINE, elastic: DEFAULT_ELASTIC };
  const augmented = trainingSpeed(kernels, 'cnn', 128, 4, both);
  for (const [name, spec] of [['affine', { affine: DEFAULT_AFFINE }], ['affine+elastic', both]] as const) {
    const batchMs = augmentationMs(kernels, spec, 128);
    const stepMs = (128 / plain) * 1000;
    augmentation.push({
      threads, spec: name, batch_ms: batchMs, cnn_step_ms: stepMs, share: batchMs / stepMs,
      cnn_plain_samples_per_second: plain, cnn_augmented_samples_per_second: augmented,
    });
    log(`augmentation ${name}, ${threads} thread(s): ${batchMs.toFixed(2)} ms per batch of 128 against a ${stepMs.toFixed(1)} ms cnn step (${(100 * batchMs / stepMs).toFixed(1)}%)`);
  }
  log(`cnn b128 training, ${threads} thread(s): ${plain.toFixed(0)} samples/s plain, ${augmented.toFixed(0)} with affine+elastic`);
  await kernels.close();
}
for (const a of augmentation.filter((x) => x.spec === 'affine+elastic')) {
  checks.push({
    name: `augmentation (affine+elastic) of a batch of 128 ≤ 20% of a cnn training step, ${a.threads} thread${a.threads > 1 ? 's' : ''}`,
    pass: a.share <= 0.2, detail: `${a.batch_ms.toFixed(2)} ms against ${a.cnn_step_ms.toFixed(1)} ms (${(100 * a.share).toFixed(1)}%)`,
  });
}

// peak RSS of the command line on the full MNIST (one epoch: later epochs reuse the same buffers)
const out = mkdtempSync(join(tmpdir(), 'digitlab-bench-'));
const rssRun = spawnSync(process.execPath, ['--require', join(root, 'bench', 'rss-probe.cjs'), join(root, 'bin', 'digitlab.js'),
  'train', '--hidden', '800', '--epochs', '1', '--batch-size', '128', '--optimizer', 'adam', '--out', out], { cwd: root, encoding: 'utf8' });
rmSync(out, { recursive: true, force: true });
const rssKib = Number(/peak-rss-kib (\d+)/.exec(rssRun.stderr ?? '')?.[1] ?? NaN);
const rssMb = (rssKib * 1024) / 1e6;
log(`peak RSS of digitlab train --hidden 800 (full MNIST, 1 epoch): ${rssMb.toFixed(0)} MB`);
checks.push({ name: 'peak RSS of digitlab train --hidden 800 < 300 MB', pass: rssMb < 300, detail: `${rssMb.toFixed(0)} MB` });

// time to 98% test accuracy, a fresh process per seed and library, alternating
const tsxImport = ['--import', 'tsx'];
const timeToAccuracy: { seed: number; epochs: number | null; seconds: number | null }[] = [];
const pytorchTimes: { seconds: number | null }[] = [];
if (!quick) {
  for (const seed of [0, 1, 2]) {
    const { json } = runJson(process.execPath, [...tsxImport, join('bench', 'time-to-accuracy.ts'), String(seed), '2']);
    if (json) timeToAccuracy.push(json as (typeof timeToAccuracy)[number]);
    log(`time to 98%, seed ${seed}, 2 threads: ${JSON.stringify(json)}`);
    if (compare && pytorchRounds.length > 0) {
      const theirs = runJson(python, [join('bench', 'pytorch_mlp.py'), '--time-to-accuracy', String(seed), '2'], pythonEnv).json as
        { time_to_accuracy: { seconds: number | null } } | null;
      pytorchTimes.push(theirs?.time_to_accuracy ?? { seconds: null });
      log(`PyTorch time to 98%, seed ${seed}, 2 threads: ${JSON.stringify(theirs?.time_to_accuracy ?? null)}`);
    }
  }
}
// time to 99.0% with the cnn recipe, seeds alternating likewise
const cnnTimes: { seed: number; epochs: number | null; seconds: number | null }[] = [];
const pytorchCnnTimes: { seconds: number | null }[] = [];
if (!quick) {
  for (const seed of [0, 1, 2]) {
    const { json } = runJson(process.execPath, [...tsxImport, join('bench', 'time-to-accuracy.ts'), String(seed), '2', '--recipe', 'cnn']);
    cnnTimes.push((json as (typeof cnnTimes)[number] | null) ?? { seed, epochs: null, seconds: null });
    log(`time to 99% (cnn recipe), seed ${seed}, 2 threads: ${JSON.stringify(json)}`);
    if (compare && pytorchRounds.length > 0) {
      const theirs = runJson(python, [join('bench', 'pytorch_cnn.py'), '--time-to-accuracy', String(seed), '2'], pythonEnv).json as
        { time_to_accuracy: { seconds: number | null; reached?: boolean } } | null;
      const t = theirs?.time_to_accuracy;
      pytorchCnnTimes.push({ seconds: t && t.reached !== false ? t.seconds : null });
      log(`PyTorch time to 99% (cnn recipe), seed ${seed}, 2 threads: ${JSON.stringify(t ?? null)}`);
    }
  }
}
const medianOrNull = (values: (number | null)[]) => values.length === 3 && values.every((v) => v !== null) ? median(values as number[]) : null;
const digitlabCnnTime = medianOrNull(cnnTimes.map((r) => r.seconds));

const digitlabTime = timeToAccuracy.length === 3 && timeToAccuracy.every((r) => r.seconds !== null)
  ? median(timeToAccuracy.map((r) => r.seconds as number)) : null;

// side by side
let pytorch = null as PytorchResults | null;
let tfjs = null as Library | null;
if (compare) {
  if (pytorchRounds.length > 0) {
    pytorch = { ...pytorchRounds[0], ...bestOf(pytorchRounds as Throughput[]) };
    if (!quick) {
      pytorch.time_to_accuracy = pytorchTimes;
      const seconds = pytorchTimes.map((r) => r.seconds);
      pytorch.time_to_accuracy_median = seconds.length === 3 && seconds.every((v) => v !== null) ? median(seconds as number[]) : null;
      pytorch.cnn_time_to_accuracy = pytorchCnnTimes;
      pytorch.cnn_time_to_accuracy_median = medianOrNull(pytorchCnnTimes.map((r) => r.seconds));
    }
  }
  tfjs = runJson(process.execPath, [join('bench', 'tfjs_mlp.mjs')]).json as Library | null;
  log(`TensorFlow.js: ${JSON.stringify(tfjs)}`);
}

const speedOf = (lib: Library | null, config: string, threads: number) =>
  lib?.training?.find((t) => t.config === config && t.threads === threads)?.samples_per_second ?? null;
const ratios: { target: string; digitlab: number | null; pytorch: number | null; ratio: number | null; bar: string; pass: boolean | null }[] = [];
function ratio(target: string, ours: number | null, theirs: number | null, bar: number, higherIsBetter = true): void {
  const r = ours !== null && theirs !== null ? (higherIsBetter ? ours / theirs : theirs / ours) : null;
  ratios.push({ target, digitlab: ours, pytorch: theirs, ratio: r, bar: `≥ ${bar}×`, pass: r === null ? null : r >= bar });
}
if (pytorch) {
  ratio('784-800-10 b128 Adam, 2 threads: samples/s', speedOf({ library: '', training }, '784-800-10 b128', 2), speedOf(pytorch, '784-800-10 b128', 2), 1.5);
  ratio('784-128-10 b64 Adam, 2 threads: samples/s', speedOf({ library: '', training }, '784-128-10 b64', 2), speedOf(pytorch, '784-128-10 b64', 2), 1.2);
  ratio('784-800-10 b128 Adam, 1 thread: samples/s', speedOf({ library: '', training }, '784-800-10 b128', 1), speedOf(pytorch, '784-800-10 b128', 1), 1.0);
  ratio('784-128-10 b64 Adam, 1 thread: samples/s', speedOf({ library: '', training }, '784-128-10 b64', 1), speedOf(pytorch, '784-128-10 b64', 1), 1.0);
  ratio('time to 98% (median of seeds 0-2), PyTorch ÷ digitlab', digitlabTime, pytorch.time_to_accuracy_median ?? null, 1.0, false);
  ratio('single-image latency, PyTorch ÷ digitlab', inference.single_image_microseconds, pytorch.inference?.single_image_microseconds ?? null, 2.0, false);
  ratio('batch-1000 images/s', inference.batch1000_images_per_second, pytorch.inference?.batch1000_images_per_second ?? null, 1.5);
  const ours = { library: '', training };
  for (const network of ['lenet5', 'cnn']) {
    for (const threads of [1, 2]) {
      ratio(`${network} b128 Adam, ${threads} thread${threads > 1 ? 's' : ''}: samples/s`, speedOf(ours, `${network} b128`, threads), speedOf(pytorch, `${network} b128`, threads), 1.0);
    }
  }
  const cnnImages = (list: Throughput['cnnInference'] | undefined, threads: number) => list?.find((t) => t.config === 'cnn b1000' && t.threads === threads)?.images_per_second ?? null;
  for (const threads of [1, 2]) ratio(`cnn batch-1000 images/s, ${threads} thread${threads > 1 ? 's' : ''}`, cnnImages(cnnInference, threads), cnnImages(pytorch.cnnInference, threads), 1.0);
  ratio('time to 99% with the cnn recipe (median of seeds 0-2), PyTorch ÷ digitlab', digitlabCnnTime, pytorch.cnn_time_to_accuracy_median ?? null, 1.0, false);
}

// A study shared through PostgreSQL under load: 8 claiming processes, then 8 `study worker` processes.
log('study claims under load (bench/study-claims.ts)');
const claimsRun = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'bench', 'study-claims.ts'), '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
type StudyLoad = {
  claims?: { processes: number; trials: number; claims_per_second: number; latency_ms: { median: number; p99: number }; peak_connections: number; every_trial_once: boolean; errors: number };
  workers?: { workers: number; trials: number; trials_per_second: number; peak_connections: number; every_trial_once: boolean };
  failures?: string[];
};
let studyLoad: StudyLoad = {};
try {
  studyLoad = JSON.parse(claimsRun.stdout) as StudyLoad;
} catch {
  studyLoad = { failures: [`bench/study-claims.ts printed no figures (exit ${claimsRun.status}); is PostgreSQL installed (apt-get install -y postgresql)?`] };
}
checks.push({
  name: 'study on PostgreSQL, 8 claiming processes: every trial once, no error, ≤ 4 connections each',
  pass: Boolean(studyLoad.claims?.every_trial_once && studyLoad.claims.errors === 0 && studyLoad.claims.peak_connections <= 8 * 4 + 1 && !studyLoad.failures?.length),
  detail: studyLoad.claims
    ? `${studyLoad.claims.claims_per_second.toFixed(0)} claims/s, ${studyLoad.claims.peak_connections} connections at most${studyLoad.failures?.length ? `; ${studyLoad.failures.join('; ')}` : ''}`
    : (studyLoad.failures ?? []).join('; '),
});

// Training in a browser tab (headless Chromium) beside Node, and TensorFlow.js in the same browser.
log('training in the browser (bench/browser.ts)');
const browserRun = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'bench', 'browser.ts'), '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
type BrowserBench = { rows?: { config: string; threads: number; node: number; tab: number; ratio: number }[]; checks?: { name: string; pass: boolean; detail: string }[] };
let browserBench: BrowserBench = {};
try {
  browserBench = JSON.parse(browserRun.stdout.trim().split('\n').pop() ?? '') as BrowserBench;
} catch {
  checks.push({ name: 'training in the browser tab', pass: false, detail: `bench/browser.ts printed no figures (exit ${browserRun.status}); is chromium installed (apt-get install -y chromium)?` });
}
for (const c of browserBench.checks ?? []) checks.push(c);

const results = {
  started, load_average: load, cores: cpus().length, node: process.version,
  rounds, gemm, training, inference, digitlab_rounds: digitlabRounds, pytorch_rounds: pytorchRounds,
  time_to_accuracy: { runs: timeToAccuracy, median_seconds: digitlabTime },
  cnn_inference: cnnInference, cnn_time_to_accuracy: { runs: cnnTimes, median_seconds: digitlabCnnTime },
  peak_rss_mb: rssMb, equivalence: { threads: threadDifference, sparse: sparseDifference }, augmentation,
  study_load: studyLoad, browser: browserBench, pytorch, tfjs, ratios, checks,
};

// Markdown
const f0 = (v: number | null | undefined) => (v === null || v === undefined ? '–' : v.toFixed(0));
const f1 = (v: number | null | undefined) => (v === null || v === undefined ? '–' : v.toFixed(1));
const md: string[] = [];
md.push(`Measured ${started}, ${cpus().length} cores, load average ${load.map((v) => v.toFixed(2)).join(' ')}, Node ${process.version}` +
  (pytorch ? `; ${pytorch.library} with ${(pytorch.blas ?? []).find((p) => p.includes('libopenblas')) ?? (pytorch.blas ?? []).join(', ')}` +
    (pytorch.mkldnn === undefined ? '' : `, oneDNN ${pytorch.mkldnn ? 'available' : 'not available'}`) : '') +
  (tfjs ? `; ${tfjs.library}` : '') + '.', '');
md.push(`Throughput: the best of ${rounds} round${rounds > 1 ? 's' : ''}${compare ? ', digitlab then PyTorch in each' : ''}` +
  ` (every round in latest.json); TF.js once.`, '');
md.push('| training, Adam (samples/s) | threads | digitlab | PyTorch | TF.js wasm | digitlab ÷ PyTorch |', '|---|---|---|---|---|---|');
for (const t of training) {
  const theirs = speedOf(pytorch, t.config, t.threads);
  md.push(`| ${t.config} | ${t.threads} | ${f0(t.samples_per_second)} | ${f0(theirs)} | ${t.threads === 1 ? f0(speedOf(tfjs, t.config, 1)) : '–'} | ${theirs ? (t.samples_per_second / theirs).toFixed(2) + '×' : '–'} |`);
}
md.push('', '| inference 784-800-10, 1 thread | digitlab | PyTorch | TF.js wasm |', '|---|---|---|---|');
md.push(`| single image (µs, median) | ${f1(inference.single_image_microseconds)} | ${f1(pytorch?.inference?.single_image_microseconds)} | ${f1(tfjs?.inference?.single_image_microseconds)} |`);
md.push(`| batch 1000 (images/s) | ${f0(inference.batch1000_images_per_second)} | ${f0(pytorch?.inference?.batch1000_images_per_second)} | ${f0(tfjs?.inference?.batch1000_images_per_second)} |`);
md.push('', '| batch-1000 inference (images/s) | threads | digitlab | PyTorch |', '|---|---|---|---|');
for (const t of cnnInference) md.push(`| ${t.config} | ${t.threads} | ${f0(t.images_per_second)} | ${f0(pytorch?.cnnInference?.find((u) => u.config === t.config && u.threads === t.threads)?.images_per_second)} |`);
md.push('', '| time to test accuracy, 2 threads, wall seconds from process start, median of seeds 0, 1, 2 | digitlab | PyTorch |', '|---|---|---|');
md.push(`| 98.0%, 784-800-10 b128 Adam | ${f1(digitlabTime)} | ${f1(pytorch?.time_to_accuracy_median)} |`);
md.push(`| 99.0%, cnn b128 Adam, one-cycle to 0.01, 2 epochs | ${f1(digitlabCnnTime)} | ${f1(pytorch?.cnn_time_to_accuracy_median)} |`);
md.push('', '| GEMM (GFLOPS, best of runs) | form | 1 thread | 2 threads |', '|---|---|---|---|');
for (const g of gemm.filter((x) => x.threads === 1)) {
  const two = gemm.find((x) => x.backend === g.backend && x.form === g.form && x.m === g.m && x.n === g.n && x.threads === 2);
  md.push(`| ${g.backend} ${g.m}×${g.n}×${g.k} | ${g.form} | ${f1(g.gflops)} | ${f1(two?.gflops)} |`);
}
md.push('', '| augmentation of a batch of 128 (default ranges) | threads | ms per batch | cnn step, ms | share | cnn b128 samples/s plain → augmented |', '|---|---|---|---|---|---|');
for (const a of augmentation) {
  md.push(`| ${a.spec} | ${a.threads} | ${a.batch_ms.toFixed(2)} | ${a.cnn_step_ms.toFixed(1)} | ${(100 * a.share).toFixed(1)}% | ${f0(a.cnn_plain_samples_per_second)} → ${f0(a.cnn_augmented_samples_per_second)} |`);
}
md.push('', `Peak RSS of \`digitlab train --hidden 800\` (full MNIST): ${f0(rssMb)} MB. ` +
  `Loss-curve difference, 1 vs 2 threads: ${threadDifference}; sparse vs dense first layer: ${sparseDifference.toExponential(1)}.`);
if (ratios.length > 0) {
  md.push('', '| target | digitlab | PyTorch | ratio | bar | met |', '|---|---|---|---|---|---|');
  for (const r of ratios) md.push(`| ${r.target} | ${f1(r.digitlab)} | ${f1(r.pytorch)} | ${r.ratio === null ? '–' : r.ratio.toFixed(2) + '×'} | ${r.bar} | ${r.pass === null ? '–' : r.pass ? 'yes' : 'no'} |`);
}
if (studyLoad.claims && studyLoad.workers) {
  const c = studyLoad.claims;
  const w = studyLoad.workers;
  md.push('', '| a study on PostgreSQL under load | processes | trials | per second | notes |', '|---|---|---|---|---|');
  md.push(`| claim, epoch, 64 KiB checkpoint, finish | ${c.processes} | ${c.trials} | ${c.claims_per_second.toFixed(0)} claims | claim latency median ${c.latency_ms.median.toFixed(1)} ms, p99 ${c.latency_ms.p99.toFixed(1)} ms; ${c.peak_connections} connections at most |`);
  md.push(`| \`study worker\` on tiny trials | ${w.workers} | ${w.trials} | ${w.trials_per_second.toFixed(1)} trials | ${w.peak_connections} connections at most |`);
}
if (browserBench.rows) {
  md.push('', '| training in the browser tab (bench/browser.ts) | threads | Node samples/s | tab samples/s | tab / Node |', '|---|---|---|---|---|');
  for (const r of browserBench.rows) md.push(`| ${r.config} | ${r.threads} | ${r.node.toFixed(0)} | ${r.tab.toFixed(0)} | ${r.ratio.toFixed(2)}× |`);
}
md.push('', '| check | result | |', '|---|---|---|');
for (const c of checks) md.push(`| ${c.name} | ${c.detail} | ${c.pass ? 'pass' : 'FAIL'} |`);

mkdirSync(join(root, 'bench', 'results'), { recursive: true });
writeFileSync(join(root, 'bench', 'results', 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(join(root, 'bench', 'results', 'latest.md'), `${md.join('\n')}\n`);
console.log(md.join('\n'));
const failed = checks.filter((c) => !c.pass);
if (failed.length > 0) {
  log(`failed: ${failed.map((c) => c.name).join('; ')}`);
  process.exitCode = 1;
}
