/**
 * torch.nn.BatchNorm1d after a linear layer ([F] features) and BatchNorm2d after a conv layer (per
 * channel of [C, H, W]), affine, with running statistics:
 *
 *   x, y [rows, C, S]   (S = H·W, or 1 for flat features)   γ = weight [C]   β = bias [C]
 *   training:   y = γ (x − μ_batch) / √(σ²_batch + ε) + β, and the running statistics move by `momentum`
 *   evaluation: y = γ (x − running_mean) / √(running_var + ε) + β
 *
 * The training forward keeps the batch's μ and 1/√(σ² + ε) for its backward (as PyTorch's save_mean
 * and save_invstd). num_batches_tracked counts training batches, as PyTorch's does (it is only used
 * there when momentum is None, which digitlab's specs do not allow). Formulas: src/core/reference-batchnorm.ts.
 */
import type { Kernels } from '../../core/kernels.js';
import type { BatchnormGeometry } from '../../core/reference-batchnorm.js';
import type { NamedTensor } from '../../io/model-config.js';
import type { LayerInfo } from '../../io/model-spec.js';
import { BatchnormBatchError, NoForwardPassError } from '../errors.js';
import { sizeOf, type Layer, type Param, type StateBuffer, type TensorSource } from '../layer.js';

export class BatchnormLayer implements Layer {
  readonly weight: Float32Array;
  readonly bias: Float32Array;
  readonly runningMean: Float32Array;
  readonly runningVar: Float32Array;
  /** One value: the count of training batches (an int64 in PyTorch's state_dict). */
  readonly batchesTracked = new Float32Array(1);
  readonly params: readonly Param[];
  readonly buffers: readonly StateBuffer[];
  readonly gradientInPlace = false;
  readonly inputSize: number;
  readonly outputSize: number;
  readonly channels: number;
  readonly eps: number;
  readonly momentum: number;
  private readonly weightGrad: Float32Array;
  private readonly biasGrad: Float32Array;
  private readonly mean: Float32Array;
  private readonly invStd: Float32Array;
  private output: Float32Array = new Float32Array(0);
  private capacity = 0;
  private last: 'training' | 'evaluation' | null = null;

  constructor(
    private readonly kernels: Kernels,
    readonly info: LayerInfo,
  ) {
    const spec = info.layer;
    if (spec.type !== 'batchnorm') throw new TypeError(`BatchnormLayer built from a ${spec.type} layer`);
    this.eps = spec.eps;
    this.momentum = spec.momentum;
    const channels = (this.channels = info.input[0]);
    this.inputSize = this.outputSize = sizeOf(info.input);
    const alloc = () => kernels.allocF32(channels);
    this.weight = alloc();
    this.bias = alloc();
    this.weightGrad = alloc();
    this.biasGrad = alloc();
    this.runningMean = alloc();
    this.runningVar = alloc();
    this.mean = alloc();
    this.invStd = alloc();
    this.params = [
      { name: this.name('weight'), shape: [channels], value: this.weight, grad: this.weightGrad },
      { name: this.name('bias'), shape: [channels], value: this.bias, grad: this.biasGrad },
    ];
    this.buffers = [
      { name: this.name('running_mean'), shape: [channels], value: this.runningMean, dtype: 'F32' },
      { name: this.name('running_var'), shape: [channels], value: this.runningVar, dtype: 'F32' },
      { name: this.name('num_batches_tracked'), shape: [], value: this.batchesTracked, dtype: 'I64' },
    ];
    this.initialize();
  }

  get index(): number {
    return this.info.index;
  }

  private name(tensor: string): string {
    return `layers.${this.info.index}.${tensor}`;
  }

  /** γ = 1, β = 0, running mean 0 and variance 1, no batches tracked (PyTorch's reset_parameters). */
  initialize(): void {
    this.weight.fill(1);
    this.bias.fill(0);
    this.runningMean.fill(0);
    this.runningVar.fill(1);
    this.batchesTracked[0] = 0;
  }

  reserve(rows: number): void {
    if (rows <= this.capacity) return;
    this.output = this.kernels.allocF32(rows * this.outputSize);
    this.capacity = rows;
    this.last = null;
  }

  private geometry(rows: number): BatchnormGeometry {
    return { batch: rows, channels: this.channels, spatial: this.inputSize / this.channels };
  }

  forward(x: Float32Array, rows: number, training: boolean): Float32Array {
    this.reserve(rows);
    if (rows === 0) return this.output;
    const g = this.geometry(rows);
    const k = this.kernels;
    if (training) {
      if (g.batch * g.spatial < 2) throw new BatchnormBatchError(this.index, g.batch * g.spatial);
      k.batchnormForwardTraining(g, x, this.weight, this.bias, this.eps, this.momentum, this.runningMean, this.runningVar,
        this.output, this.mean, this.invStd);
      this.batchesTracked[0]++;
      this.last = 'training';
    } else {
      k.batchnormForwardEval(g, x, this.weight, this.bias, this.eps, this.runningMean, this.runningVar, this.output);
      this.last = 'evaluation';
    }
    return this.output;
  }

  backward(x: Float32Array | null, _y: Float32Array, dy: Float32Array, dx: Float32Array | null, rows: number): void {
    if (this.last === null || x === null) throw new NoForwardPassError(`batchnorm layers.${this.index}`);
    if (rows === 0) return;
    const g = this.geometry(rows);
    const out = dx ?? this.output; // the input gradient is computed with the others; without dx it lands in a scratch
    if (this.last === 'training') {
      this.kernels.batchnormBackwardTraining(g, x, dy, this.weight, this.mean, this.invStd, out, this.weightGrad, this.biasGrad);
    } else {
      this.kernels.batchnormBackwardEval(g, x, dy, this.weight, this.eps, this.runningMean, this.runningVar, out,
        this.weightGrad, this.biasGrad);
    }
  }

  toTensors(): NamedTensor[] {
    const copy = (name: string, data: Float32Array, dtype?: 'I64'): NamedTensor =>
      ({ name: this.name(name), shape: name === 'num_batches_tracked' ? [] : [this.channels], data: Float32Array.from(data), ...(dtype ? { dtype } : {}) });
    return [
      copy('weight', this.weight), copy('bias', this.bias), copy('running_mean', this.runningMean),
      copy('running_var', this.runningVar), copy('num_batches_tracked', this.batchesTracked, 'I64'),
    ];
  }

  loadTensors(take: TensorSource): void {
    const c = [this.channels];
    const found = [
      take(this.name('weight'), c), take(this.name('bias'), c), take(this.name('running_mean'), c),
      take(this.name('running_var'), c), take(this.name('num_batches_tracked'), []),
    ];
    [this.weight, this.bias, this.runningMean, this.runningVar, this.batchesTracked].forEach((target, i) => target.set(found[i].data));
  }
}
