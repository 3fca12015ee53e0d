/**
 * Datasets smaller than MNIST without `--validation`: the default validation split is a sixth of the
 * training images, so every command works on any size.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sliceDataset } from '../../src/data/dataset.js';
import { writeMnistPickle } from '../../src/data/pickle-writer.js';
import { loadData } from '../../src/data/source.js';
import { assertCleanFailure, digitlab, digitlabProcess, writeSmallIdx } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'digitlab-cli-small-'));
const idx = join(dir, 'idx-600');
const data = `idx:${idx}`;
const pickle = join(dir, 'small.pkl.gz');
after(() => rmSync(dir, { recursive: true, force: true }));

before(() => {
  writeSmallIdx(idx, 600, 100);
  // a pickle in the tutorial's layout whose own validation split is 120 images, not 10,000
  const mnist = loadData('mnist');
  writeMnistPickle(pickle, { train: sliceDataset(mnist.train, 0, 480), validation: sliceDataset(mnist.validation, 0, 120), test: sliceDataset(mnist.test, 0, 100) }, { level: 1 });
});

describe('a set of 600 training images, no --validation given', () => {
  it('data info holds out a sixth (100) for validation', () => {
    const r = digitlab(['data', 'info', '--data', data, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const info = JSON.parse(r.stdout);
    assert.deepEqual([info.train.count, info.validation.count, info.test.count], [500, 100, 100]);
  });

  it('data show shows it', () => {
    const r = digitlab(['data', 'show', '--data', data, '--split', 'validation', '--out', join(dir, 'digit.png'), '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).count, 1);
  });

  it('train and eval use the same split', () => {
    const model = join(dir, 'model');
    const r = digitlab(['train', '--data', data, '--hidden', '16', '--epochs', '1', '--out', model]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /1 epochs? of 500 images/);
    const e = digitlab(['eval', '--model', model, '--data', data, '--split', 'validation', '--json']);
    assert.equal(e.status, 0, e.stderr);
    assert.equal(JSON.parse(e.stdout).count, 100);
  });

  it('serve starts on it (training its first model there)', async () => {
    const child = digitlabProcess(['serve', '--port', '0', '--data', data, '--runs', join(dir, 'runs'), '--studies', join(dir, 'studies')]);
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const url = await new Promise<string | null>((resolve) => {
      child.stdout.on('data', (chunk) => {
        stdout += chunk;
        const match = /serving (http:\/\/\S+)/.exec(stdout);
        if (match) resolve(match[1]);
      });
      void exited.then(() => resolve(null));
    });
    try {
      assert.ok(url, `serve exited early: ${stderr}`);
      const models = (await (await fetch(`${url}/api/models`)).json()) as { models: Array<{ id: string }> };
      const gallery = await fetch(`${url}/api/models/${models.models[0].id}/gallery`);
      assert.equal(gallery.status, 200, await gallery.clone().text());
      assert.equal(((await gallery.json()) as { count: number }).count, 100);
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });

  it('train --data pkl: keeps the pickle\'s own split, and names only a size the user gave', () => {
    const r = digitlab(['train', '--data', `pkl:${pickle}`, '--hidden', '16', '--epochs', '1', '--out', join(dir, 'from-pickle')]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /of 480 images/);
    const problem = assertCleanFailure(
      digitlab(['train', '--data', `pkl:${pickle}`, '--validation', '50', '--epochs', '1', '--out', join(dir, 'bad')]),
      /own validation split of 120 .*asked for 50/,
    );
    assert.equal(problem, null, problem ?? '');
  });

  it('study run splits the same way when its spec gives no validation size, on IDX and pickle data', () => {
    for (const [name, source, trained] of [['idx', data, 500], ['pkl', `pkl:${pickle}`, 480]] as const) {
      const spec = join(dir, `study-${name}.yaml`);
      writeFileSync(spec, `name: small-${name}\ndata: ${source}\nepochs: 1\nbatch_size: 64\nseeds: [1]\nspace:\n  - hidden: [[8]]\n    optimizer: adam\n`);
      const r = digitlab(['study', 'run', spec, '--out', join(dir, `study-${name}`), '--workers', '1', '--json']);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, new RegExp(`${trained} training images`));
    }
  });

  it('--help states the default', () => {
    for (const command of [['train'], ['eval'], ['data', 'info'], ['data', 'show']]) {
      const r = digitlab([...command, '--help']);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout.replace(/\s+/g, ' '), /--validation <n>.*a sixth of the training images/, command.join(' '));
    }
  });
});
