// `digitlab import`: a network trained in PyTorch (test/fixtures/make_torch_import_fixture.py: a bare
// nn.Sequential's state dict in safetensors, batch norm included) becomes a model folder that reads the
// test images as PyTorch did: probabilities within 1e-5, the same test accuracy.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createKernels } from '../../src/core/index.js';
import { loadData } from '../../src/data/source.js';
import { Classifier } from '../../src/nn/classifier.js';
import { digitlab } from './helpers.js';

const fixtures = join(import.meta.dirname, '..', 'fixtures', 'io');
const weights = join(fixtures, 'torch_import.safetensors');
const fixture = JSON.parse(readFileSync(join(fixtures, 'torch_import.json'), 'utf8')) as {
  layers: string; test_accuracy: number; probabilities: number[][];
};
const dir = mkdtempSync(join(tmpdir(), 'digitlab-cli-import-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('digitlab import', () => {
  it('turns a PyTorch state dict into a model folder that reads as PyTorch did', async () => {
    const out = join(dir, 'imported');
    const result = digitlab(['import', '--weights', weights, '--layers', fixture.layers, '--out', out, '--json']);
    assert.equal(result.status, 0, result.stderr);
    const json = JSON.parse(result.stdout);
    assert.equal(json.classes, 10);
    assert.equal(json.params, 4 * 25 + 4 + 8 + 576 * 32 + 32 + 32 * 10 + 10);
    const kernels = await createKernels();
    try {
      const classifier = await Classifier.load(kernels, out);
      const test = loadData('mnist').test;
      const rows = fixture.probabilities.length;
      const pixels = Float32Array.from(test.images.subarray(0, rows * 784), (p) => p / 255);
      classifier.predictBatch(pixels, rows).forEach((p, r) => p.probabilities.forEach((q, c) => {
        assert.ok(Math.abs(q - fixture.probabilities[r][c]) <= 1e-5, `image ${r}, class ${c}: digitlab ${q}, PyTorch ${fixture.probabilities[r][c]}`);
      }));
    } finally {
      await kernels.close();
    }
    const evaluated = digitlab(['eval', '--model', out, '--data', 'mnist', '--json']);
    assert.equal(evaluated.status, 0, evaluated.stderr);
    assert.equal(JSON.parse(evaluated.stdout).accuracy, fixture.test_accuracy);
  });

  it('names what does not fit: a layer list of another network, a corrupt file, a bad shape option', () => {
    // without the batch norm, the indices move: layers.1 is a ReLU, and the weights' layers.1.* are extra
    const other = digitlab(['import', '--weights', weights, '--layers', 'conv 4 5x5, relu, maxpool 2, linear 32, tanh', '--out', join(dir, 'other')]);
    assert.equal(other.status, 2);
    assert.match(other.stderr, /does not fit .*tensor "layers\.4\.weight" \[32, 576\] F32 is missing/);
    assert.match(other.stderr, /unexpected tensor "layers\.1\.weight"/);
    assert.match(other.stderr, /must be the nn\.Sequential the weights were saved from/);
    const corrupt = join(dir, 'corrupt.safetensors');
    writeFileSync(corrupt, readFileSync(weights).subarray(0, 100));
    const broken = digitlab(['import', '--weights', corrupt, '--layers', fixture.layers, '--out', join(dir, 'broken')]);
    assert.equal(broken.status, 2);
    assert.match(broken.stderr, /corrupt\.safetensors/);
    const shape = digitlab(['import', '--weights', weights, '--layers', fixture.layers, '--input', '28x28', '--out', join(dir, 'shape')]);
    assert.equal(shape.status, 2);
    assert.match(shape.stderr, /--input must be CxHxW with positive sizes, such as 1x28x28, got '28x28'/);
  });
});
