/**
 * torch.nn.Conv2d (groups 1, dilation 1, zero padding), with the activation module that follows it
 * fused in: y = act(conv2d(x, W) + b).
 *
 *   x [rows, C, H, W]   W [O, C, KH, KW]   b [O]   y [rows, O, OH, OW]
 *
 * Formulas and sizes: src/core/reference-conv2d.ts and src/core/geometry2d.ts.
 *
 * A layer whose input is often mostly zeros (`sparseInputs`: the first layer, reading pixels) lists each
 * batch's nonzero inputs, and when their density is at most the kernels' sparseConvDensityLimit the
 * forward and the weight gradient read only those (the input gradient never reads x). A layer of 4 or
 * more input channels lists the nonzeros of its output gradient dZ (after a max pool and a ReLU most of
 * it is 0), and at most sparseGradDensityLimit of them its input and weight gradients read only those.
 * Every path gives the dense one's results within rounding.
 */
import type { Activation, Kernels, NonzeroIndex } from '../../core/kernels.js';
import { conv2dGeometry, type Conv2dGeometry } from '../../core/geometry2d.js';
import type { Random } from '../../core/random.js';
import type { NamedTensor } from '../../io/model-config.js';
import type { LayerInfo } from '../../io/model-spec.js';
import { NoForwardPassError } from '../errors.js';
import { sizeOf, type Layer, type Param, type StateBuffer, type TensorSource } from '../layer.js';

export class Conv2dLayer implements Layer {
  readonly weight: Float32Array;
  readonly bias: Float32Array;
  readonly weightGrad: Float32Array;
  readonly biasGrad: Float32Array;
  readonly params: readonly Param[];
  readonly buffers: readonly StateBuffer[] = [];
  readonly gradientInPlace = false;
  readonly inputSize: number;
  readonly outputSize: number;
  private readonly weightShape: number[];
  private output: Float32Array = new Float32Array(0);
  private capacity = 0;
  private geometry: Conv2dGeometry | null = null;
  private forwarded = false;
  /** The nonzero inputs of the last forward when it took the sparse path (null: it took the dense one). */
  private nonzeros: NonzeroIndex | null = null;
  private listing: NonzeroIndex | null = null;
  /** The float input that `forwardPixels` made when it took the dense path (null otherwise). */
  private pixelInput: Float32Array | null = null;
  private pixelValues: Float32Array | null = null;
  /** The nonzeros of dZ in the running backward (allocated when `sparseGradients`). */
  private gradientListing: NonzeroIndex | null = null;
  /** Whether this layer measures its inputs' density (see above). */
  readonly sparseInputs: boolean;
  /** Whether this layer measures its output gradients' density (see above). */
  readonly sparseGradients: boolean;

  /**
   * `sparseInputs` defaults to the layer being the network's first one-channel layer (what reads MNIST's
   * pixels, ~81% zeros); the kernels' sparseConvDensityLimit 0 turns the measuring off.
   */
  constructor(
    private readonly kernels: Kernels,
    readonly info: LayerInfo,
    readonly activation: Activation,
    sparseInputs?: boolean,
  ) {
    const spec = info.layer;
    if (spec.type !== 'conv2d') throw new TypeError(`Conv2dLayer built from a ${spec.type} layer`);
    this.weightShape = [spec.out, info.input[0], spec.kernel[0], spec.kernel[1]];
    this.inputSize = sizeOf(info.input);
    this.outputSize = sizeOf(info.output);
    this.weight = kernels.allocF32(sizeOf(this.weightShape));
    this.weightGrad = kernels.allocF32(this.weight.length);
    this.bias = kernels.allocF32(spec.out);
    this.biasGrad = kernels.allocF32(spec.out);
    this.sparseInputs = (sparseInputs ?? (info.index === 0 && info.input[0] === 1)) && kernels.sparseConvDensityLimit > 0;
    // channels-last over the input channels: fewer than 4 would leave most lanes empty
    this.sparseGradients = info.input[0] >= 4 && kernels.sparseGradDensityLimit > 0;
    this.params = [
      { name: this.name('weight'), shape: this.weightShape, value: this.weight, grad: this.weightGrad },
      { name: this.name('bias'), shape: [spec.out], value: this.bias, grad: this.biasGrad },
    ];
  }

  get index(): number {
    return this.info.index;
  }

  private name(tensor: string): string {
    return `layers.${this.info.index}.${tensor}`;
  }

  /**
   * PyTorch's default: kaiming_uniform_(a = √5) on W, i.e. U(−1/√fan_in, 1/√fan_in) with
   * fan_in = C·KH·KW, and the same bound for b; W drawn in [O, C, KH, KW] order, then b.
   */
  initialize(random: Random): void {
    const [, c, kh, kw] = this.weightShape;
    const bound = 1 / Math.sqrt(c * kh * kw);
    for (let i = 0; i < this.weight.length; i++) this.weight[i] = random.uniform(-bound, bound);
    for (let i = 0; i < this.bias.length; i++) this.bias[i] = random.uniform(-bound, bound);
  }

