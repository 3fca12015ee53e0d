import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeImage, encodeGrayscalePng } from '../../src/data/images.js';
import { loadData } from '../../src/data/source.js';
import { digitlab, writeSmallIdx, type CliResult } from './helpers.js';

/**
 * Model folders and the commands around them: which model and which data a command uses when none is
 * named, what `train` prints and leaves behind. One tiny model (784-16-10, one epoch on 500 images)
 * serves every check.
 */
const dir = mkdtempSync(join(tmpdir(), 'digitlab-cli-runs-'));
const small = join(dir, 'small');
const work = join(dir, 'work');
const model = join(work, 'runs', 'tiny');
const picture = join(dir, 'seven.png');
const tinyData = ['--data', `idx:${small}`, '--validation', '100', '--hidden', '16', '--epochs', '1'];
let trained: CliResult;

before(() => {
  writeSmallIdx(small, 600, 100);
  mkdirSync(work);
  // relative paths, from the folder that holds runs/: the model must find its data from anywhere
  trained = digitlab(['train', '--data', 'idx:../small', '--validation', '100', '--hidden', '16', '--epochs', '1', '--batch-size', '100000', '--seed', '1', '--out', join('runs', 'tiny')], { cwd: work });
  assert.equal(trained.status, 0, trained.stderr);
  const test = loadData('mnist').test;
  writeFileSync(picture, encodeGrayscalePng(Uint8Array.from(test.images.subarray(0, 784), (v) => 255 - v), 28, 28));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('digitlab train: what it prints and leaves behind', () => {
  it('prints the batch size it trains with when --batch-size is larger than the data, and "1 epoch"', () => {
    assert.match(trained.stderr, /adam, 1 epoch of 500 images, batch 500 \(--batch-size 100,000 is more than the 500 training images\)/);
    assert.doesNotMatch(trained.stderr + trained.stdout, /\b1 epochs\b/);
    assert.match(trained.stdout, /had not converged after 1 epoch \(/);
  });

  it('refuses --resume when the folder has no checkpoint, naming the file and the fix', () => {
    const fresh = join(dir, 'fresh');
    const result = digitlab(['train', ...tinyData, '--out', fresh, '--resume']);
    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, /--resume: there is no checkpoint to continue from: .*fresh.checkpoint\.safetensors does not exist; drop --resume to start a new run/);
    assert.ok(!existsSync(fresh), 'nothing is created');
  });

  it('refuses --hidden 0 and names the way to ask for no hidden layer', () => {
    const out = join(dir, 'hidden-0');
    const result = digitlab(['train', ...tinyData, '--hidden', '0', '--out', out]);
    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, /--hidden 0: a layer needs at least one node; write --hidden none for no hidden layer/);
    assert.ok(!existsSync(out));
  });

  it('leaves no folder behind when it fails before saving anything, and keeps folders that were there', () => {
    const cwd = join(dir, 'elsewhere');
    mkdirSync(cwd);
    const missing = `idx:${join(dir, 'no-such-data')}`;
    const failed = digitlab(['train', '--data', missing, '--hidden', '16', '--epochs', '1'], { cwd });
    assert.equal(failed.status, 1, failed.stderr);
    assert.match(failed.stderr, /no-such-data does not exist/);
    assert.deepEqual(readdirSync(cwd), [], 'no runs/run-* folder');
    const deep = digitlab(['train', '--data', missing, '--out', join(dir, 'new', 'deeper')]);
    assert.equal(deep.status, 1);
    assert.ok(!existsSync(join(dir, 'new')));
    const existing = join(dir, 'existing');
    mkdirSync(existing);
    assert.equal(digitlab(['train', '--data', missing, '--out', existing]).status, 1);
    assert.ok(existsSync(existing), 'a folder the user made stays');
  });
});

describe('digitlab eval', () => {
  it('evaluates on the data the model was trained on, says so, and lets --data choose other data', () => {
    const recorded = digitlab(['eval', '--model', model, '--json'], { cwd: dir });
    assert.equal(recorded.status, 0, recorded.stderr);
    const json = JSON.parse(recorded.stdout);
    assert.equal(json.data, `idx:${small}`);
    assert.equal(json.count, 100);
    const text = digitlab(['eval', '--model', model], { cwd: dir });
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /^test split of idx:.*small \(the data the model was trained on; --data chooses other data\): 100 images$/m);
    const given = digitlab(['eval', '--model', model, '--data', 'mnist', '--json']);
    assert.equal(given.status, 0, given.stderr);
    assert.equal(JSON.parse(given.stdout).data, 'mnist');
    assert.equal(JSON.parse(given.stdout).count, 10000);
  });

  it('writes the most confidently wrong digits into the model folder, or --out, and says where', () => {
    const result = digitlab(['eval', '--model', model]);
    assert.equal(result.status, 0, result.stderr);
    const file = join(model, 'most-confidently-wrong-test.png');
    assert.match(result.stdout, /most confidently wrong test digits \(true\/predicted\): .*most-confidently-wrong-test\.png$/m);
    assert.ok(decodeImage(readFileSync(file), file).width > 28);
    const chosen = join(dir, 'wrong.png');
    const json = digitlab(['eval', '--model', model, '--split', 'validation', '--out', chosen, '--json']);
    assert.equal(json.status, 0, json.stderr);
    assert.equal(JSON.parse(json.stdout).wrong_digits, chosen);
    assert.ok(existsSync(chosen));
  });
});

