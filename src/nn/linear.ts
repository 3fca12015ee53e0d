import type { Activation, Kernels, NonzeroIndex } from '../core/kernels.js';
import type { Random } from '../core/random.js';

/**
 * A fully connected layer followed by an activation: y = act(x · Wᵀ + b), as torch.nn.Linear then
 * the activation module. b is [out]. W is PyTorch's [out, in], except in a layer with `sparseInputs`,
 * which keeps it transposed, [in, out] (`transposed`): each nonzero input then meets one contiguous
 * row of W. The layout stays inside the network: Mlp.toTensors/loadTensors speak PyTorch's.
 *
 * Forward and backward sit side by side; buffers for a batch of up to `capacity` rows are allocated
 * once by `reserve` and reused by every step.
 */
export class DenseLayer {
  /** [out, in], or [in, out] when `transposed`. */
  readonly weight: Float32Array;
  readonly bias: Float32Array;
  /** The gradient of `weight`, in its layout. */
  readonly weightGrad: Float32Array;
  readonly biasGrad: Float32Array;
  /** Whether `weight` and `weightGrad` are stored [in, out]. */
  readonly transposed: boolean;
  /** Output of the last forward pass, [rows, outputs]; for the last layer these are the logits. */
  output: Float32Array;
  /** Gradient of the loss with respect to `output`, [rows, outputs]. */
  outputGrad: Float32Array;
  private capacity = 0;
  /** The last forward input, when it took the sparse path (its nonzeros are in `index`), else null. */
  private sparseInput: Float32Array | null = null;
  private index: NonzeroIndex | null = null;

  /**
   * With `sparseInputs` (a first layer: its input is data, often mostly zeros, and its input gradient
   * is never needed), W is kept [in, out], each batch's density of nonzero inputs is measured, and at or
   * below the kernels' sparseDensityLimit the forward product and the weight gradient read only the
   * nonzero inputs.
   */
  constructor(
    private readonly kernels: Kernels,
    readonly inputs: number,
    readonly outputs: number,
    readonly activation: Activation,
    readonly sparseInputs = false,
  ) {
    this.transposed = sparseInputs;
    this.weight = kernels.allocF32(outputs * inputs);
    this.bias = kernels.allocF32(outputs);
    this.weightGrad = kernels.allocF32(outputs * inputs);
    this.biasGrad = kernels.allocF32(outputs);
    this.output = this.outputGrad = new Float32Array(0);
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
    return this.transposed ? i * this.outputs + o : o * this.inputs + i;
  }

  /** W in PyTorch's [out, in] layout (a copy). */
  weightOutIn(): Float32Array {
    if (!this.transposed) return Float32Array.from(this.weight);
    const out = new Float32Array(this.weight.length);
    for (let i = 0; i < this.inputs; i++) {
      for (let o = 0; o < this.outputs; o++) out[o * this.inputs + i] = this.weight[i * this.outputs + o];
    }
    return out;
  }

  /** Sets W from PyTorch's [out, in] layout. */
  setWeightOutIn(values: ArrayLike<number>): void {
    if (!this.transposed) {
      this.weight.set(values);
      return;
    }
    for (let o = 0; o < this.outputs; o++) {
      for (let i = 0; i < this.inputs; i++) this.weight[i * this.outputs + o] = values[o * this.inputs + i];
    }
  }

  /** Make room for batches of up to `rows` rows (allocates only when growing). */
  reserve(rows: number): void {
    if (rows <= this.capacity) return;
    this.output = this.kernels.allocF32(rows * this.outputs);
    this.outputGrad = this.kernels.allocF32(rows * this.outputs);
    if (this.sparseInputs && this.kernels.sparseDensityLimit > 0) {
      this.index = this.kernels.allocNonzeroIndex(rows, this.inputs);
    }
    this.capacity = rows;
  }

  /** input [rows, inputs] → output [rows, outputs] = act(input · Wᵀ + b). */
  forward(input: Float32Array, rows: number): Float32Array {
    const k = this.kernels;
    this.sparseInput = null;
    const index = this.index;
    if (index !== null && rows > 0 &&
      k.indexNonzeros(input, rows, this.inputs, index) <= k.sparseDensityLimit * rows * this.inputs) {
      this.sparseInput = input;
      k.sparseGemmNN(rows, this.outputs, this.inputs, index, this.weight, this.output);
    } else {
      k.gemm(false, !this.transposed, rows, this.outputs, this.inputs, 1, input, this.weight, 0, this.output);
    }
    k.biasActivation(this.output, this.bias, rows, this.outputs, this.activation);
    return this.output;
  }

  /**
   * Given outputGrad [rows, outputs] (the gradient after the activation), computes
   *   dZ = outputGrad ⊙ act'(output)   (in place),
   *   dW = dZᵀ · input  [outputs, inputs] (stored transposed, inputᵀ · dZ, when `transposed`),
   *   db = Σ_rows dZ  [outputs],
   * and, when inputGrad is given, inputGrad = dZ · W  [rows, inputs].
   */
  backward(input: Float32Array, rows: number, inputGrad: Float32Array | null): void {
    const k = this.kernels;
    if (this.activation !== 'identity') k.activationBackward(this.activation, this.output, this.outputGrad, rows * this.outputs);
    if (this.sparseInput === input && this.index !== null) {
      // the forward pass listed this input's nonzeros by row; the weight gradient reads them by column
      k.indexColumns(this.index, rows);
      k.sparseGemmTN(this.inputs, this.outputs, rows, this.index, this.outputGrad, this.weightGrad);
    } else if (this.transposed) {
      k.gemm(true, false, this.inputs, this.outputs, rows, 1, input, this.outputGrad, 0, this.weightGrad);
    } else {
      k.gemm(true, false, this.outputs, this.inputs, rows, 1, this.outputGrad, input, 0, this.weightGrad);
    }
    k.biasGradient(this.outputGrad, rows, this.outputs, this.biasGrad);
    if (inputGrad) {
      k.gemm(false, this.transposed, rows, this.inputs, this.outputs, 1, this.outputGrad, this.weight, 0, inputGrad);
    }
  }
}
