/**
 * Adagrad (Duchi, Hazan & Singer, "Adaptive Subgradient Methods for Online Learning and Stochastic
 * Optimization", 2011): torch.optim.Adagrad.
 *
 *   γ̃ ← γ / (1 + (t − 1)η)                           (learning-rate decay η)
 *   g ← ∇θ + λθ
 *   s ← s + g²                                        (s starts at initial_accumulator_value)
 *   θ ← θ − γ̃ g / (√s + ε)
 */
import type { Kernels } from '../core/kernels.js';
import { BaseOptimizer, resolveOptions, type OptionSpec, type OptionValue, type Param } from './optimizer.js';

export interface AdagradOptions {
  lr?: number;
  lrDecay?: number;
  weightDecay?: number;
  initialAccumulatorValue?: number;
  eps?: number;
}

export const ADAGRAD_OPTION_SPECS: readonly OptionSpec[] = [
  { name: 'lr', torchName: 'lr', type: 'number', default: 1e-2, min: 0, description: 'learning rate' },
  { name: 'lrDecay', torchName: 'lr_decay', type: 'number', default: 0, min: 0,
    description: 'the learning rate at step t is lr / (1 + (t − 1)·lrDecay)' },
  { name: 'weightDecay', torchName: 'weight_decay', type: 'number', default: 0, min: 0,
    description: 'L2 penalty added to the gradient (λθ)' },
  { name: 'initialAccumulatorValue', torchName: 'initial_accumulator_value', type: 'number', default: 0, min: 0,
    description: 'starting value of the sum of squared gradients' },
  { name: 'eps', torchName: 'eps', type: 'number', default: 1e-10, min: 0,
    description: 'added to the denominator after the square root, for numerical stability' },
];

export class Adagrad extends BaseOptimizer {
  readonly kind = 'adagrad' as const;
  readonly lrDecay: number;
  readonly weightDecay: number;
  readonly initialAccumulatorValue: number;
  readonly eps: number;
  private readonly sums: Float32Array[];

  constructor(kernels: Kernels, params: readonly Param[], options: AdagradOptions = {}) {
    const resolved = resolveOptions('adagrad', ADAGRAD_OPTION_SPECS, options);
    super(kernels, params, resolved.lr as number);
    this.lrDecay = resolved.lrDecay as number;
    this.weightDecay = resolved.weightDecay as number;
    this.initialAccumulatorValue = resolved.initialAccumulatorValue as number;
    this.eps = resolved.eps as number;
    this.sums = this.params.map((param) => this.allocateBuffer(param, 'sum', this.initialAccumulatorValue));
  }

  protected override update(t: number): void {
    const clr = this.lr / (1 + (t - 1) * this.lrDecay);
    this.params.forEach((param, i) => {
      this.kernels.adagradUpdate(param.value, param.grad, this.sums[i], param.value.length, clr, this.weightDecay, this.eps);
    });
  }

  protected override hyperparameters(): Record<string, OptionValue> {
    return {
      lrDecay: this.lrDecay, weightDecay: this.weightDecay,
      initialAccumulatorValue: this.initialAccumulatorValue, eps: this.eps,
    };
  }
}
