/**
 * What every optimizer shares: the Param it updates, the explicit state it saves and restores, option
 * metadata and validation, and a base class that owns the step counter and the state buffers.
 *
 * State is explicit (as in optax): step count, learning rate, hyperparameters and named Float32Array
 * buffers (PyTorch's names: `layers.0.weight.exp_avg`), so a checkpoint resumes a run exactly.
 * Buffers are allocated once, at construction, from the kernels; a step allocates nothing.
 */
import type { Kernels } from '../core/kernels.js';

export type OptimizerName = 'sgd' | 'adam' | 'adamw' | 'adagrad' | 'rmsprop';

/** A parameter tensor and its gradient, flat, both allocated from the same Kernels. */
export interface Param {
  name: string;
  value: Float32Array;
  grad: Float32Array;
}

export type OptionValue = number | boolean;

/** Everything needed to continue a run exactly. Plain data apart from the Float32Array buffers. */
export interface OptimizerState {
  optimizer: OptimizerName;
  /** Steps taken so far (PyTorch's `state['step']`). */
  step: number;
  lr: number;
  /** The hyperparameters other than lr, as resolved at construction (camelCase names). */
  options: Record<string, OptionValue>;
  /** Copies of the state buffers, keyed `<param name>.<buffer>` (e.g. `layers.0.bias.momentum_buffer`). */
  buffers: Record<string, Float32Array>;
  /**
   * The current value of the option a schedule moves (Optimizer.scheduledMomentum), when the optimizer
   * has one; `options` keeps the value it was made with.
   */
  scheduledMomentum?: number;
}

export interface Optimizer {
  readonly kind: OptimizerName;
  /** Mutable so that a learning-rate schedule can set it between steps. */
  lr: number;
  /**
   * The option a schedule may move with the lr, as PyTorch's OneCycleLR does: 'momentum' (SGD,
   * RMSprop), 'beta1' (Adam, AdamW), or null (Adagrad has none).
   */
  readonly scheduledMomentum: 'momentum' | 'beta1' | null;
  /** Sets that option for the following steps; like lr, the state carries its current value. */
  setScheduledMomentum(value: number): void;
  readonly stepCount: number;
  readonly params: readonly Param[];
  /** Updates every parameter in place from its current gradient. */
  step(): void;
  state(): OptimizerState;
  /** Restores a state produced by `state()` of an optimizer of the same kind, options and params. */
  loadState(state: OptimizerState): void;
}

/** An option that is unknown, of the wrong type or out of its range. */
export class OptimizerOptionError extends Error {
  constructor(readonly optimizer: OptimizerName, readonly option: string, message: string) {
    super(`${optimizer}: ${message}`);
    this.name = 'OptimizerOptionError';
  }
}

/** A saved state that does not fit this optimizer (other kind, options, parameters or buffer sizes). */
export class OptimizerStateError extends Error {
  constructor(readonly optimizer: OptimizerName, message: string) {
    super(`${optimizer}: cannot load state: ${message}`);
    this.name = 'OptimizerStateError';
  }
}

/** Describes one option, for validation and so that faces (CLI, web) can list the options. */
export interface OptionSpec {
  /** The key in an options object (camelCase). */
  readonly name: string;
  /** PyTorch's keyword for the same option (`betas[0]` for beta1). */
  readonly torchName: string;
  readonly type: 'number' | 'boolean';
  /** PyTorch's default; undefined when PyTorch requires the option (SGD's lr). */
  readonly default: OptionValue | undefined;
  /** What a face should offer when the option is required and the user gave none. */
  readonly suggested?: OptionValue;
  /** Inclusive lower bound of a number. */
  readonly min?: number;
  /** Upper bound, inclusive unless maxExclusive. */
  readonly max?: number;
  readonly maxExclusive?: boolean;
  readonly description: string;
}

