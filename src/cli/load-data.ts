import { dataWarnings } from '../data/checks.js';
import type { DatasetSplits } from '../data/dataset.js';
import { loadData, type LoadDataOptions } from '../data/source.js';
import type { Output } from './output.js';

/** Loads a `--data` source for a command and prints any warning about its labels on stderr. */
export function loadDataChecked(out: Output, spec: string, options: LoadDataOptions = {}): DatasetSplits {
  const splits = loadData(spec, options);
  for (const warning of dataWarnings(splits)) out.info(`warning: ${warning.message}`);
  return splits;
}
