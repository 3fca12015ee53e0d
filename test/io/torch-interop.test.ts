// Files written by PyTorch (test/fixtures/make_safetensors_fixture.py) read back with the names,
// shapes and values PyTorch gave them, and our writer reproduces such a file byte for byte.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { expectedTensorShapes, loadModel } from '../../src/io/model-files.js';
import type { ModelConfigV1 } from '../../src/io/model-config.js';
import { modelSpecFromMlp } from '../../src/io/model-spec.js';
import { decodeSafetensors, encodeSafetensors } from '../../src/io/safetensors.js';

const fixtures = new URL('../fixtures/io/', import.meta.url);

interface TorchMlpFixture {
  tensors: Record<string, { shape: number[]; data: number[] }>;
  input: number[][];
  logits: number[][];
}

async function readJson<T>(name: string): Promise<T> {
  return JSON.parse(await readFile(new URL(name, fixtures), 'utf8')) as T;
}

/** The module's forward pass (Linear, ReLU, Linear) in float64, enough to check weight layout. */
function forward(x: number[], layers: { weight: Float32Array; bias: Float32Array; out: number }[]): number[] {
  let activations = x;
  layers.forEach((layer, index) => {
    const inputs = activations.length;
    const next: number[] = [];
    for (let o = 0; o < layer.out; o++) {
      // weight is [out, in], row-major, as torch.nn.Linear stores it
      let sum = layer.bias[o];
      for (let i = 0; i < inputs; i++) sum += layer.weight[o * inputs + i] * activations[i];
      next.push(index < layers.length - 1 ? Math.max(0, sum) : sum);
    }
    activations = next;
  });
  return activations;
}

describe('PyTorch interoperability', () => {
  it('decodes a state_dict saved from nn.Sequential inside a module, with PyTorch names and shapes', async () => {
    const fixture = await readJson<TorchMlpFixture>('torch_mlp.json');
    const file = await readFile(new URL('torch_mlp.safetensors', fixtures));
    const decoded = decodeSafetensors(file, 'torch_mlp.safetensors');
    assert.deepEqual(decoded.metadata, { format: 'pt' });
    assert.deepEqual([...decoded.tensors.keys()], Object.keys(fixture.tensors));
    for (const [name, expected] of Object.entries(fixture.tensors)) {
      const tensor = decoded.tensors.get(name)!;
      assert.deepEqual(tensor.shape, expected.shape, name);
      assert.deepEqual([...tensor.data], expected.data, name);
    }
    assert.deepEqual(
      expectedTensorShapes({ model: modelSpecFromMlp({ inputShape: [2, 3], hidden: [5], activation: 'relu', classes: 3 }) }),
      Object.entries(fixture.tensors).map(([name, t]) => ({ name, shape: t.shape, dtype: 'F32' })),
    );

    const layers = [0, 2].map((index) => ({
      weight: decoded.tensors.get(`layers.${index}.weight`)!.data,
      bias: decoded.tensors.get(`layers.${index}.bias`)!.data,
      out: decoded.tensors.get(`layers.${index}.bias`)!.shape[0],
    }));
    fixture.input.forEach((row, r) => {
      const logits = forward(row, layers);
      logits.forEach((value, c) => assert.ok(Math.abs(value - fixture.logits[r][c]) < 1e-5, `logit [${r}, ${c}]`));
    });
  });

  it('writes the same bytes as the reference file, given the same tensors and metadata', async () => {
    const file = await readFile(new URL('torch_mlp.safetensors', fixtures));
    const decoded = decodeSafetensors(file, 'torch_mlp.safetensors');
    const tensors = [...decoded.tensors].map(([name, t]) => ({ name, shape: t.shape, data: t.data }));
    assert.deepEqual(Buffer.from(encodeSafetensors(tensors, decoded.metadata)), file);
  });

  it('converts half, bfloat16 and double tensors as PyTorch does', async () => {
    const fixture = await readJson<Record<string, { dtype: string; shape: number[]; data: (number | string)[] }>>('torch_dtypes.json');
    const decoded = decodeSafetensors(await readFile(new URL('torch_dtypes.safetensors', fixtures)), 'torch_dtypes.safetensors');
    for (const [name, expected] of Object.entries(fixture)) {
      const tensor = decoded.tensors.get(name)!;
      assert.equal(tensor.dtype, expected.dtype);
      assert.deepEqual(tensor.shape, expected.shape);
      assert.deepEqual([...tensor.data], expected.data.map(Number), name);
    }
  });

  it('loads the PyTorch weights as a digitlab model folder', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'digitlab-torch-'));
    try {
      const config: ModelConfigV1 = {
        format: 'digitlab-mlp', version: 1, inputShape: [2, 3], classes: 3, hidden: [5], activation: 'relu',
        normalization: { pixelMax: 1 },
      };
      await writeFile(join(dir, 'config.json'), JSON.stringify(config));
      await copyFile(new URL('torch_mlp.safetensors', fixtures), join(dir, 'model.safetensors'));
      const model = await loadModel(dir);
      assert.deepEqual(model.tensors.map((t) => t.name), ['layers.0.weight', 'layers.0.bias', 'layers.2.weight', 'layers.2.bias']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
