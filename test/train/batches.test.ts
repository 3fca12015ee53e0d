// Batches as the network reads them: raw bytes for byte images (the first layer indexes the nonzero
// pixels itself), normalized floats otherwise; both must give the logits of pixel / pixelMax.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createKernels } from '../../src/core/index.js';
import type { Dataset } from '../../src/data/dataset.js';
import { Mlp } from '../../src/nn/mlp.js';
import { BatchBuffer, fillBatch } from '../../src/train/batches.js';
import { smallMnist } from './helpers.js';

const bytes = smallMnist(300, 10, 10).train;
/** The same images as floats in [0, 1], as a float dataset (pixelMax 1) holds them. */
const floats: Dataset = { ...bytes, images: Float32Array.from(bytes.images, (p) => p / 255), pixelMax: 1 };

describe('BatchBuffer', () => {
  it('gives the logits of pixel / pixelMax for byte and float images, shuffled or in order', async () => {
    for (const backend of ['wasm', 'reference'] as const) {
      const kernels = await createKernels({ backend });
      try {
        const model = Mlp.create(kernels, { inputs: 784, hidden: [40], classes: 10, activation: 'relu' }, 3);
        const order = Uint32Array.from({ length: bytes.count }, (_, i) => (i * 7) % bytes.count);
        const rows = 50;
        // the expected logits: floats filled by fillBatch, through forward
        const input = model.allocInput(rows);
        const labels = model.allocLabels(rows);
        fillBatch(bytes, order, 20, rows, input, labels);
        const expected = Float32Array.from(model.forward(input, rows));
        const buffer = new BatchBuffer(model, 64);
        buffer.fill(bytes, order, 20, rows);
        assert.deepEqual(Float32Array.from(buffer.forward(rows)), expected, `${backend}: byte images`);
        assert.deepEqual(buffer.labels.subarray(0, rows), labels);
        // the float images hold p / 255, the byte path computes p · (1 / 255): they may round apart, so compare closely
        buffer.fill(floats, order, 20, rows);
        const fromFloats = buffer.forward(rows);
        for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(fromFloats[i] - expected[i]) <= 1e-5, `${backend}: float images, logit ${i}`);
        // in order, as evaluation reads
        fillBatch(bytes, Uint32Array.from({ length: bytes.count }, (_, i) => i), 100, rows, input, labels);
        const inOrder = Float32Array.from(model.forward(input, rows));
        buffer.fillRange(bytes, 100, rows);
        assert.deepEqual(Float32Array.from(buffer.forward(rows)), inOrder, `${backend}: fillRange`);
      } finally {
        await kernels.close();
      }
    }
  });

  it('refuses a batch larger than the buffer or past the data, images of another size, and a forward of rows not filled', async () => {
    const kernels = await createKernels({ backend: 'reference' });
    const model = Mlp.create(kernels, { inputs: 784, hidden: [8], classes: 10, activation: 'relu' }, 1);
    const buffer = new BatchBuffer(model, 10);
    assert.throws(() => buffer.forward(5), /fill the buffer first/);
    assert.throws(() => buffer.fillRange(bytes, 0, 11), /a batch of 11 rows does not fit a buffer of 10/);
    assert.throws(() => buffer.fillRange(bytes, bytes.count - 3, 5), /images \[297, 302\) are outside the dataset's 300/);
    assert.throws(() => buffer.fill(bytes, [1, 2, 3], 1, 3), /batch \[1, 4\) is outside the 3 indices/);
    buffer.fillRange(bytes, 0, 4);
    assert.ok(buffer.forward(4).subarray(0, 40).every(Number.isFinite));
    assert.throws(() => buffer.forward(5), /5 rows asked, the last fill wrote 4/);
    const small: Dataset = { ...bytes, height: 14, width: 14, images: bytes.images.subarray(0, 196 * 10), count: 10 };
    assert.throws(() => buffer.fillRange(small, 0, 5), /14×14 = 196 pixels do not fit a network with 784 inputs/);
  });
});
