import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultValidationSize, describeData, findFashionMnist, loadData } from '../../src/data/source.js';
import { DataSourceError } from '../../src/data/errors.js';
import { writeIdxFile } from '../../src/data/idx.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'pickle');

test("'mnist' gives the tutorial's 50,000 / 10,000 / 10,000 split as views", () => {
  const splits = loadData('mnist');
  assert.equal(splits.source, 'mnist');
  assert.equal(splits.train.count, 50000);
  assert.equal(splits.validation.count, 10000);
  assert.equal(splits.test.count, 10000);
  assert.equal(splits.train.images.buffer, splits.validation.images.buffer, 'no copy');
  // the validation split is the LAST 10,000 training images
  assert.equal(splits.validation.images.byteOffset - splits.train.images.byteOffset, 50000 * 784);
  assert.equal(loadData().train.count, 50000, 'default spec');
  assert.equal(loadData('mnist', { validation: 5000 }).train.count, 55000);
  assert.equal(loadData('mnist', { validation: 0 }).validation.count, 0);
  assert.throws(() => loadData('mnist', { validation: 60000 }), /validation size 60000/);
});

test('describeData reports sizes, shapes, pixel and label ranges, class counts', () => {
  const info = describeData(loadData('mnist'));
  assert.deepEqual(info.train.shape, [50000, 28, 28]);
  assert.equal(info.train.dtype, 'uint8');
  assert.equal(info.train.pixelMin, 0);
  assert.equal(info.train.pixelMax, 255);
  assert.equal(info.test.labelMin, 0);
  assert.equal(info.test.labelMax, 9);
  assert.equal(info.test.classCounts.length, 10);
  assert.equal(info.test.classCounts.reduce((a, b) => a + b), 10000);
  // well-known MNIST test-set class counts
  assert.deepEqual(info.test.classCounts, [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
});

test('idx:DIR applies the same split rule', () => {
  const dir = mkdtempSync(join(tmpdir(), 'digitlab-src-'));
  try {
    const images = new Uint8Array(10 * 4 * 4).map((_, i) => i % 256);
    writeIdxFile(join(dir, 'train-images-idx3-ubyte'), images, [10, 4, 4]);
    writeIdxFile(join(dir, 'train-labels-idx1-ubyte'), [0, 1, 2, 0, 1, 2, 0, 1, 2, 0], [10]);
    writeIdxFile(join(dir, 't10k-images-idx3-ubyte.gz'), images.subarray(0, 32), [2, 4, 4], { gzip: true });
    writeIdxFile(join(dir, 't10k-labels-idx1-ubyte.gz'), [1, 2], [2], { gzip: true });
    const splits = loadData(`idx:${dir}`, { validation: 3 });
    assert.equal(splits.source, `idx:${dir}`);
    assert.equal(splits.train.count, 7);
    assert.equal(splits.validation.count, 3);
    assert.deepEqual([...splits.validation.labels], [1, 2, 0]);
    assert.equal(splits.validation.images[0], 7 * 16);
    assert.equal(splits.test.count, 2);
    assert.equal(splits.train.classes, 3);
    assert.equal(loadData(dir, { validation: 3 }).train.count, 7, 'a bare directory path means idx:');
    assert.equal(loadData(dir).validation.count, 1, 'by default a sixth of the 10 training images, rounded down');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the default validation split is a sixth of the training images, at least one of two or more', () => {
  assert.equal(defaultValidationSize(60000), 10000);
  assert.equal(defaultValidationSize(600), 100);
  assert.equal(defaultValidationSize(11), 1);
  assert.equal(defaultValidationSize(2), 1);
  assert.equal(defaultValidationSize(1), 0);
  assert.equal(defaultValidationSize(0), 0);
});

test('pkl:FILE keeps its own splits; a conflicting validation size is an error', () => {
  const path = join(FIXTURES, 'py2-cpickle.pkl.gz');
  const splits = loadData(`pkl:${path}`);
  assert.equal(splits.source, `pkl:${path}`);
  assert.deepEqual([splits.train.count, splits.validation.count, splits.test.count], [5, 3, 2]);
  assert.equal(loadData(path).train.count, 5, 'a bare .pkl.gz path means pkl:');
  assert.equal(loadData(`pkl:${path}`, { validation: 3 }).validation.count, 3);
  assert.throws(() => loadData(`pkl:${path}`, { validation: 10000 }), /own validation split of 3/);
});

test('unknown specs and missing paths give errors listing what is accepted', () => {
  assert.throws(
    () => loadData('cifar10'),
    (e: Error) => e instanceof DataSourceError && /unknown data source 'cifar10'/.test(e.message) && /idx:DIR/.test(e.message) && /pkl:FILE/.test(e.message),
  );
  assert.throws(() => loadData('pkl:/nonexistent/mnist.pkl.gz'), /does not exist.*data fetch/);
  assert.throws(() => loadData('idx:'), /names no path/);
});

let fashionDir: string | undefined;
try {
  fashionDir = findFashionMnist();
} catch {
  fashionDir = undefined;
}

// Skipped only outside continuous integration: .ci/run installs the package, so there a missing
// package fails the tests instead of hiding them.
const fashionSkip = fashionDir === undefined && !process.env.CI && 'dataset-fashion-mnist is not installed';

test('fashion-mnist loads from the Debian package', { skip: fashionSkip }, () => {
  const splits = loadData('fashion-mnist');
  assert.equal(splits.source, 'fashion-mnist');
  assert.equal(splits.train.count, 50000);
  assert.equal(splits.validation.count, 10000);
  assert.equal(splits.test.count, 10000);
  assert.equal(splits.train.classes, 10);
  assert.equal(splits.train.height, 28);
});

test("Fashion-MNIST's classes are named, as fashion-mnist and as an IDX folder of its files", { skip: fashionSkip }, () => {
  const names = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
  const splits = loadData('fashion-mnist');
  assert.deepEqual(splits.train.classNames, names);
  assert.deepEqual(splits.test.classNames, names);
  assert.deepEqual(loadData(`idx:${findFashionMnist()}`).validation.classNames, names, 'recognized by its labels, not by the spec');
  assert.equal(loadData('mnist').train.classNames, undefined, 'digits are their own names');
});
