/**
 * torch.nn.ReLU, Tanh and Sigmoid where no linear or conv layer comes right before them (those fuse
 * the activation into their own pass). Element-wise, so the backward works in place:
 *
 *   x, y [rows, ...shape]   y = act(x)   dx = dy ⊙ act'(y)   (every act' here is a function of y)
 */
import type { Activation, Kernels } from '../../core/kernels.js';
import type { NamedTensor } from '../../io/model-config.js';
import type { LayerInfo } from '../../io/model-spec.js';
import { NoForwardPassError } from '../errors.js';
import { sizeOf, type Layer, type Param, type StateBuffer } from '../layer.js';

export class ActivationLayer implements Layer {
  readonly params: readonly Param[] = [];
  readonly buffers: readonly StateBuffer[] = [];
  readonly gradientInPlace = true;
  readonly inputSize: number;
  readonly outputSize: number;
  private output: Float32Array = new Float32Array(0);
  private capacity = 0;
  private forwarded = false;

  constructor(
    private readonly kernels: Kernels,
    readonly info: LayerInfo,
    readonly activation: Activation,
  ) {
    this.inputSize = this.outputSize = sizeOf(info.input);
  }

  get index(): number {
    return this.info.index;
  }

  initialize(): void {}

  reserve(rows: number): void {
    if (rows <= this.capacity) return;
    this.output = this.kernels.allocF32(rows * this.outputSize);
    this.capacity = rows;
    this.forwarded = false;
  }

  forward(x: Float32Array, rows: number): Float32Array {
    this.reserve(rows);
    this.kernels.activationForward(this.activation, x, this.output, rows * this.outputSize);
    this.forwarded = true;
    return this.output;
  }

  backward(_x: Float32Array | null, y: Float32Array, dy: Float32Array, dx: Float32Array | null, rows: number): void {
    if (!this.forwarded) throw new NoForwardPassError(`${this.activation} layers.${this.index}`);
    if (!dx) return;
    const count = rows * this.outputSize;
    if (dx !== dy) dx.set(dy.subarray(0, count));
    this.kernels.activationBackward(this.activation, y, dx, count);
  }

  toTensors(): NamedTensor[] {
    return [];
  }

  loadTensors(): void {}
}
