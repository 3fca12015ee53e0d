import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createKernels } from '../../src/core/index.js';
import { sliceDataset } from '../../src/data/dataset.js';
import { ConvergenceTracker } from '../../src/train/convergence.js';
import { TrainingAbortedError, TrainingRun } from '../../src/train/trainer.js';
import { assertSameWeights, interruptAndResume, settings, smallMnist } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'digitlab-train-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('ConvergenceTracker', () => {
  it('converges at the last epoch that improved by more than the tolerance, after `patience` quiet epochs', () => {
    const tracker = new ConvergenceTracker({ tolerance: 0.01, patience: 2 });
    const losses = [1.0, 0.5, 0.4, 0.398, 0.399, 0.3];
    losses.forEach((loss, i) => tracker.update(i + 1, loss, (i + 1) * 10));
    // Epoch 3 improved by 20%; epochs 4 (0.5%) and 5 (worse) did not: converged at 3, after 30 s.
    assert.equal(tracker.state.convergedEpoch, 3);
    assert.equal(tracker.state.secondsToConverge, 30);
  });
  it('does not converge while the loss keeps improving', () => {
    const tracker = new ConvergenceTracker({ tolerance: 0.01, patience: 2 });
    [1, 0.9, 0.8, 0.7].forEach((loss, i) => tracker.update(i + 1, loss, i));
    assert.equal(tracker.state.convergedEpoch, null);
    assert.equal(tracker.state.secondsToConverge, null);
  });
});

