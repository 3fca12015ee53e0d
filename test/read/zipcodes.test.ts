import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createKernels } from '../../src/core/index.js';
import { encodeGrayscalePng } from '../../src/data/images.js';
import { preprocessDigit } from '../../src/data/preprocess.js';
import { loadData } from '../../src/data/source.js';
import { modelConfigFromV1, type ModelConfig } from '../../src/io/model-config.js';
import { Classifier } from '../../src/nn/classifier.js';
import { readDigits } from '../../src/read/read.js';
import { segmentDigits } from '../../src/read/segment.js';
import { DEFAULT_SETTINGS, TrainingRun } from '../../src/train/trainer.js';
import { digitlabAsync } from '../cli/helpers.js';
import { makePhotoZipCodes, type PhotoEffect } from '../fixtures/make_photos.js';
import { makeZipCodes } from '../fixtures/make_zipcodes.js';

const dir = mkdtempSync(join(tmpdir(), 'digitlab-read-'));
const modelDir = join(dir, 'm128');
let testAccuracy = 0;
const test = loadData('mnist').test;

before(async () => {
  const data = loadData('mnist');
  const settings = { ...DEFAULT_SETTINGS, hidden: [128], epochs: 2, seed: 1 };
  const run = new TrainingRun({ kernels: await createKernels(), data, settings });
  const result = await run.run();
  testAccuracy = result.test.accuracy;
  const config: ModelConfig = modelConfigFromV1({
    format: 'digitlab-mlp', version: 1, inputShape: [28, 28], classes: 10, hidden: [128], activation: 'relu',
    normalization: { pixelMax: data.train.pixelMax }, metrics: { test_accuracy: testAccuracy },
  });
  await new Classifier(config, run.model).save(modelDir);
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Test digit `index` as dark ink on white, pasted into a wider page at x. */
function paste(page: Uint8Array, width: number, index: number, x: number): void {
  for (let y = 0; y < 28; y++) {
    for (let u = 0; u < 28; u++) page[y * width + x + u] = Math.min(page[y * width + x + u], 255 - test.images[index * 784 + y * 28 + u]);
  }
}

describe('segmentation', () => {
  it('finds each separate digit left to right, and nothing on a blank page', () => {
    const page = new Uint8Array(28 * 100).fill(255);
    paste(page, 100, 0, 2);
    paste(page, 100, 1, 36);
    paste(page, 100, 2, 70);
    const segments = segmentDigits(page, 100, 28);
    assert.equal(segments.length, 3);
    assert.ok(segments[0].box.left < segments[1].box.left && segments[1].box.left < segments[2].box.left);
    assert.deepEqual(segmentDigits(new Uint8Array(28 * 100).fill(255), 100, 28), []);
  });

  it('joins the pieces of a digit whose stroke is broken', () => {
    // test[0] is a 7: erase two rows through the middle of it, cutting the stem from the bar
    const page = new Uint8Array(28 * 40).fill(255);
    paste(page, 40, 0, 6);
    let cut = false;
    for (let y = 11; y <= 12; y++) for (let x = 0; x < 40; x++) page[y * 40 + x] = 255;
    for (let x = 0; x < 40; x++) cut ||= page[10 * 40 + x] < 128 && page[13 * 40 + x] < 128;
    assert.ok(cut, 'the test image should have ink on both sides of the gap');
    const segments = segmentDigits(page, 40, 28);
    assert.equal(segments.length, 1);
    assert.ok(segments[0].components >= 2, 'the digit should be made of joined pieces');
  });

  it('cuts touching digits apart', () => {
    const codes = makeZipCodes({ count: 10, seed: 3, touchingEvery: 1 });
    let found = 0;
    for (const code of codes) {
      const segments = segmentDigits(code.gray, code.width, code.height, { digits: 5 });
      assert.equal(segments.length, 5);
      if (segments.some((s) => s.split)) found++;
    }
    assert.ok(found >= 8, `${found} of 10 codes with touching digits had a cut`);
  });

  it('segments a large picture of a row as its small copy, with the boxes in the large picture\'s pixels', async () => {
    const classifier = await Classifier.load(await createKernels(), modelDir);
    const factor = 9; // digits about 180 pixels tall: cut at a shrunk copy, not pixel by pixel
    let same = 0;
    const codes = makeZipCodes({ count: 12, seed: 5, touchingEvery: 2 });
    for (const code of codes) {
      const [w, h] = [code.width * factor, code.height * factor];
      const large = new Uint8Array(w * h);
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) large[y * w + x] = code.gray[Math.floor(y / factor) * code.width + Math.floor(x / factor)];
      const small = readDigits(classifier, code.gray, code.width, code.height, { digits: 5 });
      const big = readDigits(classifier, large, w, h, { digits: 5 });
      assert.equal(big.digits.length, 5);
      for (const digit of big.digits) {
        const { left, top, width, height } = digit.box;
        assert.ok(left >= 0 && top >= 0 && left + width <= w && top + height <= h, `box ${JSON.stringify(digit.box)} inside ${w}x${h}`);
      }
      // each digit's box covers the same stretch of the row as in the small picture, to a pixel of it
      big.digits.forEach((digit, k) => {
        const box = small.digits[k].box;
        assert.ok(Math.abs(digit.box.left - box.left * factor) <= 2 * factor, `digit ${k} at ${digit.box.left}, small ${box.left} × ${factor}`);
        assert.ok(Math.abs(digit.box.width - box.width * factor) <= 3 * factor, `digit ${k} ${digit.box.width} wide, small ${box.width} × ${factor}`);
      });
      if (big.text === small.text) same++;
    }
    assert.ok(same >= codes.length - 1, `${same} of ${codes.length} codes read alike at both sizes`);
  });

  it('prepares the digits of a large picture from its own pixels, so a fine pen\'s strokes keep their ink', () => {
    // three test digits far apart, magnified 9× and drawn with a thin pen (the magnified ink cut at a
    // high level, as make_photos.ts draws one): in the copy shrunk to MNIST's scale such strokes are
    // faint lines, and an input made from it would be a faint digit
    const small = new Uint8Array(28 * 120).fill(255);
    [0, 1, 2].forEach((index, k) => paste(small, 120, index, 4 + 40 * k));
    const factor = 9;
    const [w, h] = [120 * factor, 28 * factor];
    const large = new Uint8Array(w * h);
    const ink = (x: number, y: number) => (x >= 0 && y >= 0 && x < 120 && y < 28 ? (255 - small[y * 120 + x]) / 255 : 0);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const [u, v] = [(x + 0.5) / factor - 0.5, (y + 0.5) / factor - 0.5];
        const [x0, y0] = [Math.floor(u), Math.floor(v)];
        const [fx, fy] = [u - x0, v - y0];
        const value = (1 - fy) * ((1 - fx) * ink(x0, y0) + fx * ink(x0 + 1, y0)) + fy * ((1 - fx) * ink(x0, y0 + 1) + fx * ink(x0 + 1, y0 + 1));
        const t = Math.min(1, Math.max(0, (value - 0.64) / 0.16));
        large[y * w + x] = Math.round(255 * (1 - t * t * (3 - 2 * t)));
      }
    }
    const segments = segmentDigits(large, w, h);
    assert.equal(segments.length, 3);
    for (const segment of segments) {
      // what `predict` makes of the digit's own picture: its box cut out of the large one
      const { left, top, width, height } = segment.box;
      const crop = new Uint8Array(width * height);
      for (let y = 0; y < height; y++) crop.set(large.subarray((top + y) * w + left, (top + y) * w + left + width), y * width);
      const alone = preprocessDigit(crop, width, height);
      let worst = 0;
      for (let i = 0; i < alone.length; i++) worst = Math.max(worst, Math.abs(alone[i] - segment.pixels[i]));
      assert.ok(worst < 0.05, `the input differs from the digit's own by up to ${worst.toFixed(3)} at box ${JSON.stringify(segment.box)}`);
    }
  });
});