/** The accepted range in interval notation, e.g. "[0, 1)" or "[0, ∞)". */
export function describeRange(spec: OptionSpec): string {
  if (spec.type === 'boolean') return 'true or false';
  const low = spec.min === undefined ? '(-∞' : `[${spec.min}`;
  const high = spec.max === undefined ? '∞)' : `${spec.max}${spec.maxExclusive ? ')' : ']'}`;
  return `${low}, ${high}`;
}

function checkNumber(optimizer: OptimizerName, spec: OptionSpec, value: unknown): void {
  const inRange = typeof value === 'number' && Number.isFinite(value)
    && (spec.min === undefined || value >= spec.min)
    && (spec.max === undefined || (spec.maxExclusive ? value < spec.max : value <= spec.max));
  if (!inRange) {
    throw new OptimizerOptionError(optimizer, spec.name,
      `option '${spec.name}' must be a number in ${describeRange(spec)}, got ${String(value)}`);
  }
}

/**
 * Checks `options` against `specs` and fills in the defaults. Unknown names are errors (a misspelt
 * `weigthDecay` must not silently train without weight decay).
 */
export function resolveOptions(
  optimizer: OptimizerName, specs: readonly OptionSpec[], options: object,
): Record<string, OptionValue> {
  const given = options as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (given[key] !== undefined && !specs.some((spec) => spec.name === key)) {
      throw new OptimizerOptionError(optimizer, key,
        `unknown option '${key}'; the options are ${specs.map((spec) => spec.name).join(', ')}`);
    }
  }
  const resolved: Record<string, OptionValue> = {};
  for (const spec of specs) {
    const value = given[spec.name] ?? spec.default;
    if (value === undefined) {
      throw new OptimizerOptionError(optimizer, spec.name,
        `option '${spec.name}' is required (a number in ${describeRange(spec)})`);
    }
    if (spec.type === 'boolean') {
      if (typeof value !== 'boolean') {
        throw new OptimizerOptionError(optimizer, spec.name,
          `option '${spec.name}' must be true or false, got ${String(value)}`);
      }
    } else {
      checkNumber(optimizer, spec, value);
    }
    resolved[spec.name] = value as OptionValue;
  }
  return resolved;
}

/** The step counter, learning rate, parameter checks and state buffers common to all optimizers. */
export abstract class BaseOptimizer implements Optimizer {
  abstract readonly kind: OptimizerName;
  readonly params: readonly Param[];
  protected readonly kernels: Kernels;
  /** Passed to a kernel in place of a buffer the chosen options do not use (the kernel ignores it). */
  protected readonly unused: Float32Array;
  private learningRate: number;
  private steps = 0;
  private readonly buffers = new Map<string, Float32Array>();

  protected constructor(kernels: Kernels, params: readonly Param[], lr: number) {
    this.kernels = kernels;
    this.params = [...params];
    const names = new Set<string>();
    for (const param of params) {
      if (names.has(param.name)) {
        throw new Error(`optimizer: two parameters are named '${param.name}'; names key the saved state, so they must be unique`);
      }
      names.add(param.name);
      if (param.grad.length !== param.value.length) {
        throw new Error(`optimizer: parameter '${param.name}' has ${param.value.length} values but ${param.grad.length} gradients`);
      }
    }
    this.learningRate = lr;
    this.unused = kernels.allocF32(1);
  }

  get lr(): number {
    return this.learningRate;
  }

  set lr(value: number) {
    if (!Number.isFinite(value) || value < 0) {
      throw new OptimizerOptionError(this.kind, 'lr', `option 'lr' must be a number in [0, ∞), got ${value}`);
    }
    this.learningRate = value;
  }

  get stepCount(): number {
    return this.steps;
  }

  readonly scheduledMomentum: 'momentum' | 'beta1' | null = null;
  /**
   * The value of scheduledMomentum the steps use: the option as given at construction until a
   * schedule sets it (subclasses with such an option set it in their constructor).
   */
  protected momentumNow = 0;

  setScheduledMomentum(value: number): void {
    const problem = this.scheduledMomentumProblem(value);
    if (problem) throw new OptimizerOptionError(this.kind, this.scheduledMomentum ?? 'momentum', problem);
    this.momentumNow = value;
  }

