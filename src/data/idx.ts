/**
 * IDX files (the format MNIST, Fashion-MNIST, KMNIST and EMNIST are distributed in), raw or gzipped,
 * and directories of them (a set's four files; EMNIST's transposed images are turned the right way).
 * The bytes themselves are parsed by idx-bytes.ts, which needs no Node.js.
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { Dataset } from './dataset.js';
import { IdxFormatError, IdxPixelTypeError } from './errors.js';
import { DTYPES, encodeIdx, idxImages, idxLabels, isGzip, parseIdx, type IdxArray, type IdxDtype, type IdxImages } from './idx-bytes.js';
import { idxSetLayout, recognizeClassNames, type IdxSetLayout } from './known-sets.js';

export { encodeIdx, idxDataset, idxImages, idxLabels, isGzip, parseIdx, type IdxArray, type IdxDtype, type IdxImages } from './idx-bytes.js';

/**
 * Reads a file and gunzips it when its content is gzip (detected by the magic bytes, not the name).
 * A name ending in `.gz` whose content is not gzip is refused: it is usually an HTML error page saved
 * by a failed download, and reading it as IDX would give a confusing header error.
 */
export function readMaybeGzip(
  path: string,
  errorClass: new (path: string, message: string) => Error = IdxFormatError,
): Uint8Array {
  const bytes = readFileSync(path);
  if (isGzip(bytes)) {
    try {
      return gunzipSync(bytes);
    } catch (error) {
      throw new errorClass(path, `gzip data is corrupt or truncated (${(error as Error).message}); download the file again`);
    }
  }
  if (path.endsWith('.gz')) {
    const start = bytes.subarray(0, 16).toString('latin1').replace(/[^\x20-\x7e]/g, '.');
    throw new errorClass(
      path,
      `the name ends in .gz but the content is not gzip (it starts with "${start}"); ` +
        `the download may have saved an error page: delete the file and download it again`,
    );
  }
  return bytes;
}


/** Reads an IDX file, raw or gzipped. */
export function readIdxFile(path: string): IdxArray {
  return parseIdx(readMaybeGzip(path), path);
}


/** Reads an images file and a labels file and checks they describe the same number of examples. */
export function loadIdxPair(imagesPath: string, labelsPath: string, classes?: number): Dataset {
  return readIdxPair(imagesPath, labelsPath, idxSetLayout(''), classes).dataset;
}

/** loadIdxPair for a set of a known layout, also giving the IDX type the pixels were stored in. */
function readIdxPair(imagesPath: string, labelsPath: string, layout: IdxSetLayout, classes?: number): { dataset: Dataset; dtype: IdxDtype } {
  const array = readIdxFile(imagesPath);
  let images = idxImages(array, imagesPath);
  if (layout.transposed) images = transposeImages(images);
  const labelArray = readIdxFile(labelsPath);
  if (layout.labelOffset !== 0) shiftLabels(labelArray, layout, labelsPath);
  const labels = idxLabels(labelArray, labelsPath, classes);
  if (images.count !== labels.labels.length) {
    throw new IdxFormatError(
      imagesPath,
      `has ${images.count} images but ${labelsPath} has ${labels.labels.length} labels; the two files must come from the same set`,
    );
  }
  return { dataset: { ...images, labels: labels.labels, classes: labels.classes }, dtype: array.dtype };
}

/**
 * Turns images stored transposed (EMNIST's layout: the stored rows are the picture's columns) the
 * right way, in place: stored [count, rows, cols] becomes the pictures [count, cols, rows].
 */
export function transposeImages(images: IdxImages): IdxImages {
  const { count, height: rows, width: cols, images: data } = images;
  const size = rows * cols;
  const stored = data instanceof Uint8Array ? new Uint8Array(size) : new Float32Array(size);
  for (let n = 0, base = 0; n < count; n++, base += size) {
    stored.set(data.subarray(base, base + size));
    // picture pixel (y, x) is stored at row x, column y
    for (let y = 0; y < cols; y++) {
      for (let x = 0; x < rows; x++) data[base + y * rows + x] = stored[x * cols + y];
    }
  }
  return { ...images, height: cols, width: rows };
}

