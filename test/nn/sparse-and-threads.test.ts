// Training gives the same loss curve with 1 or 2 kernel threads (bit for bit: work is split so that
// every sum keeps its order) and with or without the sparse first layer (within rounding, 1e-4).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createKernels, type KernelOptions } from '../../src/core/index.js';
import { parseLayers } from '../../src/io/layer-text.js';
import { buildModelSpec } from '../../src/io/model-spec.js';
import { Mlp } from '../../src/nn/mlp.js';
import { Sequential } from '../../src/nn/sequential.js';
import { TrainingRun, type EpochRecord } from '../../src/train/trainer.js';
import { settings, smallMnist } from '../train/helpers.js';

const data = smallMnist(3000, 500, 500);

async function lossCurve(options: KernelOptions, hidden: number[], batchSize: number): Promise<EpochRecord[]> {
  const kernels = await createKernels({ backend: 'wasm', ...options });
  try {
    const run = new TrainingRun({
      kernels, data, settings: settings({ hidden, batchSize, epochs: 3, optimizer: 'adam', optimizerOptions: { lr: 1e-3 } }),
    });
    const result = await run.run();
    return result.epochs;
  } finally {
    await kernels.close();
  }
}

function curves(records: EpochRecord[]): number[] {
  return records.flatMap((e) => [e.train_loss, e.val_loss ?? NaN]);
}

describe('training equivalence', () => {
  // 784-300-10 at batch 100: the first layer's products are large enough to be split across threads
  it('is identical with 1 and 2 threads, sparse path on', async () => {
    const one = await lossCurve({ threads: 1 }, [300], 100);
    const two = await lossCurve({ threads: 2 }, [300], 100);
    assert.deepEqual(curves(two), curves(one));
  });

  it('is identical with 1 and 2 threads, dense path', async () => {
    const one = await lossCurve({ threads: 1, sparseDensityLimit: 0 }, [300], 100);
    const two = await lossCurve({ threads: 2, sparseDensityLimit: 0 }, [300], 100);
    assert.deepEqual(curves(two), curves(one));
  });

  it('agrees within 1e-4 with and without the sparse first layer', async () => {
    for (const [hidden, batch] of [[[300], 100], [[64, 32], 20]] as const) {
      const dense = curves(await lossCurve({ threads: 2, sparseDensityLimit: 0 }, [...hidden], batch));
      const sparse = curves(await lossCurve({ threads: 2, sparseDensityLimit: 1 }, [...hidden], batch));
      for (let i = 0; i < dense.length; i++) {
        assert.ok(Math.abs(sparse[i] - dense[i]) <= 1e-4, `loss ${i}: sparse ${sparse[i]}, dense ${dense[i]}`);
      }
    }
  });
});

/**
 * One forward (from the scaled floats, or from the bytes with forwardPixels), loss and backward of the
 * first `rows` training labels: the logits, the loss and every parameter's gradient, copied.
 */
function step(model: Sequential, kind: 'floats' | 'pixels', images: Uint8Array, rows: number, training: boolean) {
  const labels = model.allocLabels(rows);
  labels.set(data.train.labels.subarray(0, rows));
  let logits: Float32Array;
  if (kind === 'floats') {
    const input = model.allocInput(rows);
    for (let i = 0; i < rows * 784; i++) input[i] = images[i] * (1 / 255);
    logits = model.forward(input, rows, training);
  } else {
    const pixels = model.allocPixels(rows);
    pixels.set(images.subarray(0, rows * 784));
    logits = model.forwardPixels(pixels, rows, 1 / 255, training);
  }
  const copy = Float32Array.from(logits);
  const loss = model.lossAndGradient(labels, rows);
  model.backward(rows);
  return { logits: copy, loss, grads: model.params().map((p) => Float32Array.from(p.grad)) };
}

describe('pixel input', () => {
  // The first layer reads raw bytes (pixel · scale) instead of a float copy of the batch: the logits and
  // gradients must be the ones the scaled floats give, on the sparse path and on the dense fallback.
  it('gives the same logits and gradients as the scaled floats, sparse or dense, 1 or 2 threads', async () => {
    const rows = 37;
    const images = data.train.images as Uint8Array;
    for (const options of [{ threads: 1 }, { threads: 2 }, { threads: 1, sparseDensityLimit: 0 }, { threads: 1, sparseDensityLimit: 0.01 }]) {
      const kernels = await createKernels({ backend: 'wasm', ...options });
      try {
        const results = (['floats', 'pixels'] as const).map((kind) =>
          step(Mlp.create(kernels, { inputs: 784, hidden: [60, 30], classes: 10, activation: 'relu' }, 5), kind, images, rows, false));
        const what = JSON.stringify(options);
        assert.deepEqual(results[1].logits, results[0].logits, `${what}: logits`);
        assert.equal(results[1].loss, results[0].loss, `${what}: loss`);
        results[0].grads.forEach((grad, i) => assert.deepEqual(results[1].grads[i], grad, `${what}: gradient ${i}`));
        assert.ok(results[0].loss > 0 && Number.isFinite(results[0].loss));
      } finally {
        await kernels.close();
      }
    }
  });

  it('gives a first convolution the same logits and gradients from bytes as from the scaled floats', async () => {
    const rows = 23;
    const spec = buildModelSpec([1, 28, 28], parseLayers('conv 4 5x5 pad 2, relu, maxpool 2, conv 6 3x3, relu, linear 12, relu'), 10);
    // MNIST's digits (about 19% nonzero: the listing of the bytes), and the same digits with every
    // third pixel set (past the sparse limit: the layer's own float copy)
    const digits = (data.train.images as Uint8Array).subarray(0, rows * 784);
    const dense = digits.map((p, i) => (i % 3 === 0 ? Math.max(p, 40) : p));
    for (const threads of [1, 2]) {
      const kernels = await createKernels({ backend: 'wasm', threads });
      try {
        for (const images of [digits, dense]) {
          const results = (['floats', 'pixels'] as const).map((kind) => step(Sequential.create(kernels, spec, 3), kind, images, rows, true));
          const what = `${threads} thread(s), ${images === digits ? 'digits' : 'denser images'}`;
          assert.deepEqual(results[1].logits, results[0].logits, `${what}: logits`);
          assert.equal(results[1].loss, results[0].loss, `${what}: loss`);
          results[0].grads.forEach((grad, i) => assert.deepEqual(results[1].grads[i], grad, `${what}: gradient ${i}`));
          assert.ok(results[0].grads[0].some((g) => g !== 0), `${what}: the first layer has a gradient`);
        }
      } finally {
        await kernels.close();
      }
    }
  });
});
