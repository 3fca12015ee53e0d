import type { Activation, Kernels, NonzeroIndex } from '../../core/kernels.js';
import { panelIndex } from '../../core/panels.js';
import type { Random } from '../../core/random.js';
import type { NamedTensor } from '../../io/model-config.js';
import type { LayerInfo } from '../../io/model-spec.js';
import { NoForwardPassError } from '../errors.js';
import type { Layer, Param, StateBuffer, TensorSource } from '../layer.js';

/**
 * torch.nn.Linear, with the activation module that follows it fused in: y = act(x · Wᵀ + b).
 *
 *   x [rows, in]   W [out, in]   b [out]   y [rows, out]
 *
 * W is PyTorch's [out, in], except in a layer with `sparseInputs`, which keeps it as [in, out] in
 * column panels (`inPanels`, src/core/panels.ts): each nonzero input then meets contiguous runs of W.
 * The layout stays inside the layer: toTensors/loadTensors speak PyTorch's.
 *
 * Forward and backward sit side by side; buffers for a batch of up to `capacity` rows are allocated
 * once by `reserve` and reused by every step.
 */
export class LinearLayer implements Layer {
  /** [out, in], or [in, out] in column panels when `inPanels`. */
  readonly weight: Float32Array;
  readonly bias: Float32Array;
  /** The gradient of `weight`, in its layout. */
  readonly weightGrad: Float32Array;
  readonly biasGrad: Float32Array;
  /** Whether `weight` and `weightGrad` are stored [in, out] in column panels. */
  readonly inPanels: boolean;
  /** Output of the last forward pass, [rows, outputs]; for the last layer these are the logits. */
  output: Float32Array;
  readonly params: readonly Param[];
  readonly buffers: readonly StateBuffer[] = [];
  readonly gradientInPlace = false;
  readonly inputs: number;
  readonly outputs: number;
  private capacity = 0;
  /**
   * What `backward` goes back through: the last forward's input when it took the dense path, 'sparse'
   * when its nonzeros are in `nonzeros`, null when there is none (no forward yet, or `reserve` replaced
   * the buffers since).
   */
  private last: Float32Array | 'sparse' | null = null;
  private nonzeros: NonzeroIndex | null = null;
  /** Scaled pixels for a batch of bytes that is too dense for the sparse path (made when first needed). */
  private pixelValues: Float32Array | null = null;
  /** W or dW [in, out] row-major, for the dense products of a layer in panels (made when first needed). */
  private rowMajor: Float32Array | null = null;

  /**
   * With `sparseInputs` (a first layer: its input is data, often mostly zeros, and its input gradient
   * is never needed), W is kept [in, out] in column panels, each batch's density of nonzero inputs is
   * measured, and at or below the kernels' sparseDensityLimit the forward product and the weight
   * gradient read only the nonzero inputs.
   */
  constructor(
    private readonly kernels: Kernels,
    readonly info: LayerInfo,
    readonly activation: Activation,
    readonly sparseInputs = false,
  ) {
    if (info.layer.type !== 'linear') throw new TypeError(`LinearLayer built from a ${info.layer.type} layer`);
    const inputs = (this.inputs = info.input[0]);
    const outputs = (this.outputs = info.layer.out);
    this.inPanels = sparseInputs;
    this.weight = kernels.allocF32(outputs * inputs);
    this.bias = kernels.allocF32(outputs);
    this.weightGrad = kernels.allocF32(outputs * inputs);
    this.biasGrad = kernels.allocF32(outputs);
    this.output = new Float32Array(0);
    const name = (tensor: string) => `layers.${info.index}.${tensor}`;
    this.params = [
      sparseInputs
        ? { name: name('weight'), shape: [inputs, outputs], value: this.weight, grad: this.weightGrad, inPanels: true }
        : { name: name('weight'), shape: [outputs, inputs], value: this.weight, grad: this.weightGrad },
      { name: name('bias'), shape: [outputs], value: this.bias, grad: this.biasGrad },
    ];
  }

