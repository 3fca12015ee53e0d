// `digitlab export`: a trained LeNet-5 folder and a version-1 MLP folder become ONNX files that ONNX
// Runtime (onnxruntime-web's WebAssembly build, in Node) runs with the probabilities digitlab gives.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-web';
import { createKernels } from '../../src/core/index.js';
import { loadData } from '../../src/data/source.js';
import { Classifier } from '../../src/nn/classifier.js';
import { digitlab, writeSmallIdx } from './helpers.js';

ort.env.wasm.numThreads = 1;

const dir = mkdtempSync(join(tmpdir(), 'digitlab-cli-export-'));
const data = `idx:${join(dir, 'small')}`;
after(() => rmSync(dir, { recursive: true, force: true }));
before(() => writeSmallIdx(join(dir, 'small'), 3000, 200));

/** ONNX Runtime's probabilities for `rows` images of `pixels` against the classifier's, within 1e-5. */
async function agree(file: string, modelDir: string, pixels: Float32Array, rows: number, shape: number[]): Promise<void> {
  const session = await ort.InferenceSession.create(readFileSync(file));
  const out = await session.run({ pixels: new ort.Tensor('float32', pixels, [rows, ...shape]) });
  const probabilities = out.probabilities.data as Float32Array;
  const kernels = await createKernels();
  try {
    const classifier = await Classifier.load(kernels, modelDir);
    const classes = classifier.config.classes;
    classifier.predictBatch(pixels, rows).forEach((p, r) => {
      p.probabilities.forEach((q, c) => {
        assert.ok(Math.abs(probabilities[r * classes + c] - q) <= 1e-5, `row ${r}, class ${c}: ONNX ${probabilities[r * classes + c]}, digitlab ${q}`);
      });
    });
  } finally {
    await kernels.close();
    await session.release();
  }
}

describe('digitlab export', () => {
  it('writes a LeNet-5 folder as model.onnx that ONNX Runtime reads as digitlab does', async () => {
    const model = join(dir, 'lenet');
    const trained = digitlab(['train', '--preset', 'lenet5', '--data', data, '--validation', '500', '--epochs', '1', '--batch-size', '64', '--out', model]);
    assert.equal(trained.status, 0, trained.stderr);
    const result = digitlab(['export', '--model', model, '--json']);
    assert.equal(result.status, 0, result.stderr);
    const json = JSON.parse(result.stdout);
    assert.equal(json.file, join(model, 'model.onnx'));
    assert.equal(json.opset, 13);
    const test = loadData(data, { validation: 500 }).test;
    const rows = 50;
    const pixels = Float32Array.from(test.images.subarray(0, rows * 784), (p) => p / 255);
    await agree(json.file, model, pixels, rows, [1, 28, 28]);
  });

  it('exports a version-1 MLP folder too, and refuses a folder that holds no model', async () => {
    const v1 = join(import.meta.dirname, '..', 'fixtures', 'io', 'model-v1');
    const file = join(dir, 'v1.onnx');
    const result = digitlab(['export', '--model', v1, '--out', file]);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /input pixels \[N, 1, 4, 4\] float32 = pixel \/ 255; outputs logits and probabilities \[N, 2\]/);
    const pixels = Float32Array.from({ length: 3 * 16 }, (_, i) => (i % 5) / 4);
    await agree(file, v1, pixels, 3, [1, 4, 4]);
    const missing = digitlab(['export', '--model', join(dir, 'nothing-here')]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /no model at .*nothing-here: expected config\.json and model\.safetensors/);
    const format = digitlab(['export', '--model', v1, '--format', 'tflite']);
    assert.notEqual(format.status, 0);
    assert.match(format.stderr, /'tflite' is invalid.*onnx/);
  });
});
