import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, test } from 'node:test';
import { createReferenceKernels } from '../../src/core/index.js';
import { loadData } from '../../src/data/source.js';
import { Classifier } from '../../src/nn/classifier.js';
import { evaluate } from '../../src/train/evaluate.js';
import { openStudy } from '../../src/study/results.js';
import { StudyRunner } from '../../src/study/runner.js';
import { parseStudySpec } from '../../src/study/spec.js';
import { StudyStorageError } from '../../src/study/storage.js';
import { SqliteStudyStorage } from '../../src/study/storage-sqlite.js';
import { writeIdxFile } from '../../src/data/idx.js';
import { writeSmallIdx } from '../cli/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'digitlab-study-runner-'));
const small = join(dir, 'small');
before(() => writeSmallIdx(small, 2500, 500));
after(() => rmSync(dir, { recursive: true, force: true }));

function specText(extra: string): string {
  return `name: t
data: idx:${small}
validation: 500
batch_size: 50
${extra}`;
}

async function runStudy(text: string, out: string, options: { workers?: number; prune?: boolean } = {}) {
  const runner = new StudyRunner({ spec: parseStudySpec(text, 'test.yaml'), specText: text, out, workers: options.workers ?? 2, prune: options.prune, backend: 'wasm' });
  return runner.run();
}

describe('running a study', () => {
  const text = specText(`epochs: 3
seeds: [1]
space:
  - layers: [1]
    nodes: [8, 16]
    lr: 0.01
  - hidden: [[8]]
    optimizer: sgd
    lr: 1.0e+20
`);
  const out = join(dir, 'basic');

  it('trains every trial on worker threads, records a diverged trial as diverged and goes on, and saves each best model', async () => {
    const { stopped, ran } = await runStudy(text, out);
    assert.equal(stopped, false);
    assert.equal(ran, 3);
    const results = (await openStudy(out));
    assert.equal(results.state, 'complete');
    assert.deepEqual(results.trials.map((t) => t.status), ['done', 'done', 'diverged']);
    const diverged = results.trials[2];
    assert.equal(diverged.modelDir, null);
    assert.equal(diverged.testAccuracy, null);
    assert.ok(diverged.epochs.some((e) => !Number.isFinite(e.val_loss) || !Number.isFinite(e.train_loss)), 'a NaN/inf epoch is recorded');

    const data = loadData(`idx:${small}`, { validation: 500 });
    for (const trial of results.trials.slice(0, 2)) {
      assert.equal(trial.epochs.length, 3);
      assert.deepEqual(trial.epochs.map((e) => e.epoch), [1, 2, 3]);
      assert.equal(trial.params, 784 * trial.hidden[0] + trial.hidden[0] + trial.hidden[0] * 10 + 10);
      assert.ok(trial.testAccuracy! > 0.5, `test accuracy ${trial.testAccuracy}`);
      assert.ok(trial.timings.wall > 0 && trial.timings.train > 0);
      // The saved model folder is the trial's model: it scores exactly the recorded test accuracy.
      assert.ok(trial.modelDir && existsSync(join(trial.modelDir, 'config.json')) && existsSync(join(trial.modelDir, 'model.safetensors')));
      const classifier = await Classifier.load(createReferenceKernels(), trial.modelDir);
      assert.ok(Math.abs(evaluate(classifier.model, data.test).accuracy - trial.testAccuracy!) <= 2 / 500);
    }
    const store = SqliteStudyStorage.open(out, { readonly: true });
    try {
      const params = (await store.params(1));
      assert.deepEqual(params.hidden, [8]);
      assert.equal(params.optimizer, 'adam');
      assert.equal(params.epochs, 3);
    } finally {
      await store.close();
    }
    assert.equal(results.summary.counts.diverged, 1);
    assert.ok(results.summary.recommendation.some((line) => /diverged/.test(line)));
  });

  it('keeps finished trials when rerun, and refuses a different spec in the same folder', async () => {
    const before = (await openStudy(out));
    const { ran } = await runStudy(text, out);
    assert.equal(ran, 0);
    assert.deepEqual((await openStudy(out)).trials.map((t) => t.testAccuracy), before.trials.map((t) => t.testAccuracy));
    await assert.rejects(runStudy(text.replace('epochs: 3', 'epochs: 4'), out), StudyStorageError);
  });

  it('prunes at the rungs with the reason, stopping exactly at the rung epoch', async () => {
    const pruneText = specText(`epochs: 4
seeds: [1]
prune: { min_epochs: 1, reduction: 2 }
space:
  - layers: [1]
    nodes: [16]
    lr: [0.01, 0.003, 0.0001, 0.00003, 0.00001, 0.000003]
`);
    const pruned = join(dir, 'pruned');
    await runStudy(pruneText, pruned, { workers: 1, prune: true });
    const results = (await openStudy(pruned));
    const prunedTrials = results.trials.filter((t) => t.status === 'pruned');
    assert.ok(prunedTrials.length >= 2, `pruned ${prunedTrials.length}`);
    for (const trial of prunedTrials) {
      assert.match(trial.prunedReason ?? '', /^rung \d \(epoch (\d)\): validation accuracy [\d.]+% is below [\d.]+%, the bar for the best 1\/2 of the \d+ trials at this rung$/);
      const epoch = Number(/epoch (\d)/.exec(trial.prunedReason!)![1]);
      assert.equal(trial.epochsRun, epoch);
      assert.equal(trial.modelDir, null);
    }
    // With one worker the order is fixed: the first trial (the best rate) has no rival and runs to the end.
    assert.equal(results.trials[0].status, 'done');
    assert.equal(results.trials[0].epochsRun, 4);
    assert.ok(results.summary.epochsTrained < 6 * 4);
    const store = SqliteStudyStorage.open(pruned, { readonly: true });
    try {
      for (const rung of await store.rungs()) assert.equal(rung.kept, rung.metric >= rung.threshold);
    } finally {
      await store.close();
    }
  });
});

