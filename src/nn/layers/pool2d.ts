/**
 * torch.nn.MaxPool2d and torch.nn.AvgPool2d (no padding, dilation or ceil mode).
 *
 *   x [rows, C, H, W]   y [rows, C, OH, OW]
 *
 * A max pool keeps, for its backward, where each maximum was. Formulas: src/core/reference-pool2d.ts.
 */
import type { Kernels } from '../../core/kernels.js';
import { pool2dGeometry, type Geometry2d } from '../../core/geometry2d.js';
import type { NamedTensor } from '../../io/model-config.js';
import type { LayerInfo } from '../../io/model-spec.js';
import { NoForwardPassError } from '../errors.js';
import { sizeOf, type Layer, type Param, type StateBuffer } from '../layer.js';

export class Pool2dLayer implements Layer {
  readonly params: readonly Param[] = [];
  readonly buffers: readonly StateBuffer[] = [];
  readonly gradientInPlace = false;
  readonly inputSize: number;
  readonly outputSize: number;
  readonly kind: 'maxpool2d' | 'avgpool2d';
  private output: Float32Array = new Float32Array(0);
  private indices: Int32Array = new Int32Array(0);
  private capacity = 0;
  private geometry: Geometry2d | null = null;
  private forwarded = false;

  constructor(
    private readonly kernels: Kernels,
    readonly info: LayerInfo,
  ) {
    const spec = info.layer;
    if (spec.type !== 'maxpool2d' && spec.type !== 'avgpool2d') throw new TypeError(`Pool2dLayer built from a ${spec.type} layer`);
    this.kind = spec.type;
    this.inputSize = sizeOf(info.input);
    this.outputSize = sizeOf(info.output);
  }

  get index(): number {
    return this.info.index;
  }

  initialize(): void {}

  reserve(rows: number): void {
    if (rows <= this.capacity) return;
    this.output = this.kernels.allocF32(rows * this.outputSize);
    if (this.kind === 'maxpool2d') this.indices = this.kernels.allocI32(rows * this.outputSize);
    this.capacity = rows;
    this.forwarded = false;
  }

  private geometryFor(rows: number): Geometry2d {
    if (this.geometry?.batch === rows) return this.geometry;
    const spec = this.info.layer as Extract<LayerInfo['layer'], { type: 'maxpool2d' | 'avgpool2d' }>;
    const [channels, height, width] = this.info.input;
    this.geometry = pool2dGeometry(this.kind, { batch: rows, channels, height, width }, { kernel: spec.kernel, stride: spec.stride });
    return this.geometry;
  }

  forward(x: Float32Array, rows: number): Float32Array {
    this.reserve(rows);
    if (rows === 0) return this.output;
    const g = this.geometryFor(rows);
    if (this.kind === 'maxpool2d') this.kernels.maxpool2dForward(g, x, this.output, this.indices);
    else this.kernels.avgpool2dForward(g, x, this.output);
    this.forwarded = true;
    return this.output;
  }

  backward(_x: Float32Array | null, _y: Float32Array, dy: Float32Array, dx: Float32Array | null, rows: number): void {
    if (!this.forwarded) throw new NoForwardPassError(`${this.kind} layers.${this.index}`);
    if (!dx || rows === 0) return;
    const g = this.geometryFor(rows);
    if (this.kind === 'maxpool2d') this.kernels.maxpool2dBackward(g, dy, this.indices, dx);
    else this.kernels.avgpool2dBackward(g, dy, dx);
  }

  toTensors(): NamedTensor[] {
    return [];
  }

  loadTensors(): void {}
}
