// Augmentation in a training run: the batches are distorted copies (labels unchanged), a run is
// reproducible from its seed, and a run killed mid-epoch resumes to exactly the weights of an
// uninterrupted one (the augmenter's generator is in the checkpoint).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createKernels } from '../../src/core/index.js';
import { Augmenter, DEFAULT_AFFINE, DEFAULT_ELASTIC, type AugmentSpec } from '../../src/data/augment.js';
import { Sequential } from '../../src/nn/sequential.js';
import { BatchBuffer } from '../../src/train/batches.js';
import { modelSpecFor } from '../../src/train/settings.js';
import { TrainingRun } from '../../src/train/trainer.js';
import { assertSameWeights, interruptAndResume, settings, smallMnist } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'digitlab-augment-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const both: AugmentSpec = { affine: DEFAULT_AFFINE, elastic: DEFAULT_ELASTIC };

describe('augmentation in training', () => {
  const data = smallMnist();

  it('fills a batch with distorted copies of its images and their own labels', async () => {
    const kernels = await createKernels();
    const model = Sequential.create(kernels, modelSpecFor(settings(), data.train), 1);
    const order = Uint32Array.from({ length: 20 }, (_, i) => 3 * i + 1);
    const plain = new BatchBuffer(model, 20);
    plain.fill(data.train, order, 0, 20);
    const distorted = new BatchBuffer(model, 20);
    distorted.fill(data.train, order, 0, 20, new Augmenter(kernels, both, 3, 20, 28, 28));
    assert.deepEqual(distorted.labels, plain.labels);
    const a = Float32Array.from(plain.forward(20));
    const b = Float32Array.from(distorted.forward(20));
    assert.notDeepEqual(b, a, 'the network sees other images');
    assert.throws(
      () => distorted.fill(data.train, order, 0, 20, new Augmenter(kernels, both, 3, 10, 28, 28)),
      /the augmenter distorts up to 10 images of 28×28; the batch has 20 of 28×28/,
    );
  });

  it('is reproducible from the seed, trains other weights than a plain run, and still learns', async () => {
    const kernels = await createKernels();
    const train = async (augment: AugmentSpec | undefined, seed = 5) => {
      const run = new TrainingRun({ kernels, data, settings: settings({ augment, seed, epochs: 2 }) });
      const result = await run.run();
      return { weights: Float32Array.from(run.model.params()[0].value), result };
    };
    const a = await train(both);
    assert.deepEqual((await train(both)).weights, a.weights);
    assert.notDeepEqual((await train(undefined)).weights, a.weights);
    assert.notDeepEqual((await train({ affine: DEFAULT_AFFINE })).weights, a.weights);
    assert.ok((a.result.epochs[1].val_accuracy ?? NaN) > 0.75, `validation accuracy ${a.result.epochs[1].val_accuracy}`);
  });

  it('resumes a run killed mid-epoch to exactly the weights of an uninterrupted run', async () => {
    const kernels = await createKernels();
    const s = settings({ augment: both, epochs: 3 });
    const straight = new TrainingRun({ kernels, data, settings: s, checkpointPath: join(dir, 'straight.safetensors') });
    await straight.run();

    const path = join(dir, 'resumed.safetensors');
    const { run: second, result } = await interruptAndResume(kernels, data, s, path, { epoch: 2, batch: 40 });
    assert.equal(result.epochs.length, 3);
    assertSameWeights(straight, second);
    // and the checkpoint is refused by a run with other distortions
    const other = new TrainingRun({ kernels, data, settings: { ...s, augment: { affine: DEFAULT_AFFINE } }, checkpointPath: path, resume: true });
    await assert.rejects(other.run(), /other settings \(augment: /);
  });

  it('refuses bad ranges with the value and the fix', async () => {
    const kernels = await createKernels();
    assert.throws(() => new TrainingRun({ kernels, data, settings: settings({ augment: { affine: { ...DEFAULT_AFFINE, scale: 1.5 } } }) }), /affine scale must be below 1/);
    assert.throws(() => new TrainingRun({ kernels, data, settings: settings({ augment: { elastic: { alpha: 34, sigma: 0 } } }) }), /elastic sigma must be a positive number, got 0/);
  });
});
