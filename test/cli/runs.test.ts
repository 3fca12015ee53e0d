import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeImage, encodeGrayscalePng } from '../../src/data/images.js';
import { loadData } from '../../src/data/source.js';
import { digitlab, writeSmallIdx } from './helpers.js';

/**
 * Model folders and the commands around them: which model and which data a command uses when none is
 * named. One tiny model (784-16-10, one epoch on 500 images)
 * serves every check.
 */
const dir = mkdtempSync(join(tmpdir(), 'digitlab-cli-runs-'));
const small = join(dir, 'small');
const work = join(dir, 'work');
const model = join(work, 'runs', 'tiny');
const picture = join(dir, 'seven.png');

before(() => {
  writeSmallIdx(small, 600, 100);
  mkdirSync(work);
  // relative paths, from the folder that holds runs/: the model must find its data from anywhere
  const trained = digitlab(['train', '--data', 'idx:../small', '--validation', '100', '--hidden', '16', '--epochs', '1', '--batch-size', '100000', '--seed', '1', '--out', join('runs', 'tiny')], { cwd: work });
  assert.equal(trained.status, 0, trained.stderr);
  const test = loadData('mnist').test;
  writeFileSync(picture, encodeGrayscalePng(Uint8Array.from(test.images.subarray(0, 784), (v) => 255 - v), 28, 28));
});
after(() => rmSync(dir, { recursive: true, force: true }));

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

describe('commands that use a model default to the newest under runs/', () => {
  it('predict, eval and read use the newest model folder under runs/ and say which', () => {
    const older = join(work, 'runs', 'older');
    cpSync(model, older, { recursive: true });
    const past = new Date(Date.now() - 3600_000);
    utimesSync(join(older, 'model.safetensors'), past, past);
    const says = /^model: runs.tiny \(the newest under runs\/; --model DIR chooses another\)$/m;
    for (const args of [['predict', picture], ['eval', '--json'], ['read', picture]]) {
      const result = digitlab(args, { cwd: work });
      assert.equal(result.status, 0, `${args[0]}: ${result.stderr}`);
      assert.match(result.stderr, says, args[0]);
    }
    const none = digitlab(['predict', picture], { cwd: dir });
    assert.equal(none.status, 2);
    assert.match(none.stderr, /no model folder under runs\/: train one .* or pass --model DIR/);
  });
});