  /** Why `value` cannot be the scheduled momentum, or null; the default: there is no such option. */
  protected scheduledMomentumProblem(value: number): string | null {
    void value;
    return `${this.kind} has no momentum for a schedule to set`;
  }

  step(): void {
    this.steps += 1;
    this.update(this.steps);
  }

  /** Applies step number `t` (1 on the first step) to every parameter. */
  protected abstract update(t: number): void;

  /** The resolved hyperparameters other than lr, saved with the state and checked on load. */
  protected abstract hyperparameters(): Record<string, OptionValue>;

  /** A zero-filled (or `fill`-filled) state buffer for `param`, registered under `<name>.<buffer>`. */
  protected allocateBuffer(param: Param, buffer: string, fill = 0): Float32Array {
    const array = this.kernels.allocF32(param.value.length);
    if (fill !== 0) array.fill(fill);
    this.buffers.set(`${param.name}.${buffer}`, array);
    return array;
  }

  state(): OptimizerState {
    const buffers: Record<string, Float32Array> = {};
    // Copies, so that later steps do not change a state already handed out.
    for (const [name, array] of this.buffers) buffers[name] = Float32Array.from(array);
    const state: OptimizerState = { optimizer: this.kind, step: this.steps, lr: this.learningRate, options: this.hyperparameters(), buffers };
    if (this.scheduledMomentum !== null) state.scheduledMomentum = this.momentumNow;
    return state;
  }

  loadState(state: OptimizerState): void {
    // Everything is checked before anything is changed, so a rejected state leaves the optimizer intact.
    if (state.optimizer !== this.kind) {
      throw new OptimizerStateError(this.kind, `it was saved by ${state.optimizer}`);
    }
    if (!Number.isInteger(state.step) || state.step < 0) {
      throw new OptimizerStateError(this.kind, `step must be a non-negative integer, got ${state.step}`);
    }
    if (!Number.isFinite(state.lr) || state.lr < 0) {
      throw new OptimizerStateError(this.kind, `lr must be a number in [0, ∞), got ${state.lr}`);
    }
    const options = this.hyperparameters();
    const scheduled = this.scheduledMomentum;
    // a state without it (saved before schedules could set it) means the value the optimizer was made with
    const momentum = scheduled === null ? undefined : state.scheduledMomentum ?? (options[scheduled] as number);
    if (scheduled === null && state.scheduledMomentum !== undefined) {
      throw new OptimizerStateError(this.kind, `it has a scheduled momentum (${state.scheduledMomentum}) but ${this.kind} has none`);
    }
    if (momentum !== undefined) {
      const problem = this.scheduledMomentumProblem(momentum);
      if (problem) throw new OptimizerStateError(this.kind, `scheduled ${scheduled}: ${problem}`);
    }
    for (const name of new Set([...Object.keys(options), ...Object.keys(state.options)])) {
      if (options[name] !== state.options[name]) {
        throw new OptimizerStateError(this.kind,
          `it was saved with ${name} = ${String(state.options[name])} but this optimizer has ${String(options[name])}; ` +
          'construct the optimizer with the options of the saved run');
      }
    }
    for (const name of Object.keys(state.buffers)) {
      if (!this.buffers.has(name)) {
        throw new OptimizerStateError(this.kind, `it has a buffer '${name}' that this optimizer does not (other parameters?)`);
      }
    }
    for (const [name, array] of this.buffers) {
      const saved = state.buffers[name];
      if (saved === undefined) throw new OptimizerStateError(this.kind, `buffer '${name}' is missing`);
      if (saved.length !== array.length) {
        throw new OptimizerStateError(this.kind, `buffer '${name}' has ${saved.length} values, expected ${array.length}`);
      }
    }
    for (const [name, array] of this.buffers) array.set(state.buffers[name]);
    this.steps = state.step;
    this.learningRate = state.lr;
    if (momentum !== undefined) this.momentumNow = momentum;
  }
}