describe('cutting touching digits', () => {
  it('reads touching pairs nearly as well as the model reads the same two digits on their own', async () => {
    const classifier = await Classifier.load(await createKernels(), modelDir);
    const codes = makeZipCodes({ count: 150, seed: 7, digits: 2, touchingEvery: 1 });
    const pixels = Float32Array.from(codes.flatMap((code) => code.indices.flatMap((i) => Array.from(test.images.subarray(i * 784, (i + 1) * 784), (v) => v / test.pixelMax))));
    const direct = classifier.predictBatch(pixels, 2 * codes.length);
    let bothKnown = 0;
    let read = 0;
    codes.forEach((code, c) => {
      if (code.indices.every((index, k) => direct[2 * c + k].digit === test.labels[index])) bothKnown++;
      if (readDigits(classifier, code.gray, code.width, code.height, { digits: 2 }).text === code.text) read++;
    });
    // a cut through the wrong place loses one digit or both; the model's own mistakes are not the cut's
    assert.ok(read >= bothKnown - 8, `${read} of ${codes.length} touching pairs read, the model knows both digits of ${bothKnown}`);
  });

  it('gives each digit its own strokes and none of its neighbour\'s', () => {
    // two bars, 6 pixels apart, joined only by a faint bridge: the cut must leave the bridge's faint
    // pixels out of the strokes and each bar whole
    const w = 40;
    const h = 30;
    const page = new Uint8Array(w * h).fill(255);
    for (let y = 3; y < 27; y++) {
      for (let x = 10; x < 13; x++) page[y * w + x] = 0;
      for (let x = 19; x < 22; x++) page[y * w + x] = 0;
    }
    for (let x = 13; x < 19; x++) page[15 * w + x] = 150;
    const segments = segmentDigits(page, w, h, { digits: 2, scorer: (inputs) => inputs.map(() => 0.9) });
    assert.equal(segments.length, 2);
    assert.ok(segments.every((s) => s.split));
    assert.ok(segments[0].box.left === 10 && segments[0].box.left + segments[0].box.width <= 16, `left box ${JSON.stringify(segments[0].box)}`);
    assert.ok(segments[1].box.left >= 16 && segments[1].box.left + segments[1].box.width === 22, `right box ${JSON.stringify(segments[1].box)}`);
    assert.ok(segments.every((s) => s.box.height === 24));
  });
});

