import { isAbsolute, resolve } from 'node:path';
import type { DatasetSplits } from '../data/dataset.js';
import type { ModelConfig } from '../io/model-config.js';
import { saveModel } from '../io/model-files.js';
import type { TrainingRun, TrainResult } from './trainer.js';
import { modelSpecFor, type TrainSettings } from './settings.js';

/**
 * The config.json of a model trained on `data` with `settings`: the architecture, the data's
 * normalization and class names (when it has names), the settings (and any `extra` training facts),
 * and the final `metrics`. The training data is recorded as a `--data` spec (a path made absolute, so
 * it is found from any folder) with its validation size, so `eval` and the server can score the model
 * on the data it learned.
 */
export function modelConfigFor(
  data: DatasetSplits, settings: TrainSettings, bestEpoch: number, metrics: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): ModelConfig {
  const train = data.train;
  return {
    format: 'digitlab',
    version: 2,
    model: modelSpecFor(settings, train),
    inputShape: [train.height, train.width],
    classes: train.classes,
    normalization: { pixelMax: train.pixelMax },
    ...(train.classNames ? { labels: [...train.classNames] } : {}),
    training: { data: absoluteSource(data.source), validation: data.validation.count, ...extra, ...settings, best_epoch: bestEpoch },
    metrics,
  };
}

/** `idx:PATH` and `pkl:PATH` with PATH absolute; other specs as they are. */
function absoluteSource(source: string): string {
  const match = /^(idx|pkl):(.+)$/s.exec(source);
  return match && !isAbsolute(match[2]) ? `${match[1]}:${resolve(match[2])}` : source;
}

/** The data a model is evaluated on, and why that one. */
export interface ModelData {
  /** A `--data` spec. */
  readonly spec: string;
  /** The validation size to load it with (undefined: the source's default). */
  readonly validation?: number;
  /** `given`: asked for; `recorded`: the data the model was trained on; `default`: the model does not say. */
  readonly origin: 'given' | 'recorded' | 'default';
}

/** The training data config.json records (null for a model that does not say, e.g. one made elsewhere). */
export function recordedData(config: ModelConfig): { spec: string; validation?: number } | null {
  const spec = config.training?.data;
  if (typeof spec !== 'string' || spec.trim() === '') return null;
  const validation = config.training?.validation;
  return { spec, validation: Number.isSafeInteger(validation) && (validation as number) >= 0 ? (validation as number) : undefined };
}

/** The data to score a model on: `given` when there is one, else the data it was trained on, else `fallback`. */
export function modelData(config: ModelConfig, given: string | undefined, fallback = 'mnist'): ModelData {
  if (given !== undefined) return { spec: given, origin: 'given' };
  const recorded = recordedData(config);
  return recorded ? { ...recorded, origin: 'recorded' } : { spec: fallback, origin: 'default' };
}

/** What config.json records of a finished run's results. */
export function resultMetrics(result: TrainResult): Record<string, unknown> {
  return {
    test_accuracy: result.test.accuracy,
    test_loss: result.test.loss,
    converged_epoch: result.converged_epoch,
    seconds_to_converge: result.seconds_to_converge,
    seconds: result.seconds,
  };
}

/**
 * Trains `run` to its end and saves the model it ends with as a folder (config.json with the
 * architecture, data, settings and metrics; model.safetensors), which `digitlab train`, the server's
 * runs, its first-start model and each study trial all do. A diverged run is not saved when
 * `skipDiverged` (its config is then null). A stopped run throws TrainingAbortedError and saves nothing.
 */
export async function trainAndSave(
  run: TrainingRun, dir: string, options: { extra?: Record<string, unknown>; skipDiverged?: boolean } = {},
): Promise<{ result: TrainResult; config: ModelConfig | null; saveSeconds: number }> {
  const result = await run.run();
  if (result.diverged && options.skipDiverged) return { result, config: null, saveSeconds: 0 };
  const started = performance.now();
  const config = modelConfigFor(run.data, run.settings, result.best_epoch, resultMetrics(result), options.extra);
  await saveModel(dir, config, run.model.toTensors());
  return { result, config, saveSeconds: (performance.now() - started) / 1000 };
}
