import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { bundledMnistFiles, checkMnistMd5, loadBundledMnist, md5Hex, MNIST_MD5 } from '../../src/data/mnist.js';
import { ChecksumError } from '../../src/data/errors.js';

test('bundled MNIST loads quickly as uint8 [n, 28, 28]', () => {
  const start = performance.now();
  const { train, test: testSet } = loadBundledMnist();
  const elapsed = performance.now() - start;
  assert.ok(elapsed < 1500, `took ${elapsed.toFixed(0)} ms`);
  assert.equal(train.count, 60000);
  assert.equal(testSet.count, 10000);
  assert.equal(train.height, 28);
  assert.equal(train.width, 28);
  assert.ok(train.images instanceof Uint8Array);
  assert.equal(train.images.length, 60000 * 784);
  assert.equal(train.classes, 10);
  assert.equal(train.pixelMax, 255);
  // the well-known first labels of MNIST
  assert.deepEqual([...train.labels.subarray(0, 5)], [5, 0, 4, 1, 9]);
  assert.deepEqual([...testSet.labels.subarray(0, 5)], [7, 2, 1, 0, 4]);
  assert.equal(loadBundledMnist(), loadBundledMnist(), 'cached');
});

test('bundled files match the standard MD5 digests', () => {
  const files = bundledMnistFiles();
  assert.equal(md5Hex(readFileSync(files.trainLabels)), MNIST_MD5['train-labels-idx1-ubyte']);
  assert.equal(checkMnistMd5(files.testLabels, readFileSync(files.testLabels), ''), true);
});

test('a corrupted copy is reported with both digests', () => {
  const bytes = Uint8Array.from(readFileSync(bundledMnistFiles().testLabels));
  bytes[100] ^= 1;
  assert.throws(
    () => checkMnistMd5('/x/t10k-labels-idx1-ubyte', bytes, 'reinstall'),
    (e: Error) => e instanceof ChecksumError && e.message.includes(MNIST_MD5['t10k-labels-idx1-ubyte']) && /reinstall/.test(e.message),
  );
  assert.equal(checkMnistMd5('/x/other-file', bytes, ''), false);
});