  get index(): number {
    return this.info.index;
  }

  get inputSize(): number {
    return this.inputs;
  }

  get outputSize(): number {
    return this.outputs;
  }

  toTensors(): NamedTensor[] {
    return [
      { name: `layers.${this.index}.weight`, shape: [this.outputs, this.inputs], data: this.weightOutIn() },
      { name: `layers.${this.index}.bias`, shape: [this.outputs], data: Float32Array.from(this.bias) },
    ];
  }

  loadTensors(take: TensorSource): void {
    const weight = take(`layers.${this.index}.weight`, [this.outputs, this.inputs]);
    const bias = take(`layers.${this.index}.bias`, [this.outputs]);
    this.setWeightOutIn(weight.data);
    this.bias.set(bias.data);
  }

  /**
   * PyTorch's default nn.Linear initialization: kaiming_uniform_(a=√5) on W, which comes to
   * U(−1/√in, 1/√in), and the same bound for b. Drawn in [out, in] order whatever the layout, so a
   * seed gives the same network either way.
   */
  initialize(random: Random): void {
    const bound = 1 / Math.sqrt(this.inputs);
    for (let o = 0; o < this.outputs; o++) {
      for (let i = 0; i < this.inputs; i++) this.weight[this.weightIndex(o, i)] = random.uniform(-bound, bound);
    }
    for (let i = 0; i < this.bias.length; i++) this.bias[i] = random.uniform(-bound, bound);
  }

  /** Where W[o, i] (PyTorch's indices) is stored in `weight`. */
  weightIndex(o: number, i: number): number {
    return this.inPanels ? panelIndex(i, o, this.inputs, this.outputs) : o * this.inputs + i;
  }

  /** W in PyTorch's [out, in] layout (a copy). */
  weightOutIn(): Float32Array {
    if (!this.inPanels) return Float32Array.from(this.weight);
    const out = new Float32Array(this.weight.length);
    for (let o = 0; o < this.outputs; o++) {
      for (let i = 0; i < this.inputs; i++) out[o * this.inputs + i] = this.weight[this.weightIndex(o, i)];
    }
    return out;
  }

  /** Sets W from PyTorch's [out, in] layout. */
  setWeightOutIn(values: ArrayLike<number>): void {
    if (!this.inPanels) {
      this.weight.set(values);
      return;
    }
    for (let o = 0; o < this.outputs; o++) {
      for (let i = 0; i < this.inputs; i++) this.weight[this.weightIndex(o, i)] = values[o * this.inputs + i];
    }
  }

  /** Make room for batches of up to `rows` rows (allocates only when growing). */
  reserve(rows: number): void {
    if (rows <= this.capacity) return;
    this.output = this.kernels.allocF32(rows * this.outputs);
    if (this.sparseInputs && this.kernels.sparseDensityLimit > 0) {
      this.nonzeros = this.kernels.allocNonzeroIndex(rows, this.inputs);
    }
    this.pixelValues = null;
    this.last = null;
    this.capacity = rows;
  }

  /** input [rows, inputs] → output [rows, outputs] = act(input · Wᵀ + b); the same in training and evaluation. */
  forward(input: Float32Array, rows: number): Float32Array {
    const k = this.kernels;
    const index = this.nonzeros;
    if (index !== null && rows > 0 && k.indexNonzeros(input, rows, this.inputs, index) <= k.sparseDensityLimit * rows * this.inputs) {
      return this.forwardIndexed(rows);
    }
    return this.forwardDense(input, rows);
  }

