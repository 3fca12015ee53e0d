import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IdxFormatError } from '../../src/data/errors.js';
import { loadIdxDirectory, writeIdxFile } from '../../src/data/idx.js';
import { loadData } from '../../src/data/source.js';

function withTempDir(body: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'digitlab-emnist-'));
  try {
    body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Pictures of `height` rows and `width` columns, an asymmetric mark in each: image n has ink at
 * its top row, column n, and a full left column (an upside-down L whose foot walks right).
 */
function pictures(count: number, height: number, width: number): Uint8Array {
  const data = new Uint8Array(count * height * width);
  for (let n = 0; n < count; n++) {
    for (let y = 0; y < height; y++) data[n * height * width + y * width] = 200;
    data[n * height * width + (n % width)] = 255;
  }
  return data;
}

/** The same pictures as EMNIST stores them: each transposed, [count, width, height]. */
function transposed(data: Uint8Array, count: number, height: number, width: number): Uint8Array {
  const out = new Uint8Array(data.length);
  for (let n = 0; n < count; n++) {
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) out[n * height * width + x * height + y] = data[n * height * width + y * width + x];
  }
  return out;
}

/** Writes one EMNIST-named set (gzipped, as EMNIST distributes it) of pictures height × width. */
function writeEmnistSet(dir: string, name: string, trainLabels: number[], testLabels: number[], height = 4, width = 4): Uint8Array {
  const trainPictures = pictures(trainLabels.length, height, width);
  for (const [split, labels, images] of [
    ['train', trainLabels, trainPictures],
    ['test', testLabels, pictures(testLabels.length, height, width)],
  ] as const) {
    writeIdxFile(join(dir, `emnist-${name}-${split}-images-idx3-ubyte.gz`), transposed(images, labels.length, height, width), [labels.length, width, height], { gzip: true });
    writeIdxFile(join(dir, `emnist-${name}-${split}-labels-idx1-ubyte.gz`), labels, [labels.length], { gzip: true });
  }
  return trainPictures;
}

test('idx:DIR reads EMNIST digits by their names, each image turned back the right way', () => {
  withTempDir((dir) => {
    const expected = writeEmnistSet(dir, 'digits', [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [3, 1]);
    const splits = loadData(`idx:${dir}`, { validation: 2 });
    assert.equal(splits.train.count, 8);
    assert.equal(splits.test.count, 2);
    assert.equal(splits.train.classes, 10);
    assert.equal(splits.train.classNames, undefined, 'digits are their own names');
    // image 1: ink along the left column and at the top row's second pixel, not along the top row
    const image1 = [...splits.train.images.subarray(16, 32)];
    assert.deepEqual(image1, [200, 255, 0, 0, 200, 0, 0, 0, 200, 0, 0, 0, 200, 0, 0, 0]);
    assert.deepEqual([...splits.train.images], [...expected.subarray(0, 8 * 16)]);
  });
});

test('transposition is undone for pictures that are not square too', () => {
  withTempDir((dir) => {
    const expected = writeEmnistSet(dir, 'digits', [0, 1, 2], [0], 3, 5);
    const { train } = loadIdxDirectory(dir);
    assert.deepEqual([train.height, train.width], [3, 5]);
    assert.deepEqual([...train.images], [...expected]);
  });
});

test('EMNIST letters (labelled 1..26) become 26 classes named A..Z', () => {
  withTempDir((dir) => {
    const letters = Array.from({ length: 52 }, (_, i) => (i % 26) + 1);
    writeEmnistSet(dir, 'letters', letters, [1, 26, 3]);
    const splits = loadData(`idx:${dir}`, { validation: 0 });
    assert.equal(splits.train.classes, 26);
    assert.equal(splits.test.classes, 26);
    assert.deepEqual(splits.train.classNames, [...'ABCDEFGHIJKLMNOPQRSTUVWXYZ']);
    assert.deepEqual(splits.test.classNames, splits.train.classNames);
    assert.deepEqual([...splits.test.labels], [0, 25, 2], 'label 1 (A) is class 0');
    assert.equal(splits.train.labels[0], 0);
    // A letters file with a label 0 is not EMNIST letters as published.
    writeIdxFile(join(dir, 'emnist-letters-test-labels-idx1-ubyte.gz'), [1, 0, 3], [3], { gzip: true });
    assert.throws(() => loadData(`idx:${dir}`, { validation: 0 }), (e: Error) => e instanceof IdxFormatError && /labelled 1\.\.26/.test(e.message) && /label 0/.test(e.message));
  });
});

test('a folder of several EMNIST sets asks for one; idx:DIR/NAME chooses it', () => {
  withTempDir((dir) => {
    writeEmnistSet(dir, 'digits', [0, 1, 2, 3], [1]);
    writeEmnistSet(dir, 'letters', [1, 2, 3, 4], [2]);
    writeFileSync(join(dir, 'emnist-letters-mapping.txt'), '1 65 97\n');
    assert.throws(
      () => loadData(`idx:${dir}`),
      (e: Error) => e instanceof IdxFormatError && /emnist-digits, emnist-letters/.test(e.message) && e.message.includes(`idx:${join(dir, 'emnist-digits')}`),
    );
    const letters = loadData(`idx:${join(dir, 'emnist-letters')}`, { validation: 0 });
    assert.equal(letters.source, `idx:${join(dir, 'emnist-letters')}`);
    assert.equal(letters.train.classes, 26);
    assert.equal(loadData(`idx:${join(dir, 'emnist-digits')}`, { validation: 0 }).train.classNames, undefined);
    assert.throws(() => loadData(`idx:${join(dir, 'emnist-byclass')}`), (e: Error) => /no IDX set emnist-byclass/.test(e.message) && /emnist-digits, emnist-letters/.test(e.message));
  });
});

test('a set missing one of its four files names the missing one', () => {
  withTempDir((dir) => {
    writeEmnistSet(dir, 'letters', [1, 2], [1]);
    rmSync(join(dir, 'emnist-letters-test-labels-idx1-ubyte.gz'));
    assert.throws(() => loadData(`idx:${dir}`), (e: Error) => /emnist-letters/.test(e.message) && /test labels/.test(e.message) && /emnist-letters-test-labels-idx1-ubyte/.test(e.message));
  });
});
