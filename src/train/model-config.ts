import type { DatasetSplits } from '../data/dataset.js';
import type { ModelConfig } from '../io/model-config.js';
import type { TrainSettings } from './trainer.js';

/**
 * The config.json of a model trained on `data` with `settings`: the architecture, the data's
 * normalization and class names (when it has names), the settings (and any `extra` training facts),
 * and the final `metrics`.
 */
export function modelConfigFor(
  data: DatasetSplits, settings: TrainSettings, bestEpoch: number, metrics: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): ModelConfig {
  const train = data.train;
  return {
    format: 'digitlab-mlp',
    version: 1,
    inputShape: [train.height, train.width],
    classes: train.classes,
    hidden: settings.hidden,
    activation: settings.activation,
    normalization: { pixelMax: train.pixelMax },
    ...(train.classNames ? { labels: [...train.classNames] } : {}),
    training: { data: data.source, ...extra, ...settings, best_epoch: bestEpoch },
    metrics,
  };
}
