import type { Kernels } from '../core/kernels.js';
import { loadModel, saveModel } from '../io/model-files.js';
import type { ModelConfig } from '../io/model-config.js';
import { Mlp } from './mlp.js';

export interface Prediction {
  /** Index of the most probable class. */
  digit: number;
  /** Softmax probability of each class. */
  probabilities: number[];
}

/**
 * A trained network with its configuration: what `digitlab predict`, `eval` and the server use.
 * Inputs are images of the model's shape with values already normalized to [0, 1].
 */
export class Classifier {
  private input: Float32Array;
  private probs: Float32Array;
  private capacity = 0;

  constructor(
    readonly config: ModelConfig,
    readonly model: Mlp,
  ) {
    this.input = this.probs = new Float32Array(0);
  }

  static async load(kernels: Kernels, dir: string): Promise<Classifier> {
    const { config, tensors } = await loadModel(dir);
    const model = new Mlp(kernels, {
      inputs: config.inputShape[0] * config.inputShape[1],
      hidden: config.hidden,
      classes: config.classes,
      activation: config.activation,
    });
    model.loadTensors(tensors);
    return new Classifier(config, model);
  }

  save(dir: string): Promise<void> {
    return saveModel(dir, this.config, this.model.toTensors());
  }

  get inputSize(): number {
    return this.model.spec.inputs;
  }

  /** Class probabilities for `rows` images in `pixels` ([rows, inputs], values in [0, 1]). */
  predictBatch(pixels: Float32Array, rows: number): Prediction[] {
    const { inputs, classes } = this.model.spec;
    if (pixels.length !== rows * inputs) {
      throw new RangeError(`expected ${rows} × ${inputs} = ${rows * inputs} pixel values, got ${pixels.length}`);
    }
    if (rows > this.capacity) {
      this.input = this.model.allocInput(rows);
      this.probs = this.model.kernels.allocF32(rows * classes);
      this.capacity = rows;
    }
    this.input.set(pixels);
    const logits = this.model.forward(this.input, rows);
    this.model.kernels.softmax(logits, rows, classes, this.probs);
    const out: Prediction[] = [];
    for (let r = 0; r < rows; r++) {
      const probabilities = Array.from(this.probs.subarray(r * classes, (r + 1) * classes));
      let digit = 0;
      for (let c = 1; c < classes; c++) if (probabilities[c] > probabilities[digit]) digit = c;
      out.push({ digit, probabilities });
    }
    return out;
  }

  predict(pixels: Float32Array): Prediction {
    return this.predictBatch(pixels, 1)[0];
  }

  /** Display name of a class ('0'…'9' for digits). */
  label(index: number): string {
    return this.config.labels?.[index] ?? String(index);
  }
}