describe('TrainingRun', () => {
  const data = smallMnist();

  it('learns: validation accuracy well above chance after 3 epochs, with history and test evaluation', async () => {
    const kernels = await createKernels();
    const run = new TrainingRun({ kernels, data, settings: settings() });
    const ends: number[] = [];
    run.on('epochEnd', (e) => ends.push(e.epoch));
    const result = await run.run();
    assert.deepEqual(ends, [1, 2, 3]);
    assert.ok((result.epochs[2].val_accuracy ?? NaN) > 0.8, `val accuracy ${result.epochs[2].val_accuracy}`);
    assert.ok(result.epochs[2].train_loss < result.epochs[0].train_loss);
    assert.equal(result.test.count, 500);
    assert.equal(result.test.confusion.flat().reduce((a, b) => a + b, 0), 500);
    assert.equal(result.params, 784 * 32 + 32 + 32 * 10 + 10);
  });

  it('is reproducible: the same seed gives the same weights, another seed others', async () => {
    const kernels = await createKernels();
    const weights = async (seed: number) => {
      const run = new TrainingRun({ kernels, data, settings: settings({ seed, epochs: 1 }) });
      await run.run();
      return Float32Array.from(run.model.params()[0].value);
    };
    const a = await weights(1);
    assert.deepEqual(await weights(1), a);
    assert.notDeepEqual(await weights(2), a);
  });

  it('resumes an interrupted run from its checkpoint to exactly the weights of an uninterrupted run', async () => {
    const kernels = await createKernels();
    const s = settings({ optimizer: 'sgd', optimizerOptions: { lr: 0.05, momentum: 0.9, nesterov: true }, epochs: 3 });
    const straight = new TrainingRun({ kernels, data, settings: s, checkpointPath: join(dir, 'straight.safetensors') });
    await straight.run();

    // stopped in the middle of epoch 2: its partial work is lost, the epoch-1 checkpoint stays
    const { run: second, result, resumedAt } = await interruptAndResume(kernels, data, s, join(dir, 'resumed.safetensors'), { epoch: 2, batch: 15 });
    assert.equal(resumedAt, 1);
    assert.equal(result.epochs.length, 3);
    assertSameWeights(straight, second);
  });

  it('trains on every training image when none is held out: no validation figures, the last epoch kept, resumable', async () => {
    const kernels = await createKernels();
    const all = { ...data, validation: sliceDataset(data.validation, 0, 0) };
    const s = settings({ epochs: 3 });
    const straight = new TrainingRun({ kernels, data: all, settings: s, checkpointPath: join(dir, 'all.safetensors') });
    const result = await straight.run();
    assert.deepEqual(result.epochs.map((e) => [e.val_loss, e.val_accuracy]), [[null, null], [null, null], [null, null]]);
    assert.ok(result.epochs[2].train_loss < result.epochs[0].train_loss, 'the training loss falls');
    assert.equal(result.best_epoch, 3);
    assert.equal(result.converged_epoch, null);
    assert.equal(result.diverged, false);
    assert.ok(result.test.accuracy > 0.8, `test accuracy ${result.test.accuracy}`);
    // the same weights as a run that held out validation images and trained on the rest: only the
    // training images and their order decide them, never the validation
    const held = new TrainingRun({ kernels, data, settings: s });
    await held.run();
    assertSameWeights(straight, held);
    const { run: second, resumedAt } = await interruptAndResume(kernels, all, s, join(dir, 'all-resumed.safetensors'), { epoch: 2, batch: 10 });
    assert.equal(resumedAt, 1);
    assertSameWeights(straight, second);
    assert.throws(
      () => new TrainingRun({ kernels, data: all, settings: settings({ earlyStoppingPatience: 2 }) }),
      /early stopping watches the validation loss, and this run holds out no validation images/,
    );
  });

  it('a run stopped before its first checkpoint says nothing was saved, rather than to resume', async () => {
    const kernels = await createKernels();
    const controller = new AbortController();
    const run = new TrainingRun({ kernels, data, settings: settings({ epochs: 2 }), checkpointPath: join(dir, 'never.safetensors'), signal: controller.signal });
    run.on('batchEnd', () => controller.abort());
    await assert.rejects(run.run(), (error: Error) => {
      assert.ok(error instanceof TrainingAbortedError);
      assert.equal(error.message, 'training stopped during epoch 1, before its first checkpoint: nothing was saved');
      return true;
    });
  });

  it('trains with the whole training set as one batch when the batch size asks for more, and says so', async () => {
    const kernels = await createKernels();
    const run = new TrainingRun({ kernels, data, settings: settings({ batchSize: 5000, epochs: 1 }) });
    assert.equal(run.batchSize, 2000);
    const batches: number[] = [];
    run.on('batchEnd', (e) => batches.push(e.samples));
    await run.run();
    assert.deepEqual(batches, [2000]);
  });

  it('refuses to resume a checkpoint made with other settings, naming them', async () => {
    const kernels = await createKernels();
    const path = join(dir, 'other.safetensors');
    await new TrainingRun({ kernels, data, settings: settings({ epochs: 1 }), checkpointPath: path }).run();
    const run = new TrainingRun({ kernels, data, settings: settings({ epochs: 2, batchSize: 25 }), checkpointPath: path, resume: true });
    await assert.rejects(run.run(), /batchSize: 20 then, 25 now/);
  });

  it('stops early and restores the best epoch', async () => {
    const kernels = await createKernels();
    // A learning rate this high makes the validation loss climb after the first epochs.
    const run = new TrainingRun({
      kernels,
      data,
      settings: settings({ optimizer: 'adam', optimizerOptions: { lr: 0.05 }, epochs: 12, earlyStoppingPatience: 2 }),
    });
    const result = await run.run();
    const best = Math.min(...result.epochs.map((e) => e.val_loss ?? NaN));
    assert.ok(result.stopped_early, 'stopped early');
    assert.equal(result.epochs.length, result.best_epoch + 2);
    assert.equal(result.epochs[result.best_epoch - 1].val_loss, best);
  });

  it('records divergence instead of training on NaN', async () => {
    const kernels = await createKernels();
    const run = new TrainingRun({ kernels, data, settings: settings({ optimizer: 'sgd', optimizerOptions: { lr: 100 }, activation: 'identity', epochs: 3 }) });
    const result = await run.run();
    assert.ok(result.diverged);
    assert.ok(result.epochs.length < 3);
  });
});
