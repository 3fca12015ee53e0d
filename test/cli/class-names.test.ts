import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeGrayscalePng } from '../../src/data/images.js';
import { writeIdxFile } from '../../src/data/idx.js';
import { findFashionMnist } from '../../src/data/source.js';
import { digitlab } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'digitlab-cli-names-'));
const letters = join(dir, 'emnist');
const model = join(dir, 'model');
const LETTERS = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZ'];
after(() => rmSync(dir, { recursive: true, force: true }));

/** Letter k (0 = A) as a 28×28 picture: a horizontal bar at row k + 1, three pixels thick at its ends. */
function picture(k: number): Uint8Array {
  const image = new Uint8Array(784);
  for (let x = 4; x < 24; x++) image[(k + 1) * 28 + x] = 255;
  image[k * 28 + 4] = image[(k + 2) * 28 + 23] = 128;
  return image;
}

/** A tiny EMNIST letters set as EMNIST stores it: labels 1..26, each picture transposed. */
function writeLetters(folder: string, perClass: number): void {
  mkdirSync(folder, { recursive: true });
  for (const [split, count] of [['train', perClass], ['test', 2]] as const) {
    const images = new Uint8Array(26 * count * 784);
    const labels: number[] = [];
    for (let n = 0; n < 26 * count; n++) {
      const k = n % 26;
      const image = picture(k);
      for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) images[n * 784 + x * 28 + y] = image[y * 28 + x];
      labels.push(k + 1);
    }
    writeIdxFile(join(folder, `emnist-letters-${split}-images-idx3-ubyte.gz`), images, [26 * count, 28, 28], { gzip: true });
    writeIdxFile(join(folder, `emnist-letters-${split}-labels-idx1-ubyte.gz`), labels, [26 * count], { gzip: true });
  }
}

before(() => {
  // more than 10,000 training images: `data show` holds out 10,000 for validation
  writeLetters(letters, 390);
  const r = digitlab(['train', '--data', `idx:${letters}`, '--validation', '52', '--hidden', '32', '--epochs', '2', '--batch-size', '32', '--seed', '2', '--out', model]);
  assert.equal(r.status, 0, r.stderr);
  writeFileSync(join(dir, 'train.txt'), r.stdout);
});

describe('class names (EMNIST letters)', () => {
  it('data show and data info name the classes', () => {
    const show = digitlab(['data', 'show', '--data', `idx:${letters}`, '--index', '2', '--out', join(dir, 'one.png')]);
    assert.equal(show.status, 0, show.stderr);
    assert.match(show.stdout, /train\[2\]: label C \(class 2\), 28×28/);
    const grid = digitlab(['data', 'show', '--data', `idx:${letters}`, '--grid', '4x1', '--out', join(dir, 'grid.png'), '--json']);
    assert.equal(grid.status, 0, grid.stderr);
    const shown = JSON.parse(grid.stdout);
    assert.deepEqual(shown.labels, [0, 1, 2, 3]);
    assert.deepEqual(shown.names, ['A', 'B', 'C', 'D']);
    const info = digitlab(['data', 'info', '--data', `idx:${letters}`, '--validation', '52']);
    assert.equal(info.status, 0, info.stderr);
    assert.match(info.stdout, /class counts A 388, B 388, C 388/);
    assert.doesNotMatch(info.stderr, /warning/, 'the unused label 0 is no empty class');
  });

  it('train records the names in config.json and prints the confusion matrix with them', () => {
    const config = JSON.parse(readFileSync(join(model, 'config.json'), 'utf8'));
    assert.equal(config.classes, 26);
    assert.deepEqual(config.labels, LETTERS);
    const stdout = readFileSync(join(dir, 'train.txt'), 'utf8');
    assert.match(stdout, /confusion matrix \(rows: true class, columns: predicted\)/);
    assert.match(stdout, /^ +A +B +C +D .* Z$/m);
    assert.match(stdout, /^ +Q +\d/m);
  });

  it('eval and predict show the names', () => {
    const evaluated = digitlab(['eval', '--model', model, '--data', `idx:${letters}`, '--validation', '52']);
    assert.equal(evaluated.status, 0, evaluated.stderr);
    assert.match(evaluated.stdout, /^ +A +B +C .* Z$/m);
    const file = join(dir, 'bar.png');
    writeFileSync(file, encodeGrayscalePng(picture(12), 28, 28));
    const predicted = digitlab(['predict', '--model', model, file, '--json']);
    assert.equal(predicted.status, 0, predicted.stderr);
    const result = JSON.parse(predicted.stdout);
    assert.ok(LETTERS.includes(result.digit), `predicted ${result.digit}`);
    const text = digitlab(['predict', '--model', model, file]);
    assert.match(text.stdout, /: [A-Z] \(\d+\.\d%\)\n {2}A:\d+\.\d% B:/);
  });
});

let fashion = true;
try {
  findFashionMnist();
} catch {
  fashion = false;
}

// Skipped only outside continuous integration, where .ci/run installs dataset-fashion-mnist.
describe('class names (Fashion-MNIST)', { skip: !fashion && !process.env.CI && 'dataset-fashion-mnist is not installed' }, () => {
  it('data show names the first training image an ankle boot', () => {
    const show = digitlab(['data', 'show', '--data', 'fashion-mnist', '--grid', '3x1', '--out', join(dir, 'fashion.png'), '--json']);
    assert.equal(show.status, 0, show.stderr);
    assert.deepEqual(JSON.parse(show.stdout).names, ['Ankle boot', 'T-shirt/top', 'T-shirt/top']);
    const text = digitlab(['data', 'show', '--data', 'fashion-mnist', '--out', join(dir, 'fashion.png')]);
    assert.match(text.stdout, /train\[0\]: label Ankle boot \(class 9\)/);
  });
});