describe('commands that use a model default to one under runs/', () => {
  it('eval uses the newest model folder; predict and read the most accurate digit model; each says which', () => {
    const older = join(work, 'runs', 'older');
    cpSync(model, older, { recursive: true });
    const past = new Date(Date.now() - 3600_000);
    utimesSync(join(older, 'model.safetensors'), past, past);
    // equal accuracies: the newest of them
    const newest = /^model: runs.tiny \(the newest under runs\/; --model DIR chooses another\)$/m;
    const accuracy = (JSON.parse(readFileSync(join(model, 'config.json'), 'utf8')) as { metrics: { test_accuracy: number } }).metrics.test_accuracy;
    const accurate = (name: string, value: number) =>
      new RegExp(`^model: runs.${name} \\(the most accurate under runs/, test accuracy ${(value * 100).toFixed(2).replace('.', '\\.')}%; --model DIR chooses another\\)$`, 'm');
    for (const [args, says] of [[['predict', picture], accurate('tiny', accuracy)], [['eval', '--json'], newest], [['read', picture], accurate('tiny', accuracy)]] as const) {
      const result = digitlab([...args], { cwd: work });
      assert.equal(result.status, 0, `${args[0]}: ${result.stderr}`);
      assert.match(result.stderr, says, args[0]);
    }
    // the older folder, recorded as more accurate, is what predict and read take; eval still the newest
    const config = JSON.parse(readFileSync(join(older, 'config.json'), 'utf8'));
    config.metrics.test_accuracy = 0.999;
    writeFileSync(join(older, 'config.json'), JSON.stringify(config));
    utimesSync(join(older, 'model.safetensors'), past, past);
    for (const [args, says] of [[['predict', picture], accurate('older', 0.999)], [['eval', '--json'], newest], [['read', picture], accurate('older', 0.999)]] as const) {
      const result = digitlab([...args], { cwd: work });
      assert.equal(result.status, 0, `${args[0]}: ${result.stderr}`);
      assert.match(result.stderr, says, args[0]);
    }
    // a Fashion-MNIST model (named classes) is not a digit reader, however accurate
    config.labels = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
    writeFileSync(join(older, 'config.json'), JSON.stringify(config));
    utimesSync(join(older, 'model.safetensors'), past, past);
    assert.match(digitlab(['read', picture], { cwd: work }).stderr, accurate('tiny', accuracy));
    rmSync(older, { recursive: true });
    const none = digitlab(['predict', picture], { cwd: dir });
    assert.equal(none.status, 2);
    assert.match(none.stderr, /no model folder under runs\/: train one .* or pass --model DIR/);
  });
});
