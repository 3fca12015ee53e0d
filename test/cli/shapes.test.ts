/**
 * Every command on images that are not 28×28: an IDX set of 16×20 digits (16 rows, 20 columns).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeImage, encodeGrayscalePng } from '../../src/data/images.js';
import { loadData } from '../../src/data/source.js';
import { digitlab, writeSmallIdx } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'digitlab-cli-shapes-'));
const idx = join(dir, 'idx-16x20');
const data = `idx:${idx}`;
const model = join(dir, 'model');
after(() => rmSync(dir, { recursive: true, force: true }));

before(() => {
  writeSmallIdx(idx, 12000, 500, { height: 16, width: 20 });
});

/** An MNIST test digit enlarged `scale` times with a margin, dark ink on light paper. */
function pictureOf(index: number, scale: number): { gray: Uint8Array; width: number; height: number; label: number } {
  const test = loadData('mnist', { validation: 0 }).test;
  const image = test.images.subarray(index * 784, (index + 1) * 784);
  const width = 28 * scale + 30;
  const height = 28 * scale + 10;
  const gray = new Uint8Array(width * height).fill(230);
  for (let y = 0; y < 28 * scale; y++) {
    for (let x = 0; x < 28 * scale; x++) gray[(y + 5) * width + x + 20] = 230 - Math.round((image[Math.floor(y / scale) * 28 + Math.floor(x / scale)] * 220) / 255);
  }
  return { gray, width, height, label: test.labels[index] };
}

describe('16×20 images', () => {
  it('data info reports the shape', () => {
    const r = digitlab(['data', 'info', '--data', data, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const info = JSON.parse(r.stdout);
    assert.deepEqual(info.test.shape, [500, 16, 20]);
    assert.equal(info.train.shape[1] * info.train.shape[2], 320);
  });

  it('data show writes a 20 wide, 16 high picture, a grid of such cells and a 16-line preview', () => {
    const one = join(dir, 'one.png');
    const r = digitlab(['data', 'show', '--data', data, '--split', 'test', '--index', '3', '--scale', '3', '--out', one]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /test\[3\]: label \d, 16×20/);
    const image = decodeImage(readFileSync(one), one);
    assert.deepEqual([image.width, image.height], [60, 48]);
    const preview = r.stdout.split('\n').filter((line) => /[░▒▓█]/.test(line));
    assert.ok(preview.length > 4 && preview.length <= 16, `${preview.length} preview lines`);
    assert.ok(preview.every((line) => [...line].length <= 40));

    const grid = join(dir, 'grid.png');
    const g = digitlab(['data', 'show', '--data', data, '--grid', '4x2', '--scale', '2', '--out', grid, '--json']);
    assert.equal(g.status, 0, g.stderr);
    assert.equal(JSON.parse(g.stdout).count, 8);
    const png = decodeImage(readFileSync(grid), grid);
    // cells of 40 × 32 pixels, 2 px apart, a label strip of 14 px under each row
    assert.deepEqual([png.width, png.height], [4 * (40 + 2) + 2, 2 * (32 + 14 + 2) + 2]);
  });

  it('train saves the model, its mistakes and result.json; eval scores it', () => {
    const r = digitlab(['train', '--data', data, '--validation', '2000', '--hidden', '64', '--epochs', '2', '--seed', '1', '--out', model, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const result = JSON.parse(r.stdout);
    assert.ok(result.test_accuracy > 0.8, `test accuracy ${result.test_accuracy}`);
    assert.ok(existsSync(join(model, 'result.json')));
    const config = JSON.parse(readFileSync(join(model, 'config.json'), 'utf8'));
    assert.deepEqual(config.inputShape, [16, 20]);
    const wrong = decodeImage(readFileSync(join(model, 'most-confidently-wrong.png')));
    // six cells of 60 × 48 pixels (scale 3) to a row
    assert.equal(wrong.width, 6 * (60 + 2) + 2);

    const e = digitlab(['eval', '--model', model, '--data', data, '--validation', '2000', '--json']);
    assert.equal(e.status, 0, e.stderr);
    assert.equal(JSON.parse(e.stdout).accuracy, result.test_accuracy);
  });

  it('predict fits each picture into the model\'s 16×20 input', () => {
    const files: string[] = [];
    const labels: number[] = [];
    for (let i = 0; i < 20; i++) {
      const picture = pictureOf(i, 3 + (i % 3));
      const file = join(dir, `digit-${i}.png`);
      writeFileSync(file, encodeGrayscalePng(picture.gray, picture.width, picture.height));
      files.push(file);
      labels.push(picture.label);
    }
    const r = digitlab(['predict', '--model', model, ...files, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const results = JSON.parse(r.stdout) as Array<{ digit: string; probabilities: number[] }>;
    assert.equal(results.length, 20);
    const correct = results.filter((p, i) => p.digit === String(labels[i])).length;
    assert.ok(correct >= 14, `${correct} of 20 pictures read correctly`);
  });

  it('read segments a row of digits and reads each one through the 16×20 model', () => {
    const digits = [0, 1, 2].map((i) => pictureOf(i, 3));
    const width = digits.reduce((sum, d) => sum + d.width, 0);
    const height = digits[0].height;
    const row = new Uint8Array(width * height);
    let left = 0;
    for (const d of digits) {
      for (let y = 0; y < height; y++) row.set(d.gray.subarray(y * d.width, (y + 1) * d.width), y * width + left);
      left += d.width;
    }
    const file = join(dir, 'row.png');
    writeFileSync(file, encodeGrayscalePng(row, width, height));
    const r = digitlab(['read', '--model', model, file, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const result = JSON.parse(r.stdout);
    assert.equal(result.digits.length, 3);
    assert.equal(result.text, digits.map((d) => d.label).join(''));
  });
});
