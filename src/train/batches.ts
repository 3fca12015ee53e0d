import type { Augmenter } from '../data/augment.js';
import type { Dataset } from '../data/dataset.js';
import type { Sequential } from '../nn/sequential.js';

/**
 * Copies the images `indices[start, start + rows)` of a dataset into `input` ([rows, h·w], as the
 * network's input: pixel / pixelMax) and their labels into `labels`. Images stay compact in the
 * dataset; only one batch at a time is converted to floats.
 */
export function fillBatch(
  data: Dataset, indices: ArrayLike<number>, start: number, rows: number,
  input: Float32Array, labels: Int32Array,
): void {
  const size = data.height * data.width;
  const scale = 1 / data.pixelMax;
  const images = data.images;
  for (let r = 0; r < rows; r++) {
    const index = indices[start + r];
    const from = index * size;
    const to = r * size;
    for (let j = 0; j < size; j++) input[to + j] = images[from + j] * scale;
    labels[r] = data.labels[index];
  }
}

/** Fills a batch of consecutive images starting at `first` (for evaluation, no shuffling). */
export function fillRange(data: Dataset, first: number, rows: number, input: Float32Array, labels: Int32Array): void {
  const size = data.height * data.width;
  const scale = 1 / data.pixelMax;
  const images = data.images;
  const base = first * size;
  for (let j = 0; j < rows * size; j++) input[j] = images[base + j] * scale;
  for (let r = 0; r < rows; r++) labels[r] = data.labels[first + r];
}

/**
 * One batch buffer of a network, as its input layer reads it best: the raw pixel bytes when a dataset's
 * images are bytes (the first layer lists the nonzero pixels straight from them, and no float copy of
 * the batch is written), normalized floats when they are floats. Both give the same logits.
 */
export class BatchBuffer {
  readonly labels: Int32Array;
  private pixels: Uint8Array | null = null;
  private floats: Float32Array | null = null;
  /** Where an augmented batch is gathered before its distortion (allocated on the first such fill). */
  private gatheredPixels: Uint8Array | null = null;
  private gatheredFloats: Float32Array | null = null;
  /** Which buffer the last fill wrote (null before the first), its rows, and the scale of its pixels. */
  private filled: 'pixels' | 'floats' | null = null;
  private filledRows = 0;
  private scale = 1;

  constructor(private readonly model: Sequential, readonly rows: number) {
    this.labels = model.allocLabels(rows);
  }

  /**
   * Images `indices[start, start + rows)` of `data` and their labels; with an augmenter, each image as
   * it distorts it (the images are gathered into a buffer of their own, then warped into the batch).
   */
  fill(data: Dataset, indices: ArrayLike<number>, start: number, rows: number, augmenter?: Augmenter): void {
    this.check(data, rows);
    if (!(Number.isInteger(start) && start >= 0 && start + rows <= indices.length)) {
      throw new RangeError(`batch [${start}, ${start + rows}) is outside the ${indices.length} indices`);
    }
    if (augmenter && (augmenter.height !== data.height || augmenter.width !== data.width || augmenter.rows < rows)) {
      throw new RangeError(
        `the augmenter distorts up to ${augmenter.rows} images of ${augmenter.height}×${augmenter.width}; ` +
        `the batch has ${rows} of ${data.height}×${data.width}`,
      );
    }
    if (data.images instanceof Uint8Array) {
      const size = data.height * data.width;
      const pixels = (this.pixels ??= this.model.allocPixels(this.rows));
      const gathered = augmenter ? (this.gatheredPixels ??= this.model.allocPixels(this.rows)) : pixels;
      for (let r = 0; r < rows; r++) {
        const index = indices[start + r];
        gathered.set(data.images.subarray(index * size, (index + 1) * size), r * size);
        this.labels[r] = data.labels[index];
      }
      augmenter?.apply(gathered, rows, pixels);
      this.usePixels(data);
    } else {
      const floats = (this.floats ??= this.model.allocInput(this.rows));
      const gathered = augmenter ? (this.gatheredFloats ??= this.model.allocInput(this.rows)) : floats;
      fillBatch(data, indices, start, rows, gathered, this.labels);
      augmenter?.apply(gathered, rows, floats);
      this.filled = 'floats';
    }
    this.filledRows = rows;
  }

  /** Images [first, first + rows) of `data` and their labels (evaluation: no shuffling). */
  fillRange(data: Dataset, first: number, rows: number): void {
    this.check(data, rows);
    if (!(Number.isInteger(first) && first >= 0 && first + rows <= data.count)) {
      throw new RangeError(`images [${first}, ${first + rows}) are outside the dataset's ${data.count}`);
    }
    if (data.images instanceof Uint8Array) {
      const size = data.height * data.width;
      (this.pixels ??= this.model.allocPixels(this.rows)).set(data.images.subarray(first * size, (first + rows) * size));
      this.labels.set(data.labels.subarray(first, first + rows));
      this.usePixels(data);
    } else {
      fillRange(data, first, rows, (this.floats ??= this.model.allocInput(this.rows)), this.labels);
      this.filled = 'floats';
    }
    this.filledRows = rows;
  }

  /** The network's logits for the first `rows` rows of the last fill (`training`: see Sequential.forward). */
  forward(rows: number, training = false): Float32Array {
    if (this.filled === null) throw new Error('BatchBuffer.forward: fill the buffer first');
    if (rows > this.filledRows) throw new RangeError(`BatchBuffer.forward: ${rows} rows asked, the last fill wrote ${this.filledRows}`);
    return this.filled === 'pixels'
      ? this.model.forwardPixels(this.pixels as Uint8Array, rows, this.scale, training)
      : this.model.forward(this.floats as Float32Array, rows, training);
  }

  private usePixels(data: Dataset): void {
    this.filled = 'pixels';
    this.scale = 1 / data.pixelMax;
  }

  private check(data: Dataset, rows: number): void {
    if (!(Number.isInteger(rows) && rows >= 0)) throw new RangeError(`a batch must have a whole number of rows, got ${rows}`);
    if (rows > this.rows) throw new RangeError(`a batch of ${rows} rows does not fit a buffer of ${this.rows}`);
    const size = data.height * data.width;
    if (size !== this.model.inputs) {
      throw new RangeError(`images of ${data.height}×${data.width} = ${size} pixels do not fit a network with ${this.model.inputs} inputs`);
    }
  }
}
