/**
 * The server's training data as files a browser can fetch once and keep: each split's images and
 * labels as gzip IDX (MNIST's 50,000 training images are 8 MB so, against 157 MB as JSON numbers),
 * and a manifest naming them with a version, so a page's cache knows when the data changed. The
 * static site (`digitlab site`) writes the same files.
 */
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { Dataset, DatasetSplits } from '../data/dataset.js';
import { encodeIdx } from '../data/idx-bytes.js';

const gzipAsync = promisify(gzip);

export const SPLITS = ['train', 'validation', 'test'] as const;
export type SplitName = (typeof SPLITS)[number];

/** The file names: `train-images-idx3-ubyte.gz`, `train-labels-idx1-ubyte.gz`, … for each split. */
export const DATA_FILES: readonly string[] = SPLITS.flatMap((split) => [`${split}-images-idx3-ubyte.gz`, `${split}-labels-idx1-ubyte.gz`]);

export interface DataManifestSplit {
  count: number;
  height: number;
  width: number;
  classes: number;
  /** File names, relative to the manifest's own address. */
  images: string;
  labels: string;
  /** Size of the two gzip files together. */
  bytes: number;
}

export interface DataManifest {
  format: 'digitlab-data';
  version: 1;
  /** Where the server got the data (a `--data` spec). */
  source: string;
  /** Changes whenever the data does: a digest of every split's labels and sizes. */
  id: string;
  classNames?: string[];
  splits: Record<SplitName, DataManifestSplit>;
}

export interface DataFiles {
  manifest: DataManifest;
  files: Map<string, Uint8Array>;
}

function imagesIdx(dataset: Dataset): Uint8Array {
  const shape = [dataset.count, dataset.height, dataset.width];
  return dataset.images instanceof Uint8Array ? encodeIdx(dataset.images, shape, 'uint8') : encodeIdx(dataset.images, shape, 'float32');
}

/** Encodes and gzips the splits (about a second for MNIST, on the libuv threads). */
export async function buildDataFiles(data: DatasetSplits): Promise<DataFiles> {
  const files = new Map<string, Uint8Array>();
  const digest = createHash('sha256').update(data.source);
  const splits = {} as Record<SplitName, DataManifestSplit>;
  for (const split of SPLITS) {
    const dataset = data[split];
    const images = `${split}-images-idx3-ubyte.gz`;
    const labels = `${split}-labels-idx1-ubyte.gz`;
    const [imageBytes, labelBytes] = await Promise.all([
      gzipAsync(imagesIdx(dataset)), gzipAsync(encodeIdx(dataset.labels, [dataset.count], 'uint8')),
    ]);
    files.set(images, imageBytes);
    files.set(labels, labelBytes);
    digest.update(`${split}:${dataset.count}:${dataset.height}x${dataset.width}:${dataset.pixelMax}:`).update(dataset.labels);
    splits[split] = { count: dataset.count, height: dataset.height, width: dataset.width, classes: dataset.classes, images, labels, bytes: imageBytes.length + labelBytes.length };
  }
  // the image bytes' own digest would cost more than the gzip; their gzip lengths stand in for them
  for (const bytes of files.values()) digest.update(String(bytes.length));
  const classNames = data.train.classNames;
  const manifest: DataManifest = {
    format: 'digitlab-data',
    version: 1,
    source: data.source,
    id: digest.digest('hex').slice(0, 16),
    ...(classNames ? { classNames: [...classNames] } : {}),
    splits,
  };
  return { manifest, files };
}