test('a study trains schedules and augmentations as axes, and tells the augmented designs apart', async () => {
  const text = specText(`epochs: 2
seeds: [1]
space:
  - hidden: [[16]]
    lr: 0.01
    schedule: step:1:0.5
    augment: [none, affine, { affine: { rotate: 20 }, elastic: true }]
`);
  const out = join(dir, 'augmented');
  await runStudy(text, out);
  const results = (await openStudy(out));
  assert.deepEqual(results.trials.map((t) => t.status), ['done', 'done', 'done']);
  for (const trial of results.trials) assert.deepEqual(trial.epochs.map((e) => e.lr), [0.01, 0.005], `trial ${trial.number} follows its schedule`);
  assert.deepEqual(results.trials.map((t) => t.augment), [
    null,
    { affine: { rotate: 10, scale: 0.1, shear: 10, translate: 2 } },
    { affine: { rotate: 20, scale: 0.1, shear: 10, translate: 2 }, elastic: { alpha: 34, sigma: 4 } },
  ]);
  assert.deepEqual(results.designs.map((d) => d.label).sort(), ['16 adam lr 0.01', '16 adam lr 0.01 + affine', '16 adam lr 0.01 + affine+elastic']);
  // distortions change what a trial learns, and its saved settings say which it trained with
  const accuracies = results.trials.map((t) => t.testAccuracy);
  assert.equal(new Set(accuracies).size, 3, `test accuracies ${accuracies.join(', ')}`);
  const store = SqliteStudyStorage.open(out, { readonly: true });
  try {
    assert.deepEqual((await store.params(3)).augment, results.trials[2].augment);
    assert.equal((await store.params(1)).augment, undefined);
  } finally {
    await store.close();
  }
});

test('a study on labels with a gap says so when it starts', async () => {
  const odd = join(dir, 'odd');
  writeSmallIdx(odd, 600, 100);
  const labels = loadData(`idx:${odd}`, { validation: 0 }).train.labels.slice();
  labels[5] = 11;
  writeIdxFile(join(odd, 'train-labels-idx1-ubyte'), labels, [labels.length]);
  const text = `name: odd\ndata: idx:${odd}\nvalidation: 100\nbatch_size: 50\nepochs: 1\nseeds: [1]\nspace:\n  - hidden: [[4]]\n`;
  const runner = new StudyRunner({ spec: parseStudySpec(text, 'odd.yaml'), specText: text, out: join(dir, 'odd-study'), workers: 1, backend: 'wasm' });
  let warnings: string[] = [];
  runner.on('start', (e) => (warnings = e.warnings));
  await runner.run();
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /class 10 has no training images.*label 11 is on 1 image, the first train\[5\]/);
});

test('a TPE study draws its trials as it runs, one per seed of each design, the same draws on a rerun of the spec', async () => {
  const text = specText(`epochs: 1
seeds: [1, 2]
search: tpe
search_seed: 3
budget: { trials: 24 }
space:
  - layers: { int: [1, 2] }
    nodes: { int: [4, 64], log: true }
    lr: { log: [0.0003, 0.03] }
    optimizer: [adam, sgd]
`);
  const first = join(dir, 'tpe-1');
  const { ran } = await runStudy(text, first, { workers: 1 });
  assert.equal(ran, 24);
  const results = await openStudy(first);
  assert.equal(results.state, 'complete');
  assert.deepEqual(results.trials.map((t) => t.number), Array.from({ length: 24 }, (_, i) => i + 1));
  assert.deepEqual(results.trials.map((t) => t.seed), Array.from({ length: 24 }, (_, i) => (i % 2) + 1));
  for (let i = 0; i < 24; i += 2) {
    const [a, b] = [results.trials[i], results.trials[i + 1]];
    assert.deepEqual([a.hidden, a.lr, a.optimizer], [b.hidden, b.lr, b.optimizer], `trials ${i + 1} and ${i + 2} are one design`);
    assert.ok(a.hidden.length >= 1 && a.hidden.length <= 2 && a.hidden[0] >= 4 && a.hidden[0] <= 64 && a.lr >= 0.0003 && a.lr <= 0.03);
  }
  assert.equal(results.designs.length, 12);
  const store = SqliteStudyStorage.open(first, { readonly: true });
  try {
    const drawn = (await store.params(24)).search_params as Record<string, number>;
    assert.deepEqual(Object.keys(drawn).sort(), ['0.layers', '0.lr', '0.nodes', '0.optimizer']);
    assert.equal(drawn['0.lr'], results.trials[23].lr);
  } finally {
    await store.close();
  }
  // one worker: every draw after the first ten finished trials learned from the same trials, so a
  // second study of the spec draws the same designs (the trained numbers are the same too)
  const second = join(dir, 'tpe-2');
  await runStudy(text, second, { workers: 1 });
  const again = await openStudy(second);
  assert.deepEqual(again.trials.map((t) => [t.hidden, t.lr, t.optimizer, t.bestValAccuracy]), results.trials.map((t) => [t.hidden, t.lr, t.optimizer, t.bestValAccuracy]));
  // a finished study is not drawn further
  assert.equal((await runStudy(text, first, { workers: 1 })).ran, 0);
});
