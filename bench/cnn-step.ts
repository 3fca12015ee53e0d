// One training step of the lenet5 and cnn presets on MNIST at batch 128 with Adam (lr 0.001), on 1 and
// 2 threads: ms per step, samples per second, and each computing layer's forward / backward time in
// ms, measured by timing the layers' own calls inside the steps (the loss and the optimizer are what
// the total has beyond the layers). Batches are taken in order from a shuffled training set, so the
// inputs' zeros are MNIST's.
//
//   npx tsx bench/cnn-step.ts [--batch 128] [--seconds 3] [--threads 1,2] [--models lenet5,cnn] [--dense] [--by-kernel]
//
// --dense: the kernels' sparseDensityLimit 0 (every layer on its dense products).
// --by-kernel: also the ms per step of each kernel call (summed over the layers that call it).
import { cpus, loadavg } from 'node:os';
import { createWasmKernels } from '../src/core/index.js';
import { Random } from '../src/core/random.js';
import { loadData } from '../src/data/source.js';
import { presetLayers } from '../src/io/layer-text.js';
import { buildModelSpec } from '../src/io/model-spec.js';
import { Sequential } from '../src/nn/sequential.js';
import { createOptimizer } from '../src/optim/index.js';
import { BatchBuffer } from '../src/train/batches.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : fallback;
};
const batch = Number(option('--batch', '128'));
const seconds = Number(option('--seconds', '3'));
const threadCounts = option('--threads', '1,2').split(',').map(Number);
const models = option('--models', 'lenet5,cnn').split(',');
const dense = args.includes('--dense');
const byKernel = args.includes('--by-kernel');

const data = loadData('mnist').train;
const order = new Uint32Array(data.count);
for (let i = 0; i < order.length; i++) order[i] = i;
new Random(7).shuffle(order);

interface Timing { forward: number; backward: number }

async function measure(name: string, threads: number): Promise<void> {
  const kernels = await createWasmKernels({ threads, ...(dense ? { sparseDensityLimit: 0 } : {}) });
  try {
    const kernelTimes = new Map<string, number>();
    if (byKernel) {
      // wrap every method of the kernels object (the layers call them through it)
      const target = kernels as unknown as Record<string, unknown>;
      for (const key of Object.keys(target)) {
        const method = target[key];
        if (typeof method !== 'function') continue;
        target[key] = (...a: unknown[]) => {
          const t0 = performance.now();
          const out = (method as (...b: unknown[]) => unknown).apply(kernels, a);
          kernelTimes.set(key, (kernelTimes.get(key) ?? 0) + performance.now() - t0);
          return out;
        };
      }
    }
    const model = Sequential.create(kernels, buildModelSpec([1, 28, 28], presetLayers(name), 10), 1);
    const optimizer = createOptimizer('adam', kernels, model.params(), { lr: 0.001 });
    model.reserve(batch);
    const buffer = new BatchBuffer(model, batch);
    // time each layer's calls by wrapping its methods on the instance
    const timings: Timing[] = model.layers.map(() => ({ forward: 0, backward: 0 }));
    model.layers.forEach((layer, i) => {
      const forward = layer.forward.bind(layer);
      const backward = layer.backward.bind(layer);
      const pixels = 'forwardPixels' in layer ? (layer.forwardPixels as (...a: unknown[]) => Float32Array).bind(layer) : null;
      layer.forward = (...a: Parameters<typeof layer.forward>) => {
        const t0 = performance.now();
        const out = forward(...a);
        timings[i].forward += performance.now() - t0;
        return out;
      };
      layer.backward = (...a: Parameters<typeof layer.backward>) => {
        const t0 = performance.now();
        backward(...a);
        timings[i].backward += performance.now() - t0;
      };
      if (pixels) {
        (layer as unknown as { forwardPixels: (...a: unknown[]) => Float32Array }).forwardPixels = (...a: unknown[]) => {
          const t0 = performance.now();
          const out = pixels(...a);
          timings[i].forward += performance.now() - t0;
          return out;
        };
      }
    });
    let next = 0;
    const step = () => {
      if (next + batch > order.length) next = 0;
      buffer.fill(data, order, next, batch);
      next += batch;
      buffer.forward(batch, true);
      model.lossAndGradient(buffer.labels, batch);
      model.backward(batch);
      optimizer.step();
    };
    for (let i = 0; i < 20; i++) step();
    for (const t of timings) t.forward = t.backward = 0;
    kernelTimes.clear();
    let steps = 0;
    const start = performance.now();
    while (performance.now() - start < seconds * 1000) {
      step();
      steps++;
    }
    const ms = (performance.now() - start) / steps;
    const layers = model.layers.map((layer, i) => {
      const kind = layer.constructor.name.replace(/Layer$/, '');
      return `${kind}@${layer.index} ${(timings[i].forward / steps).toFixed(2)}/${(timings[i].backward / steps).toFixed(2)}`;
    });
    const inLayers = timings.reduce((sum, t) => sum + t.forward + t.backward, 0) / steps;
    console.log(`${name.padEnd(7)} ${threads} thread${threads > 1 ? 's' : ' '}  ${ms.toFixed(2).padStart(6)} ms/step  ` +
      `${(batch / ms).toFixed(2).padStart(6)}k samples/s  (${steps} steps; rest ${(ms - inLayers).toFixed(2)} ms)`);
    console.log(`    ${layers.join(', ')}`);
    if (byKernel) {
      const list = [...kernelTimes].sort((a, b) => b[1] - a[1]).map(([key, t]) => `${key} ${(t / steps).toFixed(2)}`);
      console.log(`    kernels: ${list.join(', ')}`);
    }
  } finally {
    await kernels.close();
  }
}

console.log(`${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log(`batch ${batch}, Adam${dense ? ', dense products only' : ''}; per layer: forward/backward ms`);
for (const name of models) for (const threads of threadCounts) await measure(name, threads);
console.log(`load average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
