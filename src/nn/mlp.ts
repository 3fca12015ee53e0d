import type { Activation, Kernels } from '../core/kernels.js';
import { Random } from '../core/random.js';
import type { NamedTensor } from '../io/model-config.js';
import { DenseLayer } from './linear.js';

/** What a user chooses about a network; input and output sizes come from the data. */
export interface MlpSpec {
  /** Input nodes: the image's height × width (28 × 28 → 784). */
  inputs: number;
  /** Nodes of each hidden layer, in order; empty for a linear (softmax regression) model. */
  hidden: number[];
  /** Output nodes: the class count (digits → 10). */
  classes: number;
  activation: Activation;
}

/**
 * A trainable tensor as the optimizers see it: its values and the gradient the last backward wrote,
 * both in the layout the network computes with. `shape` is that layout's: a first layer's weight is
 * kept [in, out] in column panels (`inPanels`, src/core/panels.ts; PyTorch's tensor of this name is
 * [out, in]). Element-wise
 * consumers (optimizers, checkpoints of optimizer state) need not care; `toTensors` and
 * `loadTensors` convert.
 */
export interface Param {
  name: string;
  shape: number[];
  value: Float32Array;
  grad: Float32Array;
  inPanels?: boolean;
}

export const ACTIVATIONS: readonly Activation[] = ['relu', 'sigmoid', 'tanh'];

/** Throws a clear error when a spec cannot describe a network. */
export function validateSpec(spec: MlpSpec): void {
  const positiveInt = (v: number) => Number.isInteger(v) && v > 0;
  if (!positiveInt(spec.inputs)) throw new RangeError(`input size must be a positive integer, got ${spec.inputs}`);
  if (!positiveInt(spec.classes) || spec.classes < 2) throw new RangeError(`class count must be an integer ≥ 2, got ${spec.classes}`);
  for (const nodes of spec.hidden) {
    if (!positiveInt(nodes)) throw new RangeError(`hidden layer sizes must be positive integers, got ${spec.hidden.join(',')}`);
  }
  if (![...ACTIVATIONS, 'identity'].includes(spec.activation)) {
    throw new RangeError(`unknown activation '${spec.activation}': use one of ${ACTIVATIONS.join(', ')}`);
  }
}

/** Number of weights and biases of an MLP with this spec. */
export function parameterCount(spec: MlpSpec): number {
  const sizes = [spec.inputs, ...spec.hidden, spec.classes];
  let count = 0;
  for (let i = 0; i + 1 < sizes.length; i++) count += sizes[i + 1] * sizes[i] + sizes[i + 1];
  return count;
}

/**
 * A multi-layer perceptron: Linear → act → … → Linear, ending in logits; the loss (softmax
 * cross-entropy) is applied by `lossAndGradient`. Mirrors PyTorch's
 * `layers = nn.Sequential(Linear, ReLU, …, Linear)`, so the tensors are named `layers.0.weight`,
 * `layers.0.bias`, `layers.2.weight`, … with [out, in] weights.
 */
export class Mlp {
  readonly layers: DenseLayer[];
  private logitsGrad: Float32Array = new Float32Array(0);
  private capacity = 0;

  constructor(
    readonly kernels: Kernels,
    readonly spec: MlpSpec,
  ) {
    validateSpec(spec);
    const sizes = [spec.inputs, ...spec.hidden, spec.classes];
    this.layers = [];
    for (let i = 0; i + 1 < sizes.length; i++) {
      const last = i + 2 === sizes.length;
      // the first layer reads the data, which may be mostly zeros (MNIST: 81% of the pixels)
      this.layers.push(new DenseLayer(kernels, sizes[i], sizes[i + 1], last ? 'identity' : spec.activation, i === 0));
    }
  }

  /** A new network with PyTorch's default initialization drawn from `seed`. */
  static create(kernels: Kernels, spec: MlpSpec, seed: number): Mlp {
    const mlp = new Mlp(kernels, spec);
    const random = new Random(seed);
    for (const layer of mlp.layers) layer.initialize(random);
    return mlp;
  }

  get parameterCount(): number {
    return parameterCount(this.spec);
  }

  /** Size of the weights in bytes (float32). */
  get byteSize(): number {
    return this.parameterCount * 4;
  }

  params(): Param[] {
    return this.layers.flatMap((layer, i) => [
      layer.inPanels
        ? { name: `layers.${2 * i}.weight`, shape: [layer.inputs, layer.outputs], value: layer.weight, grad: layer.weightGrad, inPanels: true }
        : { name: `layers.${2 * i}.weight`, shape: [layer.outputs, layer.inputs], value: layer.weight, grad: layer.weightGrad },
      { name: `layers.${2 * i}.bias`, shape: [layer.outputs], value: layer.bias, grad: layer.biasGrad },
    ]);
  }