  /**
   * `forward` of the input pixels · scale, for pixels [rows, inputs] stored as bytes: the sparse path
   * lists the nonzero pixels straight from the bytes, and no float copy of the batch is made unless the
   * batch is too dense for it. The output is exactly `forward`'s of the scaled floats.
   */
  forwardPixels(pixels: Uint8Array, rows: number, scale: number): Float32Array {
    const k = this.kernels;
    const index = this.nonzeros;
    if (index !== null && rows > 0 && k.indexPixels(pixels, rows, this.inputs, scale, index) <= k.sparseDensityLimit * rows * this.inputs) {
      return this.forwardIndexed(rows);
    }
    this.pixelValues ??= k.allocF32(this.capacity * this.inputs);
    k.scalePixels(pixels, rows * this.inputs, scale, this.pixelValues);
    return this.forwardDense(this.pixelValues, rows);
  }

  /** The forward product from the nonzero inputs listed in `nonzeros`. */
  private forwardIndexed(rows: number): Float32Array {
    this.last = 'sparse';
    this.kernels.sparseGemmNN(rows, this.outputs, this.inputs, this.nonzeros as NonzeroIndex, this.weight, this.output);
    this.kernels.biasActivation(this.output, this.bias, rows, this.outputs, this.activation);
    return this.output;
  }

  private forwardDense(input: Float32Array, rows: number): Float32Array {
    this.last = input;
    if (this.inPanels) {
      const weight = this.rowMajorBuffer();
      this.kernels.fromPanels(this.weight, this.inputs, this.outputs, weight);
      this.kernels.gemm(false, false, rows, this.outputs, this.inputs, 1, input, weight, 0, this.output);
    } else {
      this.kernels.gemm(false, true, rows, this.outputs, this.inputs, 1, input, this.weight, 0, this.output);
    }
    this.kernels.biasActivation(this.output, this.bias, rows, this.outputs, this.activation);
    return this.output;
  }

  /**
   * Given dy [rows, outputs] (the gradient after the activation), computes
   *   dZ = dy ⊙ act'(y)   (in place in dy),
   *   dW = dZᵀ · x  [outputs, inputs] (stored as xᵀ · dZ in column panels when `inPanels`),
   *   db = Σ_rows dZ  [outputs],
   * and, when dx is given, dx = dZ · W  [rows, inputs]. x must be the last forward's input, unchanged
   * (its nonzero listing is used when that forward took the sparse path; x is then not read, and may
   * be null after `forwardPixels`).
   */
  backward(x: Float32Array | null, y: Float32Array, dy: Float32Array, dx: Float32Array | null, rows: number): void {
    const k = this.kernels;
    const last = this.last;
    if (last === null || (last !== 'sparse' && x !== null && x !== last)) throw new NoForwardPassError(`linear layers.${this.index}`);
    const input = last;
    if (this.activation !== 'identity') k.activationBackward(this.activation, y, dy, rows * this.outputs);
    if (input === 'sparse') {
      // the forward pass listed this input's nonzeros by row; the weight gradient reads them by column
      const index = this.nonzeros as NonzeroIndex;
      k.indexColumns(index, rows);
      k.sparseGemmTN(this.inputs, this.outputs, rows, index, dy, this.weightGrad);
    } else if (this.inPanels) {
      const weightGrad = this.rowMajorBuffer();
      k.gemm(true, false, this.inputs, this.outputs, rows, 1, input, dy, 0, weightGrad);
      k.toPanels(weightGrad, this.inputs, this.outputs, this.weightGrad);
    } else {
      k.gemm(true, false, this.outputs, this.inputs, rows, 1, dy, input, 0, this.weightGrad);
    }
    k.biasGradient(dy, rows, this.outputs, this.biasGrad);
    if (dx) {
      let weight = this.weight;
      if (this.inPanels) {
        weight = this.rowMajorBuffer();
        k.fromPanels(this.weight, this.inputs, this.outputs, weight);
      }
      k.gemm(false, this.inPanels, rows, this.inputs, this.outputs, 1, dy, weight, 0, dx);
    }
  }

  private rowMajorBuffer(): Float32Array {
    return (this.rowMajor ??= this.kernels.allocF32(this.inputs * this.outputs));
  }
}