/** Moves labels that start at the layout's offset (EMNIST letters: 1..26) down to start at 0, in place. */
function shiftLabels(array: IdxArray, layout: IdxSetLayout, path: string): void {
  const labels = array.data;
  const offset = layout.labelOffset;
  const range = `${offset}..${offset + (layout.classNames?.length ?? 1) - 1}`;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] < offset) {
      throw new IdxFormatError(
        path,
        `image ${i} has label ${labels[i]}, but the set its name says (${layout.name}) is labelled ${range} and never uses label ${labels[i]}; ` +
          `rename the file if it is another set, or download the set again`,
      );
    }
    labels[i] -= offset;
  }
}

/** The four files of one IDX set: MNIST's names, or a set's prefixed names such as EMNIST's. */
export interface IdxDirectoryFiles {
  readonly trainImages: string;
  readonly trainLabels: string;
  readonly testImages: string;
  readonly testLabels: string;
  /** The set's name: '' for MNIST's own names, the prefix otherwise (e.g. 'emnist-letters'). */
  readonly set?: string;
}

type IdxRole = 'trainImages' | 'trainLabels' | 'testImages' | 'testLabels';

const ROLE_NAMES: Record<IdxRole, string> = {
  trainImages: 'train images',
  trainLabels: 'train labels',
  testImages: 'test images',
  testLabels: 'test labels',
};

/**
 * IDX file names: `[SET-]SPLIT-KIND[-.]idxN-ubyte[.gz]`, SPLIT `train` or `t10k`/`test` (MNIST says t10k,
 * EMNIST test), KIND `images` (N = 3) or `labels` (N = 1).
 */
const IDX_NAME = /^(?:(.+)-)?(train|t10k|test)-(images|labels)([-.])idx([13])-ubyte(\.gz)?$/;

/** Whether any of a directory's file names is an IDX file of a set (MNIST's names, or a set's prefix before them). */
export function holdsIdxFiles(names: readonly string[]): boolean {
  return names.some((name) => IDX_NAME.test(name));
}

/** The IDX sets among a directory's file names, each with the files found for each role. */
function idxSets(names: readonly string[]): Map<string, Partial<Record<IdxRole, string>>> {
  const sets = new Map<string, Partial<Record<IdxRole, string>>>();
  // Where one role has several spellings, prefer '-' to '.' and raw to .gz: sorted so, the first wins.
  const rank = (name: string) => (/\.idx\d-ubyte/.test(name) ? 2 : 0) + (name.endsWith('.gz') ? 1 : 0);
  for (const name of [...names].sort((a, b) => rank(a) - rank(b))) {
    const match = IDX_NAME.exec(name);
    if (!match) continue;
    const [, set = '', split, kind, , dims] = match;
    if ((kind === 'images') !== (dims === '3')) continue;
    const role = `${split === 'train' ? 'train' : 'test'}${kind === 'images' ? 'Images' : 'Labels'}` as IdxRole;
    const files = sets.get(set) ?? {};
    files[role] ??= name;
    sets.set(set, files);
  }
  return sets;
}

/** "a", "a and b", "a, b and c". */
function listWords(words: readonly string[]): string {
  return words.length <= 1 ? (words[0] ?? '') : `${words.slice(0, -1).join(', ')} and ${words[words.length - 1]}`;
}

/**
 * Locates the four files of an IDX set (without reading them). `path` is a directory holding one set
 * (MNIST's names such as `train-images-idx3-ubyte`, `t10k-labels.idx1-ubyte.gz`, or one prefixed set
 * such as EMNIST's `emnist-digits-train-images-idx3-ubyte.gz`), or `DIR/SET` naming one set of several
 * in DIR. A directory with MNIST's own names reads those, whatever else it holds.
 */
