/**
 * `--data` specs: where a training run's three splits come from.
 *   mnist            the bundled MNIST (default)
 *   idx:DIR          a directory of IDX files (raw or .gz) with MNIST's names or one set's prefixed
 *                    names such as EMNIST's; idx:DIR/SET picks one set of several (EMNIST's folder)
 *   pkl:FILE         the PyTorch tutorial's mnist.pkl.gz (or any file in its layout)
 *   fashion-mnist    Debian's dataset-fashion-mnist package, when installed
 * A bare path is accepted too: a directory means idx:, a .pkl or .pkl.gz file means pkl:.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { splitValidation, type Dataset, type DatasetSplits } from './dataset.js';
import { DataSourceError } from './errors.js';
import { findIdxDirectoryFiles, holdsIdxFiles, loadIdxDirectory } from './idx.js';
import { FASHION_MNIST_CLASSES } from './known-sets.js';
import { loadBundledMnist } from './mnist.js';
import { loadMnistPickle } from './pickle.js';

export { defaultValidationSize, splitValidation } from './dataset.js';

/**
 * Whether `DIR/SET` may name a set of IDX files in DIR (EMNIST's folder holds six): DIR exists and holds
 * IDX files. Otherwise the path is simply missing, and is said to be.
 */
function namesSetIn(path: string): boolean {
  const dir = dirname(path);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return false;
  return basename(path) !== '' && holdsIdxFiles(readdirSync(dir));
}

export interface LoadDataOptions {
  /**
   * How many examples at the END of the training file become the validation split (default: a sixth
   * of them, see defaultValidationSize, giving MNIST's 50,000 / 10,000 like mnist.pkl.gz). A pickle
   * carries its own splits: this option must then be left out or equal the pickle's validation size,
   * else an error says so.
   */
  validation?: number;
}

export const ACCEPTED_SPECS = [
  'mnist (the bundled MNIST, default)',
  'idx:DIR (a directory with train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, optionally .gz, or one EMNIST set such as emnist-letters-train-images-idx3-ubyte.gz …)',
  'idx:DIR/SET (one set of several in DIR, e.g. idx:gzip/emnist-letters)',
  'pkl:FILE (mnist.pkl.gz as used by the PyTorch tutorial)',
  'fashion-mnist (needs the Debian package dataset-fashion-mnist)',
  'a directory path (same as idx:) or a .pkl/.pkl.gz path (same as pkl:)',
];

/** Loads the three splits named by a `--data` spec. */
export function loadData(spec = 'mnist', options: LoadDataOptions = {}): DatasetSplits {
  const validation = options.validation;
  const trimmed = spec.trim();
  if (trimmed === 'mnist' || trimmed === '') {
    const { train, test } = loadBundledMnist();
    return { source: 'mnist', ...splitValidation(train, validation, 'mnist'), test };
  }
  if (trimmed === 'fashion-mnist') {
    const dir = findFashionMnist();
    const { train, test } = loadIdxDirectory(dir, { classNames: FASHION_MNIST_CLASSES });
    return { source: 'fashion-mnist', ...splitValidation(train, validation, 'fashion-mnist'), test };
  }
  let kind: 'idx' | 'pkl' | undefined;
  let path = '';
  if (trimmed.startsWith('idx:')) [kind, path] = ['idx', trimmed.slice(4)];
  else if (trimmed.startsWith('pkl:')) [kind, path] = ['pkl', trimmed.slice(4)];
  else if (/\.pkl(\.gz)?$/.test(trimmed)) [kind, path] = ['pkl', trimmed];
  else if (existsSync(trimmed) && statSync(trimmed).isDirectory()) [kind, path] = ['idx', trimmed];
  if (kind === undefined) {
    throw new DataSourceError(`unknown data source '${spec}'; accepted forms:\n  ${ACCEPTED_SPECS.join('\n  ')}`);
  }
  if (path === '') throw new DataSourceError(`'${spec}' names no path; write ${kind}:PATH`);
  // idx:DIR/SET names one set of the files in DIR (EMNIST's folder holds six): DIR must exist.
  if (!existsSync(path) && !(kind === 'idx' && namesSetIn(path))) {
    const hint = kind === 'pkl' ? ' (`digitlab data fetch` downloads mnist.pkl.gz)' : '';
    throw new DataSourceError(`${path} does not exist${hint}`);
  }
  if (kind === 'idx') {
    const { train, test } = loadIdxDirectory(path);
    return { source: `idx:${path}`, ...splitValidation(train, validation, path), test };
  }
  const splits = loadMnistPickle(path);
  if (options.validation !== undefined && options.validation !== splits.validation.count) {
    throw new DataSourceError(
      `${path} has its own validation split of ${splits.validation.count} examples; ` +
        `leave out the validation size (asked for ${options.validation}) or use an IDX source to choose it`,
    );
  }
  return { ...splits, source: `pkl:${path}` };
}

