/** The optimizers (PyTorch's update rules and defaults), their option metadata, and lr schedules. */
import type { Kernels } from '../core/kernels.js';
import { Adagrad, ADAGRAD_OPTION_SPECS, type AdagradOptions } from './adagrad.js';
import { Adam, AdamW, ADAM_OPTION_SPECS, ADAMW_OPTION_SPECS, type AdamOptions } from './adam.js';
import type { Optimizer, OptimizerName, OptionSpec, OptionValue, Param } from './optimizer.js';
import { RMSprop, RMSPROP_OPTION_SPECS, type RmspropOptions } from './rmsprop.js';
import { SGD, SGD_OPTION_SPECS, type SgdOptions } from './sgd.js';

export * from './optimizer.js';
export * from './sgd.js';
export * from './adam.js';
export * from './adagrad.js';
export * from './rmsprop.js';
export * from './schedules.js';

export interface OptimizerOptionsByName {
  sgd: SgdOptions;
  adam: AdamOptions;
  adamw: AdamOptions;
  adagrad: AdagradOptions;
  rmsprop: RmspropOptions;
}

/** Options as a config file or the command line gives them; checked against the specs when used. */
export type LooseOptimizerOptions = Readonly<Record<string, OptionValue | undefined>>;

export const OPTIMIZER_NAMES: readonly OptimizerName[] = ['sgd', 'adam', 'adamw', 'adagrad', 'rmsprop'];

/** The options of each optimizer: names (ours and PyTorch's), defaults, ranges and descriptions. */
export const OPTIMIZER_OPTION_SPECS: Readonly<Record<OptimizerName, readonly OptionSpec[]>> = {
  sgd: SGD_OPTION_SPECS,
  adam: ADAM_OPTION_SPECS,
  adamw: ADAMW_OPTION_SPECS,
  adagrad: ADAGRAD_OPTION_SPECS,
  rmsprop: RMSPROP_OPTION_SPECS,
};

export function isOptimizerName(name: string): name is OptimizerName {
  return (OPTIMIZER_NAMES as readonly string[]).includes(name);
}

/**
 * Builds the named optimizer. Options are validated at run time whatever their static type (unknown
 * names, wrong types and out-of-range values throw OptimizerOptionError), so loosely typed options
 * from a config file are accepted too.
 */
export function createOptimizer<N extends OptimizerName>(
  name: N, kernels: Kernels, params: readonly Param[], options: OptimizerOptionsByName[N] | LooseOptimizerOptions,
): Optimizer {
  switch (name as OptimizerName) {
    case 'sgd': return new SGD(kernels, params, options as SgdOptions);
    case 'adam': return new Adam(kernels, params, options as AdamOptions);
    case 'adamw': return new AdamW(kernels, params, options as AdamOptions);
    case 'adagrad': return new Adagrad(kernels, params, options as AdagradOptions);
    case 'rmsprop': return new RMSprop(kernels, params, options as RmspropOptions);
    default:
      throw new Error(`unknown optimizer '${String(name)}'; the optimizers are ${OPTIMIZER_NAMES.join(', ')}`);
  }
}

/**
 * The learning rate a run uses when none is given, the same in every face: PyTorch's default for the
 * optimizer (Adam and AdamW 0.001, Adagrad and RMSprop 0.01), and 0.01 for SGD, which has none there.
 */
export function defaultLr(optimizer: OptimizerName): number {
  const spec = OPTIMIZER_OPTION_SPECS[optimizer].find((s) => s.name === 'lr');
  const value = spec?.default ?? spec?.suggested ?? 0.01;
  return typeof value === 'number' ? value : 0.01;
}