export function findIdxDirectoryFiles(path: string): IdxDirectoryFiles {
  let dir = path;
  let wanted: string | undefined;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    try {
      if (code !== 'ENOENT') throw error;
      // DIR/SET: a set of the files in DIR
      dir = dirname(path);
      wanted = basename(path).replace(/-$/, '');
      names = readdirSync(dir);
    } catch {
      throw new IdxFormatError(path, `cannot read the directory (${code ?? (error as Error).message})`);
    }
  }
  const sets = idxSets(names);
  const complete = [...sets].filter(([, files]) => Object.keys(ROLE_NAMES).every((role) => files[role as IdxRole] !== undefined)).map(([set]) => set);
  const choice = wanted ?? (complete.includes('') || complete.length === 1 ? (complete.includes('') ? '' : complete[0]) : undefined);
  const named = complete.filter((set) => set !== '').sort();
  if (choice === undefined && complete.length > 1) {
    throw new IdxFormatError(
      dir,
      `holds ${complete.length} IDX sets (${named.join(', ')}); choose one with idx:${join(dir, named[0])} (idx:DIR/NAME)`,
    );
  }
  const set = choice ?? [...sets.keys()][0];
  const files = set === undefined ? undefined : sets.get(set);
  if (files === undefined) {
    const listed = names.length > 20 ? `${names.slice(0, 20).join(', ')} and ${names.length - 20} more` : names.join(', ');
    throw new IdxFormatError(
      path,
      wanted !== undefined
        ? `no IDX set ${wanted} in ${dir}` + (named.length ? `; it holds ${named.join(', ')}` : `; it holds ${listed || 'nothing'}`)
        : `no IDX files: looked for train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and ` +
            `t10k-labels-idx1-ubyte (also spelled train-images.idx3-ubyte, with .gz, or with a set's prefix such as ` +
            `emnist-digits-train-images-idx3-ubyte.gz); the directory holds ${listed || 'nothing'}`,
    );
  }
  const missing = (Object.keys(ROLE_NAMES) as IdxRole[]).filter((role) => files[role] === undefined);
  if (missing.length > 0) {
    const prefix = set === '' ? '' : `${set}-`;
    const expected = (role: IdxRole) =>
      `${prefix}${role.startsWith('train') ? 'train' : set === '' ? 't10k' : 'test'}-${role.endsWith('Images') ? 'images-idx3' : 'labels-idx1'}-ubyte[.gz]`;
    const lacking = listWords(missing.map((role) => `${ROLE_NAMES[role]} (${expected(role)})`));
    throw new IdxFormatError(
      dir,
      `${set === '' ? 'the MNIST-named files lack their' : `the IDX set ${set} lacks its`} ${lacking}; the directory holds ${names.join(', ')}`,
    );
  }
  return {
    trainImages: join(dir, files.trainImages!),
    trainLabels: join(dir, files.trainLabels!),
    testImages: join(dir, files.testImages!),
    testLabels: join(dir, files.testLabels!),
    set,
  };
}

/**
 * Loads an IDX set (see findIdxDirectoryFiles): train and test sets. The class count is shared (the
 * larger of the two), so a test set that lacks the last class still has the same output width. EMNIST's
 * transposed images are turned the right way, and the names of known sets' classes come along
 * (`classNames` overrides them).
 */
export function loadIdxDirectory(
  dir: string,
  options: { classes?: number; classNames?: readonly string[] } = {},
): { train: Dataset; test: Dataset; files: IdxDirectoryFiles } {
  const files = findIdxDirectoryFiles(dir);
  const layout = idxSetLayout(files.set ?? '');
  const { dataset: train, dtype: trainType } = readIdxPair(files.trainImages, files.trainLabels, layout, options.classes);
  const { dataset: test, dtype: testType } = readIdxPair(files.testImages, files.testLabels, layout, options.classes);
  if (trainType !== testType) {
    throw new IdxPixelTypeError(
      { path: files.trainImages, type: trainType, code: DTYPES[trainType].code },
      { path: files.testImages, type: testType, code: DTYPES[testType].code },
    );
  }
  if (train.height !== test.height || train.width !== test.width) {
    throw new IdxFormatError(
      dir,
      `train images are ${train.height}x${train.width} but test images are ${test.height}x${test.width}; both must have the same size`,
    );
  }
  let classes = Math.max(train.classes, test.classes);
  const names = options.classNames ?? layout.classNames ?? recognizeClassNames(train.labels);
  // Names that cannot cover every label are dropped (the classes are then shown by number).
  const classNames = names !== undefined && classes <= names.length ? names : undefined;
  if (classNames) classes = classNames.length;
  return { train: { ...train, classes, classNames }, test: { ...test, classes, classNames }, files };
}


/** Writes an IDX file, gzipped when `gzip` is true. */
export function writeIdxFile(
  path: string,
  data: ArrayLike<number>,
  shape: readonly number[],
  options: { dtype?: IdxDtype; gzip?: boolean } = {},
): void {
  const bytes = encodeIdx(data, shape, options.dtype ?? 'uint8');
  writeFileSync(path, options.gzip ? gzipSync(bytes) : bytes);
}

