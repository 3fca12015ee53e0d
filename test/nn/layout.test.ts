// The first layer keeps its weights [in, out] in column panels of 28, for the sparse products. None of
// that may show outside the network: tensors in and out are PyTorch's [out, in], the forward pass is the same
// with the sparse or the dense product, and a checkpoint of the old layout is refused by name.
import type { Sequential } from '../../src/nn/sequential.js';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createKernels, type Kernels } from '../../src/core/index.js';
import { Random } from '../../src/core/random.js';
import { decodeSafetensors, encodeSafetensors } from '../../src/io/safetensors.js';
import type { NamedTensor } from '../../src/io/model-config.js';
import { Mlp, type MlpSpec } from '../../src/nn/mlp.js';
import { TrainingRun } from '../../src/train/trainer.js';
import { settings, smallMnist } from '../train/helpers.js';

const spec: MlpSpec = { inputs: 30, hidden: [37, 5], classes: 4, activation: 'relu' };

/** Inputs that are mostly zeros, as images are. */
function sparseInput(model: Sequential, rows: number, random: Random): Float32Array {
  const input = model.allocInput(rows);
  for (let i = 0; i < input.length; i++) input[i] = random.uniform(0, 1) < 0.25 ? random.uniform(0, 1) : 0;
  return input;
}

/** Logits from PyTorch-layout tensors, in float64: y = relu(x · Wᵀ + b) layer by layer. */
function logitsFromTensors(tensors: NamedTensor[], x: Float32Array, rows: number): number[] {
  const byName = new Map(tensors.map((t) => [t.name, t]));
  let current = Array.from(x);
  let width = spec.inputs;
  const layers = spec.hidden.length + 1;
  for (let l = 0; l < layers; l++) {
    const w = byName.get(`layers.${2 * l}.weight`)!;
    const b = byName.get(`layers.${2 * l}.bias`)!;
    const [out, inputs] = w.shape;
    assert.equal(inputs, width);
    const next: number[] = [];
    for (let r = 0; r < rows; r++) {
      for (let o = 0; o < out; o++) {
        let sum = b.data[o];
        for (let i = 0; i < inputs; i++) sum += current[r * inputs + i] * w.data[o * inputs + i];
        next.push(l < layers - 1 ? Math.max(0, sum) : sum);
      }
    }
    current = next;
    width = out;
  }
  return current;
}

async function backends(): Promise<Kernels[]> {
  return [
    await createKernels({ backend: 'reference' }),
    await createKernels({ backend: 'wasm' }),
    await createKernels({ backend: 'wasm', sparseDensityLimit: 0 }),
  ];
}

describe('first-layer weight layout', () => {
  it('is invisible: toTensors gives PyTorch [out, in] tensors that compute what the network computes', async () => {
    for (const kernels of await backends()) {
      // 37 outputs: one full panel and a narrower one
      const model = Mlp.create(kernels, spec, 4);
      const tensors = model.toTensors();
      assert.deepEqual(tensors.map((t) => [t.name, t.shape]), [
        ['layers.0.weight', [37, 30]], ['layers.0.bias', [37]], ['layers.2.weight', [5, 37]], ['layers.2.bias', [5]],
        ['layers.4.weight', [4, 5]], ['layers.4.bias', [4]],
      ]);
      const rows = 9;
      const input = sparseInput(model, rows, new Random(2));
      const logits = model.forward(input, rows);
      const expected = logitsFromTensors(tensors, input, rows);
      for (let i = 0; i < expected.length; i++) {
        assert.ok(Math.abs(logits[i] - expected[i]) <= 1e-5, `${kernels.name}: logit ${i} is ${logits[i]}, expected ${expected[i]}`);
      }
    }
  });

  it('loadTensors takes PyTorch tensors back exactly, and a seed gives the same network on every backend', async () => {
    const [reference, ...others] = await backends();
    const original = Mlp.create(reference, spec, 9).toTensors();
    for (const kernels of others) {
      assert.deepEqual(Mlp.create(kernels, spec, 9).toTensors(), original);
      const model = new Mlp(kernels, spec);
      model.loadTensors(original);
      assert.deepEqual(model.toTensors(), original);
    }
    const model = new Mlp(reference, spec);
    const wrong = original.map((t) => (t.name === 'layers.0.weight' ? { ...t, shape: [30, 37] } : t));
    assert.throws(() => model.loadTensors(wrong), /tensor 'layers\.0\.weight' has shape \[30, 37\], the network expects \[37, 30\]/);
  });

  it('gives the same forward pass and gradients with the sparse and the dense first-layer products', async () => {
    const [, sparse, dense] = await backends();
    const random = new Random(8);
    const classes = Array.from({ length: 13 }, () => random.int(spec.classes));
    const results = [sparse, dense].map((kernels) => {
      const model = Mlp.create(kernels, spec, 6);
      const rows = 13;
      model.reserve(rows);
      const input = sparseInput(model, rows, new Random(5));
      const labels = model.allocLabels(rows);
      labels.set(classes);
      model.forward(input, rows);
      const loss = model.lossAndGradient(labels, rows);
      model.backward(rows);
      return { loss, grads: model.params().map((p) => Float32Array.from(p.grad)) };
    });
    assert.ok(Math.abs(results[0].loss - results[1].loss) <= 1e-6);
    results[0].grads.forEach((g, i) => {
      for (let j = 0; j < g.length; j++) assert.ok(Math.abs(g[j] - results[1].grads[i][j]) <= 1e-6, `param ${i}, element ${j}`);
    });
  });

  it('has no backward pass to make before a forward, or after reserve replaced the buffers', async () => {
    for (const kernels of await backends()) {
      const model = Mlp.create(kernels, spec, 2);
      assert.throws(() => model.backward(3), /no forward pass to go back through/);
      const input = sparseInput(model, 3, new Random(1));
      model.forward(input, 3);
      model.reserve(50);
      assert.throws(() => model.backward(3), /no forward pass to go back through/, kernels.name);
    }
  });

  it('refuses to resume a checkpoint of an older layout (versions 1 and 2), saying why', async () => {
    const kernels = await createKernels({ backend: 'wasm' });
    const dir = await mkdtemp(join(tmpdir(), 'digitlab-layout-'));
    try {
      const path = join(dir, 'checkpoint.safetensors');
      const s = settings({ epochs: 1 });
      const data = smallMnist(200, 50, 50);
      await new TrainingRun({ kernels, data, settings: s, checkpointPath: path }).run();
      const { tensors, metadata } = decodeSafetensors(await readFile(path), path);
      const header = JSON.parse(metadata!.digitlab);
      const named = [...tensors].map(([name, t]) => ({ name, shape: t.shape, data: t.data as Float32Array }));
      for (const version of [1, 2]) {
        await writeFile(path, encodeSafetensors(named, { digitlab: JSON.stringify({ ...header, version }) }));
        const resumed = new TrainingRun({ kernels, data, settings: s, checkpointPath: path, resume: true });
        await assert.rejects(resumed.run(), new RegExp(`version ${version} is not supported .*changed layout.*start the run over`));
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
      await kernels.close();
    }
  });
});