  reserve(rows: number): void {
    if (rows <= this.capacity) return;
    this.output = this.kernels.allocF32(rows * this.outputSize);
    this.pixelValues = null;
    if (this.sparseInputs) this.listing = this.kernels.allocNonzeroIndex(rows, this.inputSize);
    if (this.sparseGradients) this.gradientListing = this.kernels.allocNonzeroIndex(rows, this.outputSize);
    this.capacity = rows;
    this.forwarded = false;
  }

  private geometryFor(rows: number): Conv2dGeometry {
    if (this.geometry?.batch === rows) return this.geometry;
    const spec = this.info.layer as Extract<LayerInfo['layer'], { type: 'conv2d' }>;
    const [channels, height, width] = this.info.input;
    this.geometry = conv2dGeometry(
      { batch: rows, channels, height, width, outChannels: spec.out },
      { kernel: spec.kernel, stride: spec.stride, padding: spec.padding },
    );
    return this.geometry;
  }

  forward(x: Float32Array, rows: number): Float32Array {
    this.reserve(rows);
    if (rows === 0) return this.output;
    const k = this.kernels;
    const g = this.geometryFor(rows);
    const listing = this.listing;
    this.nonzeros = null;
    this.pixelInput = null;
    if (listing !== null && k.indexNonzeros(x, rows, this.inputSize, listing) <= k.sparseConvDensityLimit * rows * this.inputSize) {
      this.nonzeros = listing;
      k.conv2dForwardSparse(g, listing, this.weight, this.bias, this.output, this.activation);
    } else {
      k.conv2dForward(g, x, this.weight, this.bias, this.output, this.activation);
    }
    this.forwarded = true;
    return this.output;
  }

  /**
   * `forward` of pixels · scale for raw pixels [rows, C·H·W]: a layer with `sparseInputs` lists the
   * nonzero bytes directly and, when they are few enough, never makes the floats; otherwise the batch
   * is converted once into the layer's own buffer. `backward` then takes null for x.
   */
  forwardPixels(pixels: Uint8Array, rows: number, scale: number): Float32Array {
    this.reserve(rows);
    if (rows === 0) return this.output;
    const k = this.kernels;
    const listing = this.listing;
    if (listing !== null && k.indexPixels(pixels, rows, this.inputSize, scale, listing) <= k.sparseConvDensityLimit * rows * this.inputSize) {
      this.nonzeros = listing;
      this.pixelInput = null;
      k.conv2dForwardSparse(this.geometryFor(rows), listing, this.weight, this.bias, this.output, this.activation);
      this.forwarded = true;
      return this.output;
    }
    const values = (this.pixelValues ??= k.allocF32(this.capacity * this.inputSize));
    k.scalePixels(pixels, rows * this.inputSize, scale, values);
    this.forward(values, rows);
    this.pixelInput = values;
    return this.output;
  }

  /** dZ = dy ⊙ act'(y) in place; dW, db from x and dZ; dx = conv2dᵀ(dZ, W) when asked. */
  backward(x: Float32Array | null, y: Float32Array, dy: Float32Array, dx: Float32Array | null, rows: number): void {
    // x is null after forwardPixels: the input is then the layer's own floats, or its nonzero listing
    const input = x ?? this.pixelInput;
    if (!this.forwarded || (input === null && this.nonzeros === null)) throw new NoForwardPassError(`conv2d layers.${this.index}`);
    if (rows === 0) return;
    const k = this.kernels;
    const g = this.geometryFor(rows);
    const size = rows * this.outputSize;
    if (this.activation !== 'identity') k.activationBackward(this.activation, y, dy, size);
    const listing = this.gradientListing;
    const gradients = listing !== null && k.indexNonzeros(dy, rows, this.outputSize, listing) <= k.sparseGradDensityLimit * size
      ? listing : null;
    if (this.nonzeros !== null) k.conv2dWeightGradSparse(g, this.nonzeros, dy, this.weightGrad, this.biasGrad);
    else if (gradients !== null) k.conv2dWeightGradSparseDy(g, input as Float32Array, gradients, dy, this.weightGrad, this.biasGrad);
    else k.conv2dWeightGrad(g, input as Float32Array, dy, this.weightGrad, this.biasGrad);
    if (!dx) return;
    if (gradients !== null) k.conv2dInputGradSparse(g, gradients, this.weight, dx);
    else k.conv2dInputGrad(g, dy, this.weight, dx);
  }

  toTensors(): NamedTensor[] {
    return [
      { name: this.name('weight'), shape: [...this.weightShape], data: Float32Array.from(this.weight) },
      { name: this.name('bias'), shape: [this.bias.length], data: Float32Array.from(this.bias) },
    ];
  }

  loadTensors(take: TensorSource): void {
    const weight = take(this.name('weight'), this.weightShape);
    const bias = take(this.name('bias'), [this.bias.length]);
    this.weight.set(weight.data);
    this.bias.set(bias.data);
  }
}
