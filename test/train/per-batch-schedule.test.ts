/** A one-cycle schedule in a training run: set before every step, resumed exactly, and tied to the run's length. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createKernels } from '../../src/core/index.js';
import { oneCycleLR, stepLR } from '../../src/optim/schedules.js';
import { optimizerOptionsFor, TrainingRun } from '../../src/train/trainer.js';
import { assertSameWeights, interruptAndResume, settings, smallMnist } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'digitlab-onecycle-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const data = smallMnist(1000, 200, 200);
const close = (a: number, b: number) => Math.abs(a - b) <= 1e-15 + 1e-12 * Math.abs(b);

describe('per-batch schedules in a training run', () => {
  it('one-cycle sets the lr and Adam\'s β1 before every step, across epochs', async () => {
    const kernels = await createKernels({ backend: 'reference' });
    // 1000 images in batches of 100: 10 steps per epoch, 20 in all
    const run = new TrainingRun({ kernels, data, settings: settings({
      optimizerOptions: { lr: 0.01 }, epochs: 2, batchSize: 100, schedule: { type: 'onecycle' },
    }) });
    const seen: { lr: number; beta1: number | undefined }[] = [];
    run.on('batchEnd', () => seen.push({ lr: run.optimizer.lr, beta1: run.optimizer.state().scheduledMomentum }));
    const result = await run.run();
    const want = oneCycleLR(0.01, 20); // the optimizer's lr is the peak
    assert.equal(seen.length, 20);
    seen.forEach(({ lr, beta1 }, t) => {
      assert.ok(close(lr, want.lrAt(t)), `step ${t}: lr ${lr}, expected ${want.lrAt(t)}`);
      assert.ok(beta1 !== undefined && close(beta1, want.momentumAt(t)!), `step ${t}: beta1 ${beta1}`);
    });
    assert.ok(close(result.epochs[1].lr, want.lrAt(19)), 'an epoch records the lr of its last step');
    assert.ok((result.epochs[1].val_accuracy ?? NaN) > 0.5, `learns: ${result.epochs[1].val_accuracy}`);
  });

  it('SGD made without momentum gets OneCycleLR\'s maxMomentum, as PyTorch sets it', async () => {
    const kernels = await createKernels({ backend: 'reference' });
    const s = settings({ optimizer: 'sgd', optimizerOptions: { lr: 0.1 }, epochs: 1, batchSize: 100, schedule: { type: 'onecycle', maxMomentum: 0.9 } });
    assert.deepEqual(optimizerOptionsFor(s), { lr: 0.1, momentum: 0.9 });
    assert.deepEqual(optimizerOptionsFor({ ...s, schedule: { type: 'onecycle', cycleMomentum: false } }), { lr: 0.1 });
    assert.deepEqual(optimizerOptionsFor({ ...s, optimizerOptions: { lr: 0.1, momentum: 0.5 } }), { lr: 0.1, momentum: 0.5 });
    assert.deepEqual(optimizerOptionsFor({ ...s, schedule: null }), { lr: 0.1 });
    const run = new TrainingRun({ kernels, data, settings: s });
    const momentum: number[] = [];
    run.on('batchEnd', () => momentum.push(run.optimizer.state().scheduledMomentum!));
    await run.run();
    const want = oneCycleLR(0.1, 10, { maxMomentum: 0.9 });
    momentum.forEach((m, t) => assert.ok(close(m, want.momentumAt(t)!), `step ${t}: momentum ${m}`));
    assert.deepEqual(s.optimizerOptions, { lr: 0.1 }, 'the settings stay as given');
  });

  it('epoch schedules still change the lr only between epochs', async () => {
    const kernels = await createKernels({ backend: 'reference' });
    const run = new TrainingRun({ kernels, data, settings: settings({
      optimizer: 'sgd', optimizerOptions: { lr: 0.1 }, epochs: 3, batchSize: 250, schedule: { type: 'step', stepSize: 1, gamma: 0.5 },
    }) });
    const lrs: number[][] = [[], [], []];
    run.on('batchEnd', ({ epoch }) => lrs[epoch - 1].push(run.optimizer.lr));
    await run.run();
    const want = stepLR(0.1, 1, 0.5);
    lrs.forEach((epoch, e) => assert.deepEqual(epoch, [0, 1, 2, 3].map(() => want.lrAt(e))));
  });

  it('an interrupted one-cycle run resumes to exactly the weights of an uninterrupted one', async () => {
    const kernels = await createKernels();
    const s = settings({ optimizer: 'sgd', optimizerOptions: { lr: 0.2 }, epochs: 3, batchSize: 50, schedule: { type: 'onecycle' } });
    const straight = new TrainingRun({ kernels, data, settings: s });
    await straight.run();

    const { run: second } = await interruptAndResume(kernels, data, s, join(dir, 'resumed.safetensors'), { epoch: 2, batch: 7 });
    assertSameWeights(straight, second);
  });

  it('a one-cycle run that spans the run\'s epochs cannot be resumed with more epochs; one with totalSteps can', async () => {
    const kernels = await createKernels();
    const spanning = settings({ epochs: 1, batchSize: 100, schedule: { type: 'onecycle' } });
    const path = join(dir, 'spanning.safetensors');
    await new TrainingRun({ kernels, data, settings: spanning, checkpointPath: path }).run();
    const longer = new TrainingRun({ kernels, data, settings: { ...spanning, epochs: 2 }, checkpointPath: path, resume: true });
    await assert.rejects(longer.run(), /epochs: 1 then, 2 now/);

    const fixed = settings({ epochs: 1, batchSize: 100, schedule: { type: 'onecycle', totalSteps: 20 } });
    const fixedPath = join(dir, 'fixed.safetensors');
    await new TrainingRun({ kernels, data, settings: fixed, checkpointPath: fixedPath }).run();
    const result = await new TrainingRun({ kernels, data, settings: { ...fixed, epochs: 2 }, checkpointPath: fixedPath, resume: true }).run();
    assert.equal(result.epochs.length, 2);
  });
});