  /** Make room for batches of up to `rows` rows; buffers are reused by every later step. */
  reserve(rows: number): void {
    if (rows <= this.capacity) return;
    for (const layer of this.layers) layer.reserve(rows);
    this.logitsGrad = this.layers[this.layers.length - 1].outputGrad;
    this.capacity = rows;
  }

  /** An input buffer for `rows` rows from this network's kernels (fill it, then call `forward`). */
  allocInput(rows: number): Float32Array {
    return this.kernels.allocF32(rows * this.spec.inputs);
  }

  /** A label buffer for `rows` rows that the loss kernel can read. */
  allocLabels(rows: number): Int32Array {
    return this.kernels.allocI32(rows);
  }

  /** A buffer for `rows` rows of raw pixels (bytes) from this network's kernels, for `forwardPixels`. */
  allocPixels(rows: number): Uint8Array {
    return this.kernels.allocU8(rows * this.spec.inputs);
  }

  /** input [rows, inputs] → logits [rows, classes] (a view valid until the next forward). */
  forward(input: Float32Array, rows: number): Float32Array {
    this.reserve(rows);
    let x = this.layers[0].forward(input, rows);
    for (let i = 1; i < this.layers.length; i++) x = this.layers[i].forward(x, rows);
    return x;
  }

  /**
   * `forward` of pixels · scale for raw pixels [rows, inputs] (from `allocPixels`): the same logits as
   * `forward` of the scaled floats, without converting the batch (the first layer reads the nonzero
   * bytes directly). For 8-bit images, scale is 1 / 255.
   */
  forwardPixels(pixels: Uint8Array, rows: number, scale: number): Float32Array {
    this.reserve(rows);
    let x = this.layers[0].forwardPixels(pixels, rows, scale);
    for (let i = 1; i < this.layers.length; i++) x = this.layers[i].forward(x, rows);
    return x;
  }

  /**
   * Mean softmax cross-entropy of the last forward's logits against the first `rows` labels
   * (from `allocLabels`), writing its gradient for `backward`.
   */
  lossAndGradient(labels: Int32Array, rows: number): number {
    const logits = this.layers[this.layers.length - 1].output;
    return this.kernels.softmaxCrossEntropy(logits, labels, rows, this.spec.classes, this.logitsGrad);
  }

  /**
   * Back-propagates the loss gradient of the last forward pass (`forward` or `forwardPixels` of `rows`
   * rows) through every layer, filling each Param's grad. The input must not change in between.
   */
  backward(rows: number): void {
    for (let i = this.layers.length - 1; i >= 0; i--) {
      // The first layer's input gradient is never needed: skip that GEMM.
      this.layers[i].backward(rows, i > 0 ? this.layers[i - 1].outputGrad : null);
    }
  }

  /** The weights as PyTorch-named tensors in PyTorch's layout (copies; `layers.0.weight` is [out, in]). */
  toTensors(): NamedTensor[] {
    return this.layers.flatMap((layer, i) => [
      { name: `layers.${2 * i}.weight`, shape: [layer.outputs, layer.inputs], data: layer.weightOutIn() },
      { name: `layers.${2 * i}.bias`, shape: [layer.outputs], data: Float32Array.from(layer.bias) },
    ]);
  }

  /** Loads weights by name in PyTorch's layout; every tensor must be present with the right shape. */
  loadTensors(tensors: NamedTensor[]): void {
    const byName = new Map(tensors.map((t) => [t.name, t]));
    const take = (name: string, shape: number[]): NamedTensor => {
      const t = byName.get(name);
      if (!t) throw new Error(`missing tensor '${name}' [${shape.join(', ')}]`);
      if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
        throw new Error(`tensor '${name}' has shape [${t.shape.join(', ')}], the network expects [${shape.join(', ')}]`);
      }
      return t;
    };
    // check every tensor before changing any weight
    const found = this.layers.map((layer, i) => ({
      weight: take(`layers.${2 * i}.weight`, [layer.outputs, layer.inputs]),
      bias: take(`layers.${2 * i}.bias`, [layer.outputs]),
    }));
    this.layers.forEach((layer, i) => {
      layer.setWeightOutIn(found[i].weight.data);
      layer.bias.set(found[i].bias.data);
    });
  }

  /** Copies all weights into one flat array (for keeping the best epoch's weights). */
  copyWeightsTo(target: Float32Array[]): void {
    this.params().forEach((p, i) => target[i].set(p.value));
  }

  copyWeightsFrom(source: Float32Array[]): void {
    this.params().forEach((p, i) => p.value.set(source[i]));
  }
}

