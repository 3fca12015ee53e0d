import type { Dataset } from '../data/dataset.js';

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
