import type { Kernels } from '../core/kernels.js';
import { loadModel, saveModel } from '../io/model-files.js';
import type { ModelConfig } from '../io/model-config.js';
import { InputShapeError } from './errors.js';
import { Sequential } from './sequential.js';
import { Predictor, type Prediction } from './predictor.js';

export type { Prediction } from './predictor.js';

/**
 * A trained network with its configuration: what `digitlab predict`, `eval` and the server use.
 * Inputs are images of the model's shape with values already normalized to [0, 1].
 */
export class Classifier {
  private readonly predictor: Predictor;

  constructor(
    readonly config: ModelConfig,
    readonly model: Sequential,
  ) {
    this.predictor = new Predictor(model);
  }

  static async load(kernels: Kernels, dir: string): Promise<Classifier> {
    const { config, tensors } = await loadModel(dir);
    const model = new Sequential(kernels, config.model);
    model.loadTensors(tensors);
    return new Classifier(config, model);
  }

  save(dir: string): Promise<void> {
    return saveModel(dir, this.config, this.model.toTensors());
  }

  get inputSize(): number {
    return this.model.inputs;
  }

  /** [height, width] of the images the model reads. */
  get inputShape(): readonly [number, number] {
    return this.config.inputShape;
  }

  /** Class probabilities for `rows` images in `pixels` ([rows, inputs], values in [0, 1]). */
  predictBatch(pixels: Float32Array, rows: number): Prediction[] {
    const { inputs } = this.model;
    if (pixels.length !== rows * inputs) {
      throw new InputShapeError(`expected ${rows} × ${inputs} = ${rows * inputs} pixel values, got ${pixels.length}`);
    }
    return this.predictor.predictBatch(pixels, rows);
  }

  predict(pixels: Float32Array): Prediction {
    return this.predictBatch(pixels, 1)[0];
  }

  /** Display name of a class ('0'…'9' for digits). */
  label(index: number): string {
    return this.config.labels?.[index] ?? String(index);
  }
}
