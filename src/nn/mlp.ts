import type { Activation, Kernels } from '../core/kernels.js';
import { modelSpecFromMlp, type ModelSpec } from '../io/model-spec.js';
import { InputShapeError } from './errors.js';
import { Sequential } from './sequential.js';

export type { Param } from './layer.js';

/**
 * A multi-layer perceptron as people describe it: hidden sizes and one activation. It is one case of
 * a Sequential: Linear → act → … → Linear, so its tensors are `layers.0.weight`, `layers.2.weight`, …
 */
export interface MlpSpec {
  /** Input nodes: the image's height × width (28 × 28 → 784). */
  inputs: number;
  /** Nodes of each hidden layer, in order; empty for a linear (softmax regression) model. */
  hidden: number[];
  /** Output nodes: the class count (digits → 10). */
  classes: number;
  activation: Activation;
}

export const ACTIVATIONS: readonly Activation[] = ['relu', 'sigmoid', 'tanh'];

/** Throws a clear error when a spec cannot describe a network. */
export function validateSpec(spec: MlpSpec): void {
  const positiveInt = (v: number) => Number.isInteger(v) && v > 0;
  if (!positiveInt(spec.inputs)) throw new InputShapeError(`input size must be a positive integer, got ${spec.inputs}`);
  if (!positiveInt(spec.classes) || spec.classes < 2) throw new InputShapeError(`class count must be an integer ≥ 2, got ${spec.classes}`);
  for (const nodes of spec.hidden) {
    if (!positiveInt(nodes)) throw new InputShapeError(`hidden layer sizes must be positive integers, got ${spec.hidden.join(',')}`);
  }
  if (![...ACTIVATIONS, 'identity'].includes(spec.activation)) {
    throw new InputShapeError(`unknown activation '${spec.activation}': use one of ${ACTIVATIONS.join(', ')}`);
  }
}

/** Number of weights and biases of an MLP with this spec. */
export function parameterCount(spec: MlpSpec): number {
  const sizes = [spec.inputs, ...spec.hidden, spec.classes];
  let count = 0;
  for (let i = 0; i + 1 < sizes.length; i++) count += sizes[i + 1] * sizes[i] + sizes[i + 1];
  return count;
}

/** The model spec of an MLP (its inputs taken as one-channel images of 1 × inputs). */
export function mlpModelSpec(spec: MlpSpec): ModelSpec {
  validateSpec(spec);
  return modelSpecFromMlp({ inputShape: [1, spec.inputs], hidden: spec.hidden, activation: spec.activation, classes: spec.classes });
}

/** A Sequential built from an MlpSpec. */
export class Mlp extends Sequential {
  constructor(
    kernels: Kernels,
    readonly mlp: MlpSpec,
    seed = 0,
  ) {
    super(kernels, mlpModelSpec(mlp), seed);
  }

  /** A new MLP with PyTorch's default initialization drawn from `seed`. */
  static override create(kernels: Kernels, spec: MlpSpec | ModelSpec, seed: number): Sequential {
    return Sequential.create(kernels, 'inputs' in spec ? mlpModelSpec(spec) : spec, seed);
  }
}