/** Directories where Debian's dataset-fashion-mnist might keep its IDX files. */
const FASHION_MNIST_GUESSES = ['/usr/share/fashion-mnist', '/usr/share/dataset-fashion-mnist', '/usr/share/datasets/fashion-mnist'];

/**
 * Finds Fashion-MNIST's IDX directory: the package's file list when dpkg knows it, else a few guessed
 * locations. Throws a DataSourceError saying how to install it.
 */
export function findFashionMnist(): string {
  const candidates: string[] = [];
  try {
    const listing = execFileSync('dpkg', ['-L', 'dataset-fashion-mnist'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    for (const line of listing.split('\n')) {
      if (/train-images[-.]idx3-ubyte(\.gz)?$/.test(line)) candidates.push(dirname(line));
    }
  } catch {
    // dpkg absent or package not installed: fall back to guessed locations.
  }
  candidates.push(...FASHION_MNIST_GUESSES);
  for (const dir of candidates) {
    try {
      findIdxDirectoryFiles(dir);
      return dir;
    } catch {
      // not this one
    }
  }
  throw new DataSourceError(
    'Fashion-MNIST not found: install it with `apt-get install dataset-fashion-mnist`, or download its four IDX files and pass --data idx:DIR',
  );
}

/** What `digitlab data info` prints about one split. */
export interface SplitDescription {
  readonly count: number;
  /** [count, height, width] */
  readonly shape: readonly [number, number, number];
  readonly dtype: 'uint8' | 'float32';
  readonly pixelMin: number;
  readonly pixelMax: number;
  /** The value of a full-ink pixel declared by the source (255 or 1). */
  readonly pixelScale: number;
  readonly labelMin: number;
  readonly labelMax: number;
  readonly classes: number;
  /** Examples per class, index = class. */
  readonly classCounts: readonly number[];
  /** The classes' names, when they have names other than their numbers. */
  readonly classNames?: readonly string[];
}

export interface DataDescription {
  readonly source: string;
  readonly train: SplitDescription;
  readonly validation: SplitDescription;
  readonly test: SplitDescription;
}

export function describeDataset(dataset: Dataset): SplitDescription {
  let pixelMin = Infinity;
  let pixelMax = -Infinity;
  const images = dataset.images;
  for (let i = 0; i < images.length; i++) {
    const v = images[i];
    if (v < pixelMin) pixelMin = v;
    if (v > pixelMax) pixelMax = v;
  }
  const classCounts = new Array<number>(dataset.classes).fill(0);
  let labelMin = Infinity;
  let labelMax = -Infinity;
  for (const label of dataset.labels) {
    classCounts[label] = (classCounts[label] ?? 0) + 1;
    if (label < labelMin) labelMin = label;
    if (label > labelMax) labelMax = label;
  }
  const empty = dataset.count === 0;
  return {
    count: dataset.count,
    shape: [dataset.count, dataset.height, dataset.width],
    dtype: images instanceof Uint8Array ? 'uint8' : 'float32',
    pixelMin: empty ? 0 : pixelMin,
    pixelMax: empty ? 0 : pixelMax,
    pixelScale: dataset.pixelMax,
    labelMin: empty ? 0 : labelMin,
    labelMax: empty ? 0 : labelMax,
    classes: dataset.classes,
    classCounts,
    classNames: dataset.classNames,
  };
}

/** Sizes, shapes, pixel range, label range and class counts of each split. */
export function describeData(splits: DatasetSplits): DataDescription {
  return {
    source: splits.source,
    train: describeDataset(splits.train),
    validation: describeDataset(splits.validation),
    test: describeDataset(splits.test),
  };
}
