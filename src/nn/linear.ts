import type { Activation, BlockIndex, Kernels } from '../core/kernels.js';
import type { Random } from '../core/random.js';

/**
 * A fully connected layer followed by an activation: y = act(x · Wᵀ + b), as torch.nn.Linear then
 * the activation module. W is [out, in] (PyTorch's layout), b is [out].
 *
 * Forward and backward sit side by side; buffers for a batch of up to `capacity` rows are allocated
 * once by `reserve` and reused by every step.
 */
export class DenseLayer {
  readonly weight: Float32Array;
  readonly bias: Float32Array;
  readonly weightGrad: Float32Array;
  readonly biasGrad: Float32Array;
  /** Output of the last forward pass, [rows, outputs]; for the last layer these are the logits. */
  output: Float32Array;
  /** Gradient of the loss with respect to `output`, [rows, outputs]. */
  outputGrad: Float32Array;
  private capacity = 0;
  /** Where the last forward input's nonzero blocks are, when it took the sparse path (else null). */
  private sparseInput: Float32Array | null = null;
  private blockIndex: BlockIndex | null = null;

  /**
   * With `sparseInputs` (a first layer: its input is data, often mostly zeros, and its input gradient
   * is never needed), each batch's density of nonzero 4-input blocks is measured, and at or below the
   * kernels' sparseDensityLimit the forward product and the weight gradient skip the zero blocks.
   */
  constructor(
    private readonly kernels: Kernels,
    readonly inputs: number,
    readonly outputs: number,
    readonly activation: Activation,
    readonly sparseInputs = false,
  ) {
    this.weight = kernels.allocF32(outputs * inputs);
    this.bias = kernels.allocF32(outputs);
    this.weightGrad = kernels.allocF32(outputs * inputs);
    this.biasGrad = kernels.allocF32(outputs);
    this.output = this.outputGrad = new Float32Array(0);
  }

  /**
   * PyTorch's default nn.Linear initialization: kaiming_uniform_(a=√5) on W, which comes to
   * U(−1/√in, 1/√in), and the same bound for b.
   */
  initialize(random: Random): void {
    const bound = 1 / Math.sqrt(this.inputs);
    for (let i = 0; i < this.weight.length; i++) this.weight[i] = random.uniform(-bound, bound);
    for (let i = 0; i < this.bias.length; i++) this.bias[i] = random.uniform(-bound, bound);
  }

  /** Make room for batches of up to `rows` rows (allocates only when growing). */
  reserve(rows: number): void {
    if (rows <= this.capacity) return;
    this.output = this.kernels.allocF32(rows * this.outputs);
    this.outputGrad = this.kernels.allocF32(rows * this.outputs);
    if (this.sparseInputs && this.kernels.sparseDensityLimit > 0 && this.inputs % 4 === 0) {
      this.blockIndex = this.kernels.allocBlockIndex(rows, this.inputs);
    }
    this.capacity = rows;
  }

  /** input [rows, inputs] → output [rows, outputs] = act(input · Wᵀ + b). */
  forward(input: Float32Array, rows: number): Float32Array {
    const k = this.kernels;
    this.sparseInput = null;
    const index = this.blockIndex;
    if (index !== null && rows > 0 &&
      k.indexBlocks(input, rows, this.inputs, index) <= k.sparseDensityLimit * rows * (this.inputs / 4)) {
      this.sparseInput = input;
      k.sparseGemmNT(rows, this.outputs, this.inputs, input, index, this.weight, this.output);
    } else {
      k.gemm(false, true, rows, this.outputs, this.inputs, 1, input, this.weight, 0, this.output);
    }
    k.biasActivation(this.output, this.bias, rows, this.outputs, this.activation);
    return this.output;
  }

  /**
   * Given outputGrad [rows, outputs] (the gradient after the activation), computes
   *   dZ = outputGrad ⊙ act'(output)   (in place),
   *   dW = dZᵀ · input  [outputs, inputs],  db = Σ_rows dZ  [outputs],
   * and, when inputGrad is given, inputGrad = dZ · W  [rows, inputs].
   */
  backward(input: Float32Array, rows: number, inputGrad: Float32Array | null): void {
    const k = this.kernels;
    if (this.activation !== 'identity') k.activationBackward(this.activation, this.output, this.outputGrad, rows * this.outputs);
    if (this.sparseInput === input && this.blockIndex !== null) {
      // the index of the forward pass still describes this input
      k.sparseGemmTN(this.outputs, this.inputs, rows, this.outputGrad, input, this.blockIndex, this.weightGrad);
    } else {
      k.gemm(true, false, this.outputs, this.inputs, rows, 1, this.outputGrad, input, 0, this.weightGrad);
    }
    k.biasGradient(this.outputGrad, rows, this.outputs, this.biasGrad);
    if (inputGrad) k.gemm(false, false, rows, this.inputs, this.outputs, 1, this.outputGrad, this.weight, 0, inputGrad);
  }
}