describe('digitlab read on synthetic zip codes from MNIST test digits', () => {
  it('reads 100 five-digit codes (a fifth with touching digits) about as well as the model reads single digits', async () => {
    const codes = makeZipCodes({ count: 100, seed: 11 });
    const files = codes.map((code, i) => {
      const file = join(dir, `code-${i}.png`);
      writeFileSync(file, encodeGrayscalePng(code.gray, code.width, code.height));
      return file;
    });
    const result = await digitlabAsync(['read', '--model', modelDir, '--digits', '5', '--json', ...files]);
    assert.equal(result.status, 0, result.stderr);
    const { results } = JSON.parse(result.stdout) as { results: Array<{ text: string }> };
    let digits = 0;
    let whole = 0;
    results.forEach((r, i) => {
      for (let k = 0; k < 5; k++) if (r.text[k] === codes[i].text[k]) digits++;
      if (r.text === codes[i].text) whole++;
    });
    const perDigit = digits / 500;
    const perCode = whole / 100;
    // a proportionate bar for 100 codes: per digit within 2.5 points of the test accuracy, and whole
    // codes no more than 12 points under what five independent digits would give
    assert.ok(perDigit >= testAccuracy - 0.025, `per-digit accuracy ${perDigit} vs test accuracy ${testAccuracy}`);
    assert.ok(perCode >= testAccuracy ** 5 - 0.12, `whole codes ${perCode} vs ${testAccuracy ** 5} expected`);
  });

  it('reads photo-like pictures of codes (light, colour, rotation, grain, EXIF) nearly as well as clean rows', async () => {
    const effects: PhotoEffect[] = ['clean', 'lighting', 'colour', 'rotation', 'noise', 'exif'];
    // a seed per effect: each effect writes the same rows for a seed
    const codes = effects.flatMap((effect, i) => makePhotoZipCodes({ count: 2, seed: 13 + i, effect }));
    const files = codes.map((code, i) => {
      const file = join(dir, `photo-${i}.${code.format === 'png' ? 'png' : 'jpg'}`);
      writeFileSync(file, code.bytes);
      return file;
    });
    const result = await digitlabAsync(['read', '--model', modelDir, '--digits', '5', '--json', ...files]);
    assert.equal(result.status, 0, result.stderr);
    const { results } = JSON.parse(result.stdout) as { results: Array<{ text: string }> };
    let digits = 0;
    results.forEach((r, i) => {
      for (let k = 0; k < 5; k++) if (r.text[k] === codes[i].text[k]) digits++;
    });
    // 60 digits from an MLP that never saw a photo: within 6 points of its test accuracy (about two
    // standard errors for 60 digits)
    const perDigit = digits / (5 * codes.length);
    assert.ok(perDigit >= testAccuracy - 0.06, `per-digit accuracy ${perDigit} on photo-like codes vs test accuracy ${testAccuracy}: ${results.map((r) => r.text).join(' ')} for ${codes.map((c) => c.text).join(' ')}`);
  });

  it('prints the digit string, and fails clearly on a file that is not a picture', async () => {
    const code = makeZipCodes({ count: 1, seed: 2 })[0];
    const file = join(dir, 'one.png');
    writeFileSync(file, encodeGrayscalePng(code.gray, code.width, code.height));
    const ok = await digitlabAsync(['read', '--model', modelDir, file]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, new RegExp(`^${file}: \\d{5}\\n`));
    const bad = join(dir, 'bad.png');
    writeFileSync(bad, 'not a picture');
    const failed = await digitlabAsync(['read', '--model', modelDir, bad]);
    assert.equal(failed.status, 1);
    assert.match(failed.stderr, /not a PNG or JPEG/);
  });
});
