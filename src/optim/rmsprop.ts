/**
 * RMSprop (Hinton, Neural Networks for Machine Learning, lecture 6e, 2012), centered as in Graves,
 * "Generating Sequences With Recurrent Neural Networks", 2013: torch.optim.RMSprop.
 *
 *   g ← ∇θ + λθ
 *   v ← αv + (1 − α)g²
 *   centered: ḡ ← αḡ + (1 − α)g, d ← √(v − ḡ²) + ε,  else d ← √v + ε
 *   μ > 0: b ← μb + g/d, θ ← θ − γb,  else θ ← θ − γg/d
 */
import type { Kernels } from '../core/kernels.js';
import { BaseOptimizer, resolveOptions, type OptionSpec, type OptionValue, type Param } from './optimizer.js';

export interface RmspropOptions {
  lr?: number;
  alpha?: number;
  eps?: number;
  weightDecay?: number;
  momentum?: number;
  centered?: boolean;
}

export const RMSPROP_OPTION_SPECS: readonly OptionSpec[] = [
  { name: 'lr', torchName: 'lr', type: 'number', default: 1e-2, min: 0, description: 'learning rate' },
  { name: 'alpha', torchName: 'alpha', type: 'number', default: 0.99, min: 0, max: 1,
    description: 'decay rate of the running average of the squared gradient' },
  { name: 'eps', torchName: 'eps', type: 'number', default: 1e-8, min: 0,
    description: 'added to the denominator after the square root, for numerical stability' },
  { name: 'weightDecay', torchName: 'weight_decay', type: 'number', default: 0, min: 0,
    description: 'L2 penalty added to the gradient (λθ)' },
  { name: 'momentum', torchName: 'momentum', type: 'number', default: 0, min: 0,
    description: 'momentum factor; 0 turns momentum off' },
  { name: 'centered', torchName: 'centered', type: 'boolean', default: false,
    description: 'divide by an estimate of the variance of the gradient instead of its second moment' },
];

export class RMSprop extends BaseOptimizer {
  readonly kind = 'rmsprop' as const;
  readonly alpha: number;
  readonly eps: number;
  readonly weightDecay: number;
  override readonly scheduledMomentum = 'momentum' as const;
  /** μ as given; the steps use it until a schedule sets another (setScheduledMomentum). */
  readonly momentum: number;
  readonly centered: boolean;
  private readonly squareAvg: Float32Array[];
  private readonly gradAvg: Float32Array[];
  private readonly momentumBuffers: Float32Array[];

  constructor(kernels: Kernels, params: readonly Param[], options: RmspropOptions = {}) {
    const resolved = resolveOptions('rmsprop', RMSPROP_OPTION_SPECS, options);
    super(kernels, params, resolved.lr as number);
    this.alpha = resolved.alpha as number;
    this.eps = resolved.eps as number;
    this.weightDecay = resolved.weightDecay as number;
    this.momentum = resolved.momentum as number;
    this.momentumNow = this.momentum;
    this.centered = resolved.centered as boolean;
    this.squareAvg = this.params.map((param) => this.allocateBuffer(param, 'square_avg'));
    this.gradAvg = this.params.map((param) => this.centered ? this.allocateBuffer(param, 'grad_avg') : this.unused);
    this.momentumBuffers = this.params.map((param) =>
      this.momentum > 0 ? this.allocateBuffer(param, 'momentum_buffer') : this.unused);
  }

  protected override update(): void {
    this.params.forEach((param, i) => {
      this.kernels.rmspropUpdate(param.value, param.grad, this.squareAvg[i], this.gradAvg[i], this.momentumBuffers[i],
        param.value.length, this.lr, this.alpha, this.eps, this.weightDecay, this.momentumNow, this.centered);
    });
  }

  protected override scheduledMomentumProblem(value: number): string | null {
    if (!(typeof value === 'number' && Number.isFinite(value) && value >= 0)) return `momentum must be a number in [0, ∞), got ${String(value)}`;
    if (value !== 0 && this.momentum === 0) {
      return 'it was made with momentum 0 and so has no momentum buffers; make it with a momentum > 0 for a schedule to vary ' +
        '(PyTorch\'s OneCycleLR starts at maxMomentum, 0.95)';
    }
    return null;
  }

  protected override hyperparameters(): Record<string, OptionValue> {
    return { alpha: this.alpha, eps: this.eps, weightDecay: this.weightDecay, momentum: this.momentum, centered: this.centered };
  }
}
