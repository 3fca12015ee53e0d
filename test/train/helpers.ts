import { sliceDataset, type DatasetSplits } from '../../src/data/dataset.js';
import { loadData } from '../../src/data/source.js';
import { DEFAULT_SETTINGS, type TrainSettings } from '../../src/train/trainer.js';

/** A small slice of the bundled MNIST, so training tests take a second. */
export function smallMnist(train = 2000, validation = 500, test = 500): DatasetSplits {
  const full = loadData('mnist');
  return {
    source: 'mnist-small',
    train: sliceDataset(full.train, 0, train),
    validation: sliceDataset(full.validation, 0, validation),
    test: sliceDataset(full.test, 0, test),
  };
}

export function settings(overrides: Partial<TrainSettings> = {}): TrainSettings {
  return { ...DEFAULT_SETTINGS, hidden: [32], epochs: 3, batchSize: 20, seed: 5, ...overrides };
}
