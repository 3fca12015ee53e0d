/**
 * One browser measurement, in a worker as the page trains: digitlab's TrainingRun on the WebAssembly
 * kernels (harness.ts, as in Node), or TensorFlow.js training the same network with its wasm or cpu
 * backend, Adam at 1e-3, batches filled from the same MNIST bytes.
 */
import * as tf from '@tensorflow/tfjs';
import { setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { loadBrowserKernels, sliceDataset, type DatasetSplits } from '../../src/browser.js';
import { loadManifestData } from '../../web/src/browser-data.js';
import { trainingSpeed } from './harness.js';

interface Job {
  library: 'digitlab' | 'tfjs-wasm' | 'tfjs-cpu';
  network: string;
  batch: string;
  threads: string;
  seconds: string;
  images: string;
}

const scope = globalThis as unknown as { postMessage(message: unknown): void; onmessage: ((event: MessageEvent<Job>) => void) | null };

async function data(images: number): Promise<DatasetSplits> {
  const splits = await loadManifestData('/data/index.json');
  return { ...splits, train: sliceDataset(splits.train, 0, Math.min(images, splits.train.count)) };
}

function tfModel(network: string): tf.Sequential {
  const m = tf.sequential();
  const mlp = /^784-(\d+)-10$/.exec(network);
  if (mlp) {
    m.add(tf.layers.dense({ inputShape: [784], units: Number(mlp[1]), activation: 'relu' }));
  } else if (network === 'lenet5') {
    // digitlab's lenet5 preset: conv 6 5x5 pad 2, relu, maxpool 2, conv 16 5x5, relu, maxpool 2, linear 120, relu, linear 84, relu
    m.add(tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 6, kernelSize: 5, padding: 'same', activation: 'relu' }));
    m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
    m.add(tf.layers.conv2d({ filters: 16, kernelSize: 5, activation: 'relu' }));
    m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
    m.add(tf.layers.flatten());
    m.add(tf.layers.dense({ units: 120, activation: 'relu' }));
    m.add(tf.layers.dense({ units: 84, activation: 'relu' }));
  } else {
    throw new Error(`the TensorFlow.js bench has no network ${network}`);
  }
  m.add(tf.layers.dense({ units: 10 }));
  return m;
}

async function tfSpeed(job: Job, splits: DatasetSplits): Promise<{ samples_per_second: number; batches: number; backend: string }> {
  const backend = job.library === 'tfjs-wasm' ? 'wasm' : 'cpu';
  if (backend === 'wasm') {
    setWasmPaths('/tfjs/');
    setThreadsCount(Number(job.threads));
  }
  await tf.setBackend(backend);
  await tf.ready();
  const batch = Number(job.batch);
  const m = tfModel(job.network);
  const optimizer = tf.train.adam(1e-3);
  const train = splits.train;
  const conv = job.network === 'lenet5';
  const x = new Float32Array(batch * 784);
  const y = new Int32Array(batch);
  const step = (i: number) => {
    const first = (i * batch) % (train.count - batch);
    for (let j = 0; j < batch * 784; j++) x[j] = train.images[first * 784 + j] / 255;
    for (let r = 0; r < batch; r++) y[r] = train.labels[first + r];
    tf.tidy(() => {
      const xs = conv ? tf.tensor4d(x, [batch, 28, 28, 1]) : tf.tensor2d(x, [batch, 784]);
      const ys = tf.oneHot(tf.tensor1d(y, 'int32'), 10);
      const cost = optimizer.minimize(() => tf.losses.softmaxCrossEntropy(ys, m.predict(xs) as tf.Tensor), true);
      cost?.dataSync();
    });
  };
  for (let i = 0; i < 3; i++) step(i);
  let steps = 0;
  const start = performance.now();
  while (performance.now() - start < Number(job.seconds) * 1000) step(steps++);
  const what = backend === 'wasm' ? `wasm, ${tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT') ? `${job.threads} threads` : '1 thread'}${tf.env().getBool('WASM_HAS_SIMD_SUPPORT') ? ', SIMD' : ''}` : 'cpu';
  return { samples_per_second: (steps * batch) / ((performance.now() - start) / 1000), batches: steps, backend: `TensorFlow.js ${tf.version.tfjs} (${what})` };
}

scope.onmessage = async (event) => {
  const job = event.data;
  try {
    scope.postMessage({ status: 'loading the data' });
    const splits = await data(Number(job.images));
    scope.postMessage({ status: 'training' });
    if (job.library === 'digitlab') {
      const kernels = await loadBrowserKernels('/kernels/', { threads: Number(job.threads) });
      const speed = await trainingSpeed(kernels, splits, job.network, Number(job.batch), Number(job.seconds));
      scope.postMessage({ result: { ...speed, backend: `digitlab ${kernels.name}, ${kernels.threads} thread(s)` } });
      await kernels.close();
    } else {
      scope.postMessage({ result: await tfSpeed(job, splits) });
    }
  } catch (error) {
    scope.postMessage({ error: (error as Error).message });
  }
};
