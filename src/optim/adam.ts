/**
 * Adam (Kingma & Ba, "Adam: A Method for Stochastic Optimization", 2014), its AMSGrad variant (Reddi et al.,
 * "On the Convergence of Adam and Beyond", 2018) and AdamW (Loshchilov & Hutter, "Decoupled Weight Decay
 * Regularization", 2017): torch.optim.Adam and torch.optim.AdamW.
 *
 *   Adam: g ← ∇θ + λθ          AdamW: θ ← θ(1 − γλ), g ← ∇θ
 *   m ← β1·m + (1 − β1)g,  v ← β2·v + (1 − β2)g²
 *   m̂ ← m / (1 − β1^t),  v̂ ← (amsgrad ? v_max ← max(v_max, v) : v) / (1 − β2^t)
 *   θ ← θ − γ m̂ / (√v̂ + ε)
 */
import type { Kernels } from '../core/kernels.js';
import { BaseOptimizer, resolveOptions, type OptionSpec, type OptionValue, type Param } from './optimizer.js';

export interface AdamOptions {
  lr?: number;
  /** PyTorch's betas[0]. */
  beta1?: number;
  /** PyTorch's betas[1]. */
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  amsgrad?: boolean;
}

function adamSpecs(weightDecay: number, decoupled: boolean): readonly OptionSpec[] {
  return [
    { name: 'lr', torchName: 'lr', type: 'number', default: 1e-3, min: 0, description: 'learning rate' },
    { name: 'beta1', torchName: 'betas[0]', type: 'number', default: 0.9, min: 0, max: 1, maxExclusive: true,
      description: 'decay rate of the running average of the gradient' },
    { name: 'beta2', torchName: 'betas[1]', type: 'number', default: 0.999, min: 0, max: 1, maxExclusive: true,
      description: 'decay rate of the running average of the squared gradient' },
    { name: 'eps', torchName: 'eps', type: 'number', default: 1e-8, min: 0,
      description: 'added to the denominator after the square root, for numerical stability' },
    { name: 'weightDecay', torchName: 'weight_decay', type: 'number', default: weightDecay, min: 0,
      description: decoupled ? 'decoupled weight decay: θ shrinks by γλθ each step' : 'L2 penalty added to the gradient (λθ)' },
    { name: 'amsgrad', torchName: 'amsgrad', type: 'boolean', default: false,
      description: 'use the maximum of the past second-moment averages (AMSGrad)' },
  ];
}

export const ADAM_OPTION_SPECS = adamSpecs(0, false);
export const ADAMW_OPTION_SPECS = adamSpecs(1e-2, true);

export class Adam extends BaseOptimizer {
  readonly kind: 'adam' | 'adamw';
  override readonly scheduledMomentum = 'beta1' as const;
  /** β1 as given; the steps use it until a schedule sets another (setScheduledMomentum), as OneCycleLR sets betas[0]. */
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly amsgrad: boolean;
  /** AdamW's weight decay, applied to the parameter instead of the gradient. */
  readonly decoupled: boolean;
  private readonly expAvg: Float32Array[];
  private readonly expAvgSq: Float32Array[];
  private readonly maxExpAvgSq: Float32Array[];

  constructor(kernels: Kernels, params: readonly Param[], options: AdamOptions = {}, decoupled = false) {
    const kind = decoupled ? 'adamw' : 'adam';
    const resolved = resolveOptions(kind, decoupled ? ADAMW_OPTION_SPECS : ADAM_OPTION_SPECS, options);
    super(kernels, params, resolved.lr as number);
    this.kind = kind;
    this.decoupled = decoupled;
    this.beta1 = resolved.beta1 as number;
    this.momentumNow = this.beta1;
    this.beta2 = resolved.beta2 as number;
    this.eps = resolved.eps as number;
    this.weightDecay = resolved.weightDecay as number;
    this.amsgrad = resolved.amsgrad as boolean;
    this.expAvg = this.params.map((param) => this.allocateBuffer(param, 'exp_avg'));
    this.expAvgSq = this.params.map((param) => this.allocateBuffer(param, 'exp_avg_sq'));
    this.maxExpAvgSq = this.params.map((param) =>
      this.amsgrad ? this.allocateBuffer(param, 'max_exp_avg_sq') : this.unused);
  }

  protected override scheduledMomentumProblem(value: number): string | null {
    return typeof value === 'number' && value >= 0 && value < 1 ? null : `beta1 must be a number in [0, 1), got ${String(value)}`;
  }

  protected override update(t: number): void {
    // Bias corrections in float64, folded into two scalars as PyTorch does, with the β1 in force now
    // (PyTorch's 1 − β1^t also takes the group's current betas[0] when a schedule changes it).
    const beta1 = this.momentumNow;
    const stepSize = this.lr / (1 - beta1 ** t);
    const biasCorrection2Sqrt = Math.sqrt(1 - this.beta2 ** t);
    this.params.forEach((param, i) => {
      this.kernels.adamUpdate(param.value, param.grad, this.expAvg[i], this.expAvgSq[i], this.maxExpAvgSq[i],
        param.value.length, this.lr, beta1, this.beta2, this.eps, this.weightDecay,
        this.decoupled, this.amsgrad, stepSize, biasCorrection2Sqrt);
    });
  }

  protected override hyperparameters(): Record<string, OptionValue> {
    return { beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: this.weightDecay, amsgrad: this.amsgrad };
  }
}

/** Adam with decoupled weight decay, default weight decay 1e-2 (torch.optim.AdamW). */
export class AdamW extends Adam {
  constructor(kernels: Kernels, params: readonly Param[], options: AdamOptions = {}) {
    super(kernels, params, options, true);
  }
}
