/**
 * Stochastic gradient descent with momentum and Nesterov momentum (torch.optim.SGD); Nesterov as
 * formulated in Sutskever et al., "On the importance of initialization and momentum in deep learning", 2013.
 *
 *   g ← ∇θ + λθ                                       (weight decay λ)
 *   μ ≠ 0:  b ← g on the first step, else b ← μb + (1 − τ)g       (momentum μ, dampening τ)
 *           g ← nesterov ? g + μb : b
 *   θ ← θ − γg                                         (learning rate γ)
 */
import type { Kernels } from '../core/kernels.js';
import {
  BaseOptimizer, OptimizerOptionError, resolveOptions,
  type OptionSpec, type OptionValue, type Param,
} from './optimizer.js';

export interface SgdOptions {
  /** Required, as in PyTorch. */
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

export const SGD_OPTION_SPECS: readonly OptionSpec[] = [
  { name: 'lr', torchName: 'lr', type: 'number', default: undefined, suggested: 0.01, min: 0,
    description: 'learning rate (required by PyTorch; 0.01 is our suggestion)' },
  { name: 'momentum', torchName: 'momentum', type: 'number', default: 0, min: 0,
    description: 'momentum factor; 0 turns momentum off' },
  { name: 'dampening', torchName: 'dampening', type: 'number', default: 0, min: 0, max: 1,
    description: 'fraction of the gradient left out of the momentum buffer' },
  { name: 'weightDecay', torchName: 'weight_decay', type: 'number', default: 0, min: 0,
    description: 'L2 penalty added to the gradient (λθ)' },
  { name: 'nesterov', torchName: 'nesterov', type: 'boolean', default: false,
    description: 'Nesterov momentum (needs momentum > 0 and dampening 0)' },
];

export class SGD extends BaseOptimizer {
  readonly kind = 'sgd' as const;
  override readonly scheduledMomentum = 'momentum' as const;
  /** μ as given; the steps use it until a schedule sets another (setScheduledMomentum). */
  readonly momentum: number;
  readonly dampening: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;
  private readonly momentumBuffers: Float32Array[];

  constructor(kernels: Kernels, params: readonly Param[], options: SgdOptions) {
    const resolved = resolveOptions('sgd', SGD_OPTION_SPECS, options);
    if (resolved.nesterov === true && ((resolved.momentum as number) <= 0 || resolved.dampening !== 0)) {
      throw new OptimizerOptionError('sgd', 'nesterov',
        `nesterov needs momentum > 0 and dampening 0, got momentum ${String(resolved.momentum)} and dampening ${String(resolved.dampening)}`);
    }
    super(kernels, params, resolved.lr as number);
    this.momentum = resolved.momentum as number;
    this.momentumNow = this.momentum;
    this.dampening = resolved.dampening as number;
    this.weightDecay = resolved.weightDecay as number;
    this.nesterov = resolved.nesterov as boolean;
    this.momentumBuffers = this.params.map((param) =>
      this.momentum !== 0 ? this.allocateBuffer(param, 'momentum_buffer') : this.unused);
  }

  protected override update(t: number): void {
    this.params.forEach((param, i) => {
      // The buffer starts as a copy of the first gradient (PyTorch), not as zero.
      this.kernels.sgdUpdate(param.value, param.grad, this.momentumBuffers[i], param.value.length,
        this.lr, this.momentumNow, this.dampening, this.weightDecay, this.nesterov, t === 1);
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
    return { momentum: this.momentum, dampening: this.dampening, weightDecay: this.weightDecay, nesterov: this.nesterov };
  }
}
