import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createKernels } from '../../src/core/index.js';
import { parseLayers } from '../../src/io/layer-text.js';
import { buildModelSpec } from '../../src/io/model-spec.js';
import { PREDICT_CHUNK, Predictor } from '../../src/nn/predictor.js';
import { Sequential } from '../../src/nn/sequential.js';

test("a convolutional network predicts MNIST's whole test set in one call, chunk by chunk, as image by image", async () => {
  const kernels = await createKernels({ threads: 1 });
  // 32 feature maps of 24×24 for 10,000 images are 737 MB a layer: all at once they do not fit in
  // WebAssembly's 2 GB
  const model = Sequential.create(kernels, buildModelSpec([1, 28, 28], parseLayers('conv 32 5x5, relu, maxpool 2'), 10), 1);
  const rows = 10_000;
  const pixels = new Float32Array(rows * 784);
  for (let i = 0; i < pixels.length; i++) pixels[i] = ((i * 2654435761) >>> 24) / 255;
  const all = new Predictor(model).predictBatch(pixels, rows);
  assert.equal(all.length, rows);
  const single = new Predictor(model);
  for (const r of [0, PREDICT_CHUNK - 1, PREDICT_CHUNK, PREDICT_CHUNK + 1, rows - 1]) {
    const [alone] = single.predictBatch(pixels.subarray(r * 784, (r + 1) * 784), 1);
    assert.equal(all[r].digit, alone.digit, `row ${r}`);
    all[r].probabilities.forEach((p, c) => assert.ok(Math.abs(p - alone.probabilities[c]) < 1e-6, `row ${r} class ${c}: ${p} vs ${alone.probabilities[c]}`));
  }
});
