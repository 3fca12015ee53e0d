import type { Sequential } from './sequential.js';

export interface Prediction {
  /** Index of the most probable class. */
  digit: number;
  /** Softmax probability of each class. */
  probabilities: number[];
}

/**
 * Class probabilities of a network for batches of images, with its kernel buffers kept between calls.
 * Shared by the Node Classifier and the web page's model (which cannot read model folders from disk).
 */
export class Predictor {
  private input: Float32Array = new Float32Array(0);
  private probs: Float32Array = new Float32Array(0);
  private capacity = 0;

  constructor(readonly model: Sequential) {}

  /** Predictions for the first `rows` images in `pixels` ([rows, inputs] and beyond, values in [0, 1]). */
  predictBatch(pixels: Float32Array, rows: number): Prediction[] {
    const { inputs, classes } = this.model;
    if (rows > this.capacity) {
      this.input = this.model.allocInput(rows);
      this.probs = this.model.kernels.allocF32(rows * classes);
      this.capacity = rows;
    }
    this.input.set(pixels.subarray(0, rows * inputs));
    this.model.kernels.softmax(this.model.forward(this.input, rows), rows, classes, this.probs);
    const out: Prediction[] = [];
    for (let r = 0; r < rows; r++) {
      const probabilities = Array.from(this.probs.subarray(r * classes, (r + 1) * classes));
      let digit = 0;
      for (let c = 1; c < classes; c++) if (probabilities[c] > probabilities[digit]) digit = c;
      out.push({ digit, probabilities });
    }
    return out;
  }
}
