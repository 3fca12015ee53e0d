import { isAbsolute, resolve } from 'node:path';
import type { DatasetSplits } from '../data/dataset.js';
import type { ModelConfig } from '../io/model-config.js';
import { saveModel } from '../io/model-files.js';
import type { TrainingRun, TrainResult } from './trainer.js';
import type { TrainSettings } from './settings.js';
import { resultMetrics, trainedModelConfig } from './trained-config.js';

export { resultMetrics, trainedModelConfig } from './trained-config.js';

/**
 * The config.json of a model trained on `data` with `settings` (see trainedModelConfig), with the data's
 * source recorded as a `--data` spec whose path is made absolute, so it is found from any folder.
 */
export function modelConfigFor(
  data: DatasetSplits, settings: TrainSettings, bestEpoch: number, metrics: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): ModelConfig {
  return trainedModelConfig({ ...data, source: absoluteSource(data.source) }, settings, bestEpoch, metrics, extra);
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
