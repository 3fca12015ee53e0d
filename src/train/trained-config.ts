/**
 * What a trained model's config.json says of it, built from the run alone (no files: a browser tab
 * makes the same config for the model it trained).
 */
import type { DatasetSplits } from '../data/dataset.js';
import type { ModelConfig } from '../io/model-config.js';
import type { TrainResult } from './trainer.js';
import { modelSpecFor, type TrainSettings } from './settings.js';

/**
 * The config.json of a model trained on `data` with `settings`: the architecture, the data's
 * normalization and class names (when it has names), the settings (and any `extra` training facts),
 * and the final `metrics`. The training data is recorded as its source (a `--data` spec) with its
 * validation size, so `eval` and the server can score the model on the data it learned.
 */
export function trainedModelConfig(
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
    training: { data: data.source, validation: data.validation.count, ...extra, ...settings, best_epoch: bestEpoch },
    metrics,
  };
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
