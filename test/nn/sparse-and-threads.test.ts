// Training gives the same loss curve with 1 or 2 kernel threads (bit for bit: work is split so that
// every sum keeps its order) and with or without the sparse first layer (within rounding, 1e-4).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createKernels, type KernelOptions } from '../../src/core/index.js';
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
  return records.flatMap((e) => [e.train_loss, e.val_loss]);
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
