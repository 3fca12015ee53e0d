/**
 * torch.nn.Dropout: while training, each value is zeroed with probability p and the rest are scaled
 * by 1 / (1 − p); in evaluation the layer is the identity (its forward returns x itself).
 *
 *   x, y [rows, ...shape]   keep [rows, ...shape] bytes   y = x · keep / (1 − p)   dx = dy · keep / (1 − p)
 *
 * The mask comes from the generator the Sequential hands in (seeded; its state is in the checkpoint),
 * one 32-bit draw per value: src/core/reference-dropout.ts.
 */
import type { Kernels } from '../../core/kernels.js';
import type { Random } from '../../core/random.js';
import { dropoutMask } from '../../core/reference-dropout.js';
import type { NamedTensor } from '../../io/model-config.js';
import type { LayerInfo } from '../../io/model-spec.js';
import { NoForwardPassError } from '../errors.js';
import { sizeOf, type Layer, type Param, type StateBuffer } from '../layer.js';

export class DropoutLayer implements Layer {
  readonly params: readonly Param[] = [];
  readonly buffers: readonly StateBuffer[] = [];
  readonly gradientInPlace = true;
  readonly inputSize: number;
  readonly outputSize: number;
  readonly p: number;
  private output: Float32Array = new Float32Array(0);
  private keep: Uint8Array = new Uint8Array(0);
  private capacity = 0;
  /** Whether the last forward dropped values (training), passed x through (evaluation), or none ran. */
  private last: 'dropped' | 'identity' | null = null;

  constructor(
    private readonly kernels: Kernels,
    readonly info: LayerInfo,
    private readonly random: Random,
  ) {
    const spec = info.layer;
    if (spec.type !== 'dropout') throw new TypeError(`DropoutLayer built from a ${spec.type} layer`);
    this.p = spec.p;
    this.inputSize = this.outputSize = sizeOf(info.input);
  }

  get index(): number {
    return this.info.index;
  }

  initialize(): void {}

  reserve(rows: number): void {
    if (rows <= this.capacity) return;
    this.output = this.kernels.allocF32(rows * this.outputSize);
    this.keep = this.kernels.allocU8(rows * this.outputSize);
    this.capacity = rows;
    this.last = null;
  }

  forward(x: Float32Array, rows: number, training: boolean): Float32Array {
    if (!training || this.p === 0) {
      this.last = 'identity';
      return x;
    }
    this.reserve(rows);
    const count = rows * this.outputSize;
    dropoutMask(this.random, this.p, this.keep, count);
    this.kernels.dropoutForward(x, this.keep, this.p, this.output, count);
    this.last = 'dropped';
    return this.output;
  }

  backward(_x: Float32Array | null, _y: Float32Array, dy: Float32Array, dx: Float32Array | null, rows: number): void {
    if (this.last === null) throw new NoForwardPassError(`dropout layers.${this.index}`);
    if (!dx) return;
    const count = rows * this.outputSize;
    if (this.last === 'identity') {
      if (dx !== dy) dx.set(dy.subarray(0, count));
    } else {
      this.kernels.dropoutBackward(dy, this.keep, this.p, dx, count);
    }
  }

  toTensors(): NamedTensor[] {
    return [];
  }

  loadTensors(): void {}
}
