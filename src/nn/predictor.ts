import type { Sequential } from './sequential.js';

/** Images a Predictor runs through the network at once. */
export const PREDICT_CHUNK = 1000;

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

  /**
   * Predictions for the first `rows` images in `pixels` ([rows, inputs] and beyond, values in [0, 1]),
   * PREDICT_CHUNK images at a time: a convolutional network's activations for all of MNIST's test set
   * at once would not fit in WebAssembly's memory.
   */
  predictBatch(pixels: Float32Array, rows: number): Prediction[] {
    const { inputs, classes } = this.model;
    const chunk = Math.min(rows, PREDICT_CHUNK);
    if (chunk > this.capacity) {
      this.input = this.model.allocInput(chunk);
      this.probs = this.model.kernels.allocF32(chunk * classes);
      this.capacity = chunk;
    }
    const out: Prediction[] = [];
    for (let start = 0; start < rows; start += chunk) {
      const n = Math.min(chunk, rows - start);
      this.input.set(pixels.subarray(start * inputs, (start + n) * inputs));
      this.model.kernels.softmax(this.model.forward(this.input, n), n, classes, this.probs);
      for (let r = 0; r < n; r++) {
        const probabilities = Array.from(this.probs.subarray(r * classes, (r + 1) * classes));
        let digit = 0;
        for (let c = 1; c < classes; c++) if (probabilities[c] > probabilities[digit]) digit = c;
        out.push({ digit, probabilities });
      }
    }
    return out;
  }
}
