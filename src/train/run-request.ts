/**
 * A training run as a form or an HTTP body asks for it (POST /api/runs, the web page's Train form, in
 * this browser or on the server): the request with its defaults filled in, and the settings a
 * TrainingRun takes from it. The server and a browser tab read the same request the same way.
 */
import type { Activation } from '../core/kernels.js';
import { AugmentSpecError, parseAugment } from '../data/augment.js';
import { parseLayers, presetLayers, presetNamed, presetSchedule, UnknownPresetError } from '../io/layer-text.js';
import { buildModelSpec, LayerSpecError, type LayerSpec } from '../io/model-spec.js';
import { defaultLr, type OptimizerName } from '../optim/index.js';
import { parseSchedule, ScheduleSpecError } from '../optim/schedules.js';
import { DEFAULT_SETTINGS, type TrainSettings } from './settings.js';

export interface RunRequest {
  /** An MLP's hidden sizes and activation, used when neither `layers` nor `preset` is given. */
  hidden: number[];
  activation: Activation;
  /** Any network, as `digitlab train --layers` takes it (the output layer is added). */
  layers?: string;
  /** A named layer list (`digitlab presets`). */
  preset?: string;
  optimizer: OptimizerName;
  lr: number;
  /** The learning-rate schedule as `--schedule` writes it (a recipe preset's own when the body gave none); a constant rate when absent. */
  schedule?: string;
  epochs: number;
  batchSize: number;
  seed: number;
  /** Train on the first N training images only (a quick run); all of them when absent. */
  trainImages?: number;
  /**
   * Distortions of the training images, as a study spec writes them: "affine", "elastic",
   * "affine,elastic", or { affine?: ranges | true, elastic?: ranges | true }; none when absent.
   */
  augment?: unknown;
}

/** A request no run can be made of; the message names the field. */
export class RunRequestError extends Error {
  override readonly name = 'RunRequestError';
}

/**
 * The request with what it leaves out filled in: an MLP of 128 ReLU nodes, Adam at its default rate,
 * 3 epochs of batches of 64, seed 0; a recipe preset brings its epochs, batch size, augmentation and
 * schedule where the request gives none.
 */
export function completeRunRequest(body: Partial<RunRequest>): RunRequest {
  const recipe = presetNamed(body.preset);
  const optimizer = body.optimizer ?? 'adam';
  const schedule = body.schedule ?? presetSchedule(body.preset, optimizer, body.lr !== undefined);
  const augment = body.augment !== undefined ? body.augment : recipe?.augment;
  return {
    hidden: body.hidden ?? [128],
    activation: body.activation ?? 'relu',
    ...(body.layers !== undefined ? { layers: body.layers } : {}),
    ...(body.preset !== undefined ? { preset: body.preset } : {}),
    optimizer,
    lr: body.lr ?? defaultLr(optimizer),
    ...(schedule !== null ? { schedule } : {}),
    epochs: body.epochs ?? recipe?.epochs ?? 3,
    batchSize: body.batchSize ?? recipe?.batchSize ?? 64,
    seed: body.seed ?? 0,
    ...(body.trainImages !== undefined ? { trainImages: body.trainImages } : {}),
    ...(augment !== undefined ? { augment } : {}),
  };
}

/**
 * The settings of a run of `request` on images of `train`'s size and classes. A layer list, preset,
 * schedule or augmentation that does not parse or fit throws a RunRequestError naming it.
 */
export function runSettings(request: RunRequest, train: { height: number; width: number; classes: number }): TrainSettings {
  if (request.layers !== undefined && request.preset !== undefined) throw new RunRequestError('give layers or preset, not both');
  const field = request.preset !== undefined ? 'preset' : 'layers';
  let layers: LayerSpec[] | null;
  try {
    layers = request.preset !== undefined ? presetLayers(request.preset) : request.layers !== undefined ? parseLayers(request.layers) : null;
    if (layers) buildModelSpec([1, train.height, train.width], layers, train.classes);
  } catch (error) {
    if (error instanceof LayerSpecError || error instanceof UnknownPresetError) throw new RunRequestError(`${field}: ${error.message}`);
    throw error;
  }
  let augment;
  let schedule = null;
  try {
    augment = parseAugment(request.augment, 'augment');
    if (request.schedule !== undefined) schedule = parseSchedule(request.schedule, request.epochs);
  } catch (error) {
    if (error instanceof AugmentSpecError || error instanceof ScheduleSpecError) throw new RunRequestError(error.message);
    throw error;
  }
  return {
    ...DEFAULT_SETTINGS,
    hidden: request.hidden,
    activation: request.activation,
    ...(layers ? { layers } : {}),
    optimizer: request.optimizer,
    optimizerOptions: { lr: request.lr },
    schedule,
    ...(augment ? { augment } : {}),
    epochs: request.epochs,
    batchSize: request.batchSize,
    seed: request.seed,
  };
}
