import { DataSourceError } from './errors.js';

/**
 * A dataset of images and integer labels, kept compact: pixels stay as the file stored them
 * (uint8 for MNIST-style IDX files) and are converted to normalized floats per batch.
 */
export interface Dataset {
  /** Images, row-major [count, height, width]. */
  readonly images: Uint8Array | Float32Array;
  /** Class index of each image, [count]. */
  readonly labels: Uint8Array;
  readonly count: number;
  readonly height: number;
  readonly width: number;
  /** Number of classes: labels are in [0, classes). */
  readonly classes: number;
  /**
   * The value of a fully inked pixel: 255 for uint8 images, 1 for float images already in [0, 1].
   * A model feeds `pixel / pixelMax` to its input layer.
   */
  readonly pixelMax: number;
  /**
   * Display names of the classes, index = class (Fashion-MNIST's 'T-shirt/top'…, EMNIST letters'
   * 'A'…'Z'); absent when the classes are their own numbers, as digits are.
   */
  readonly classNames?: readonly string[];
}

/** The display name of class `label`: its name when the dataset has names, else its number. */
export function className(dataset: Pick<Dataset, 'classNames'>, label: number): string {
  return dataset.classNames?.[label] ?? String(label);
}

/** The three splits a training run uses. */
export interface DatasetSplits {
  /** Where the data came from, as given to `--data` (e.g. 'mnist', 'idx:/path', 'pkl:/path'). */
  readonly source: string;
  readonly train: Dataset;
  readonly validation: Dataset;
  readonly test: Dataset;
}

/**
 * Examples [start, end) of a dataset, as views on the same arrays (no copy): splitting 60,000 MNIST
 * images into train and validation costs nothing.
 */
export function sliceDataset(dataset: Dataset, start: number, end: number): Dataset {
  if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= dataset.count)) {
    throw new RangeError(`sliceDataset: [${start}, ${end}) is not a range within 0..${dataset.count}`);
  }
  const pixels = dataset.height * dataset.width;
  return {
    ...dataset,
    images: dataset.images.subarray(start * pixels, end * pixels),
    labels: dataset.labels.subarray(start, end),
    count: end - start,
  };
}

/**
 * The validation split when none is asked for: a sixth of the training images, rounded down, the
 * tutorial's proportion (its mnist.pkl.gz holds out 10,000 of MNIST's 60,000). At least one image is
 * held out whenever there are two, so a set of any size has images to train on and to validate on.
 */
export function defaultValidationSize(trainCount: number): number {
  return trainCount < 2 ? 0 : Math.max(1, Math.floor(trainCount / 6));
}

/** Splits a train set into train and its last `validation` examples. */
export function splitValidation(
  train: Dataset,
  validation: number = defaultValidationSize(train.count),
  source = 'the data',
): { train: Dataset; validation: Dataset } {
  if (!Number.isInteger(validation) || validation < 0 || validation >= train.count) {
    throw new DataSourceError(
      `${source}: validation size ${validation} must be an integer from 0 to ${train.count - 1} (the training file has ${train.count} examples)`,
    );
  }
  const cut = train.count - validation;
  return { train: sliceDataset(train, 0, cut), validation: sliceDataset(train, cut, train.count) };
}
