import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dataWarnings } from '../../src/data/checks.js';
import { writeIdxFile } from '../../src/data/idx.js';
import { loadData } from '../../src/data/source.js';

/** An IDX folder of 2×2 images whose labels are `train` and `test`. */
function withLabels(train: number[], test: number[], body: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'digitlab-checks-'));
  try {
    writeIdxFile(join(dir, 'train-images-idx3-ubyte'), new Uint8Array(train.length * 4), [train.length, 2, 2]);
    writeIdxFile(join(dir, 'train-labels-idx1-ubyte'), train, [train.length]);
    writeIdxFile(join(dir, 't10k-images-idx3-ubyte'), new Uint8Array(test.length * 4), [test.length, 2, 2]);
    writeIdxFile(join(dir, 't10k-labels-idx1-ubyte'), test, [test.length]);
    body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const tenClasses = (n: number) => Array.from({ length: n }, (_, i) => i % 10);

test('a corrupt label (12 in a 10-class set) is named with its count and first index', () => {
  const train = tenClasses(40);
  train[17] = 12;
  withLabels(train, tenClasses(10), (dir) => {
    const splits = loadData(`idx:${dir}`, { validation: 10 });
    assert.equal(splits.train.classes, 13);
    const warnings = dataWarnings(splits);
    assert.equal(warnings.length, 1);
    const [warning] = warnings;
    assert.deepEqual(warning.emptyClasses, [10, 11]);
    assert.deepEqual(warning.labels, [{ label: 12, count: 1, first: { split: 'train', index: 17 } }]);
    assert.match(warning.message, /classes 10 and 11 have no training images/);
    assert.match(warning.message, /label 12 is on 1 image, the first train\[17\]/);
    assert.match(warning.message, /13 outputs/);
    assert.match(warning.message, /data show --split train --index 17/);
  });
});

test('a class found only in the test split, and several labels past the gap, are all told', () => {
  withLabels([0, 1, 0, 1, 4, 0, 1, 4], [0, 3, 1, 3], (dir) => {
    const [warning] = dataWarnings(loadData(`idx:${dir}`, { validation: 0 }));
    assert.deepEqual(warning.emptyClasses, [2, 3]);
    assert.deepEqual(warning.labels, [
      { label: 3, count: 2, first: { split: 'test', index: 1 } },
      { label: 4, count: 2, first: { split: 'train', index: 4 } },
    ]);
    assert.match(warning.message, /classes 2 and 3 have no training images/);
  });
});

test('no warning when every class from 0 to the largest label has training images', () => {
  withLabels(tenClasses(30), tenClasses(10), (dir) => {
    assert.deepEqual(dataWarnings(loadData(`idx:${dir}`, { validation: 10 })), []);
  });
  assert.deepEqual(dataWarnings(loadData('mnist')), []);
});
