import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import jpeg from 'jpeg-js';
import { encodeGrayscalePng } from '../../src/data/images.js';
import { loadData } from '../../src/data/source.js';
import { blankPng } from '../fixtures/blank-png.js';
import { assertCleanFailure, digitlab } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'digitlab-cli-predict-'));
const model = join(dir, 'model');
after(() => rmSync(dir, { recursive: true, force: true }));

before(() => {
  const r = digitlab(['train', '--hidden', '128', '--epochs', '2', '--batch-size', '64', '--seed', '1', '--out', model]);
  assert.equal(r.status, 0, r.stderr);
});

/**
 * A test digit as a person would photograph or draw it: enlarged to `size` pixels with a margin,
 * dark ink on light paper (or light on dark), not centred the MNIST way.
 */
function pictureOf(image: Uint8Array, size: number, darkOnLight: boolean, offsetX: number): Uint8Array {
  const out = new Uint8Array(size * size).fill(darkOnLight ? 235 : 10);
  const scale = Math.floor((size * 0.6) / 28);
  for (let y = 0; y < 28 * scale; y++) {
    for (let x = 0; x < 28 * scale; x++) {
      const v = image[Math.floor(y / scale) * 28 + Math.floor(x / scale)];
      const tx = x + offsetX;
      const ty = y + Math.floor(size * 0.1);
      if (tx >= size || ty >= size || v === 0) continue;
      out[ty * size + tx] = darkOnLight ? 235 - Math.round((v * 225) / 255) : 10 + Math.round((v * 240) / 255);
    }
  }
  return out;
}

describe('digitlab predict', () => {
  it('reads digits from PNG and JPEG pictures of any size and polarity', () => {
    const test = loadData('mnist').test;
    const files: string[] = [];
    const truth: number[] = [];
    for (let i = 0; i < 20; i++) {
      const image = test.images.subarray(i * 784, (i + 1) * 784) as Uint8Array;
      const size = 60 + 17 * i;
      const picture = pictureOf(image, size, i % 2 === 0, Math.floor((i % 5) * size * 0.07));
      let file: string;
      if (i % 3 === 0) {
        file = join(dir, `digit-${i}.jpg`);
        const rgba = Buffer.alloc(size * size * 4);
        for (let p = 0; p < size * size; p++) rgba.fill(picture[p], p * 4, p * 4 + 3).writeUInt8(255, p * 4 + 3);
        writeFileSync(file, jpeg.encode({ data: rgba, width: size, height: size }, 90).data);
      } else {
        file = join(dir, `digit-${i}.png`);
        writeFileSync(file, encodeGrayscalePng(picture, size, size));
      }
      files.push(file);
      truth.push(test.labels[i]);
    }
    const r = digitlab(['predict', '--model', model, ...files, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const results = JSON.parse(r.stdout) as { file: string; digit: string; probabilities: number[] }[];
    assert.equal(results.length, 20);
    let correct = 0;
    results.forEach((result, i) => {
      assert.equal(result.file, files[i]);
      assert.equal(result.probabilities.length, 10);
      assert.ok(Math.abs(result.probabilities.reduce((a, b) => a + b, 0) - 1) < 1e-4);
      if (Number(result.digit) === truth[i]) correct++;
    });
    assert.ok(correct >= 18, `read ${correct} of 20 digits correctly`);
  });

  it('prints the digit and its probabilities for a person', () => {
    const test = loadData('mnist').test;
    const file = join(dir, 'seven.png');
    writeFileSync(file, encodeGrayscalePng(pictureOf(test.images.subarray(0, 784) as Uint8Array, 200, true, 30), 200, 200));
    const r = digitlab(['predict', '--model', model, file]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /seven\.png: 7 \(\d+\.\d%\)/);
    assert.match(r.stdout, /0:\d+\.\d% 1:/);
  });

  it('refuses a picture that declares too many pixels with a clear error, in predict and read alike', () => {
    const bomb = join(dir, 'bomb.png');
    writeFileSync(bomb, blankPng(16000, 16000)); // 250 KB that would decode to a gigabyte
    const message = /bomb\.png: the picture declares 16000 × 16000 pixels \(256 megapixels\), more than the limit of 16 megapixels; scale it down.*--max-pixels/;
    assert.equal(assertCleanFailure(digitlab(['predict', '--model', model, bomb]), message), null);
    assert.equal(assertCleanFailure(digitlab(['read', '--model', model, bomb]), message), null);
    // the limit is an option
    const small = join(dir, 'small.png');
    writeFileSync(small, blankPng(40, 30));
    assert.equal(assertCleanFailure(digitlab(['predict', '--model', model, '--max-pixels', '1000', small]), /small\.png: .*40 × 30 pixels \(1,200 pixels\), more than the limit of 1,000 pixels/), null);
    assert.equal(digitlab(['read', '--model', model, '--max-pixels', '1200', small]).status, 0);
  });
});
