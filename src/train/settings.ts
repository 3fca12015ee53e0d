/**
 * What a training run is asked to do (TrainSettings, with PyTorch-like defaults) and what each epoch
 * records: the types the trainer, its checkpoints and every face share.
 */
import type { Activation } from '../core/kernels.js';
import type { AugmentSpec } from '../data/augment.js';
import type { Dataset } from '../data/dataset.js';
import { buildModelSpec, modelSpecFromMlp, type LayerSpec, type ModelSpec } from '../io/model-spec.js';
import type { OptimizerName } from '../optim/index.js';
import type { ScheduleSpec } from '../optim/schedules.js';
import { DEFAULT_CONVERGENCE, type ConvergenceOptions } from './convergence.js';

export interface TrainSettings {
  /** The hidden layers of an MLP (with `activation` after each), when `layers` is absent. */
  hidden: number[];
  activation: Activation;
  /**
   * The model's layers before the output layer (which the class count adds), as `--layers` writes
   * them: any network. When present, `hidden` and `activation` are not used.
   */
  layers?: LayerSpec[];
  optimizer: OptimizerName;
  /** The optimizer's options by PyTorch's names (lr, momentum, betas as beta1/beta2, …). */
  optimizerOptions: Record<string, number | boolean>;
  schedule: ScheduleSpec | null;
  /**
   * Random distortions of the training images, new every epoch (absent: none). Validation and test
   * images are never distorted.
   */
  augment?: AugmentSpec;
  epochs: number;
  batchSize: number;
  seed: number;
  /** Stop after this many epochs without a better validation loss (null: never stop early). */
  earlyStoppingPatience: number | null;
  /** With early stopping, end with the weights of the best validation epoch. */
  restoreBest: boolean;
  convergence: ConvergenceOptions;
}

export const DEFAULT_SETTINGS: TrainSettings = {
  hidden: [128],
  activation: 'relu',
  optimizer: 'adam',
  optimizerOptions: {},
  schedule: null,
  epochs: 5,
  batchSize: 64,
  seed: 0,
  earlyStoppingPatience: null,
  restoreBest: true,
  convergence: DEFAULT_CONVERGENCE,
};

export interface EpochRecord {
  epoch: number;
  train_loss: number;
  /** Null when the run holds out no validation images. */
  val_loss: number | null;
  val_accuracy: number | null;
  /** Seconds this epoch took (training and validation). */
  seconds: number;
  lr: number;
}

/** The model a run with these settings trains on images like `train`'s (one channel, the output layer from its classes). */
export function modelSpecFor(settings: Pick<TrainSettings, 'hidden' | 'activation' | 'layers'>, train: Pick<Dataset, 'height' | 'width' | 'classes'>): ModelSpec {
  return settings.layers
    ? buildModelSpec([1, train.height, train.width], settings.layers, train.classes)
    : modelSpecFromMlp({ inputShape: [train.height, train.width], hidden: settings.hidden, activation: settings.activation, classes: train.classes });
}
