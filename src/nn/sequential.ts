/**
 * A network as a sequence of layers built from a ModelSpec (src/io/model-spec.ts): PyTorch's
 * `nn.Sequential` of the same modules, so tensor names and shapes are PyTorch's (`layers.3.weight`),
 * ending in logits; the loss (softmax cross-entropy) is applied by `lossAndGradient`.
 *
 *   input [rows, C·H·W] (an image row after row, channels first) → … → logits [rows, classes]
 *
 * Building the list, the Sequential folds what costs nothing into its neighbours: an activation right
 * after a linear or conv layer runs inside that layer's pass, and flatten and identity are views (the
 * layout is already flat). A first linear layer that reads the data keeps its weight in panels and
 * reads only the nonzero inputs (src/nn/layers/linear.ts); nothing outside nn/ sees either choice.
 *
 * The Sequential keeps the forward's activations and one gradient buffer per layer boundary, so a
 * backward goes back through the last forward (`forward` or `forwardPixels`); the input must not
 * change in between.
 */
import type { Activation, Kernels } from '../core/kernels.js';
import { Random, type RandomState } from '../core/random.js';
import type { NamedTensor } from '../io/model-config.js';
import { summarizeModel, type LayerInfo, type ModelSpec, type ModelSummary } from '../io/model-spec.js';
import { InputShapeError, NoForwardPassError, TensorMismatchError } from './errors.js';
import { sizeOf, type Layer, type Param, type StateBuffer } from './layer.js';
import { ActivationLayer } from './layers/activation.js';
import { BatchnormLayer } from './layers/batchnorm.js';
import { Conv2dLayer } from './layers/conv2d.js';
import { DropoutLayer } from './layers/dropout.js';
import { LinearLayer } from './layers/linear.js';
import { Pool2dLayer } from './layers/pool2d.js';

export type { Param, StateBuffer } from './layer.js';

const FUSABLE: ReadonlySet<string> = new Set(['relu', 'tanh', 'sigmoid', 'identity']);

/** A seed's second stream, for dropout masks (so adding dropout does not change the initialization). */
const DROPOUT_STREAM = 0x2545f491;

export class Sequential {
  readonly summary: ModelSummary;
  /** The layers that compute, in order (fused activations, flattens and identities are folded in). */
  readonly layers: readonly Layer[];
  /** Values per sample the network reads (C·H·W) and the logits it writes (classes). */
  readonly inputs: number;
  readonly classes: number;
  /** Dropout's generator; its state belongs in a checkpoint (`randomState`). */
  private readonly random: Random;
  /** gradients[i]: ∂L/∂(output of layers[i]), [rows, layers[i].outputSize]; the last is the logits' gradient. */
  private gradients: Float32Array[] = [];
  /** The inputs of each layer in the last forward (null for the first after `forwardPixels`) and its output. */
  private inputsSeen: (Float32Array | null)[] = [];
  private outputsSeen: Float32Array[] = [];
  private lastRows = -1;
  private capacity = 0;
  private floatInput: Float32Array | null = null;

  constructor(
    readonly kernels: Kernels,
    readonly spec: ModelSpec,
    seed = 0,
  ) {
    this.summary = summarizeModel(spec);
    this.inputs = sizeOf(this.summary.input);
    this.classes = sizeOf(this.summary.output);
    if (this.summary.output.length !== 1) {
      throw new InputShapeError(`the model must end in flat logits, but its last layer gives [${this.summary.output.join(', ')}]: end it with a linear layer`);
    }
    this.random = new Random((seed ^ DROPOUT_STREAM) >>> 0);
    this.layers = buildLayers(kernels, this.summary.layers, this.random);
  }

  /** A new network with PyTorch's default initialization drawn from `seed`, layer after layer. */
  static create(kernels: Kernels, spec: ModelSpec, seed: number): Sequential {
    const model = new Sequential(kernels, spec, seed);
    const random = new Random(seed);
    for (const layer of model.layers) layer.initialize(random);
    return model;
  }

  /** Trainable parameters (weights and biases; running statistics are not counted, as in PyTorch). */
  get parameterCount(): number {
    return this.summary.params;
  }

  /** Size of the weights in bytes (float32), running statistics included. */
  get byteSize(): number {
    return (this.parameterCount + this.buffers().reduce((n, b) => n + b.value.length, 0)) * 4;
  }

  params(): Param[] {
    return this.layers.flatMap((l) => l.params);
  }

  /** The state saved with the weights that is not trained (batch norms' running statistics). */
  buffers(): StateBuffer[] {
    return this.layers.flatMap((l) => l.buffers);
  }

  /** Every array that makes up the trained model: the params' values, then the state buffers. */
  private weightArrays(): Float32Array[] {
    return [...this.params().map((p) => p.value), ...this.buffers().map((b) => b.value)];
  }

  /** Copies of every weight and state array (for keeping the best epoch's model); see copyWeightsTo/From. */
  snapshot(): Float32Array[] {
    return this.weightArrays().map((a) => Float32Array.from(a));
  }

  /** Names of the arrays of `snapshot`, in its order. */
  snapshotNames(): string[] {
    return [...this.params().map((p) => p.name), ...this.buffers().map((b) => b.name)];
  }

  copyWeightsTo(target: Float32Array[]): void {
    this.weightArrays().forEach((a, i) => target[i].set(a));
  }

  copyWeightsFrom(source: Float32Array[]): void {
    this.weightArrays().forEach((a, i) => a.set(source[i]));
  }

  get randomState(): RandomState {
    return this.random.getState();
  }

  set randomState(state: RandomState) {
    this.random.setState(state);
  }

  /** Make room for batches of up to `rows` rows; buffers are reused by every later step. */
  reserve(rows: number): void {
    if (rows <= this.capacity) return;
    for (const layer of this.layers) layer.reserve(rows);
    // a layer whose backward works in place shares its input gradient with its output gradient
    this.gradients = new Array<Float32Array>(this.layers.length);
    for (let i = this.layers.length - 1; i >= 0; i--) {
      const next = this.layers[i + 1];
      this.gradients[i] = next?.gradientInPlace ? this.gradients[i + 1] : this.kernels.allocF32(rows * this.layers[i].outputSize);
    }
    this.floatInput = null;
    this.lastRows = -1;
    this.capacity = rows;
  }

  /** An input buffer for `rows` rows from this network's kernels (fill it, then call `forward`). */
  allocInput(rows: number): Float32Array {
    return this.kernels.allocF32(rows * this.inputs);
  }

  /** A label buffer for `rows` rows that the loss kernel can read. */
  allocLabels(rows: number): Int32Array {
    return this.kernels.allocI32(rows);
  }

  /** A buffer for `rows` rows of raw pixels (bytes) from this network's kernels, for `forwardPixels`. */
  allocPixels(rows: number): Uint8Array {
    return this.kernels.allocU8(rows * this.inputs);
  }

  /**
   * input [rows, inputs] → logits [rows, classes] (a view valid until the next forward). `training`
   * switches dropout on and batch norms to the batch's statistics, as PyTorch's model.train().
   */
  forward(input: Float32Array, rows: number, training = false): Float32Array {
    this.checkRows(input.length, rows, 'input values');
    this.reserve(rows);
    return this.run(input, this.layers[0].forward(input, rows, training), rows, training);
  }

  /**
   * `forward` of pixels · scale for raw pixels [rows, inputs] (from `allocPixels`): the same logits as
   * `forward` of the scaled floats. A first linear or convolution layer that reads the data lists the
   * nonzero bytes directly; any other network gets the batch converted once. For 8-bit images, scale
   * is 1 / 255.
   */
  forwardPixels(pixels: Uint8Array, rows: number, scale: number, training = false): Float32Array {
    this.checkRows(pixels.length, rows, 'pixels');
    this.reserve(rows);
    const first = this.layers[0];
    if ((first instanceof LinearLayer || first instanceof Conv2dLayer) && first.sparseInputs) {
      return this.run(null, first.forwardPixels(pixels, rows, scale), rows, training);
    }
    const input = (this.floatInput ??= this.kernels.allocF32(this.capacity * this.inputs));
    this.kernels.scalePixels(pixels, rows * this.inputs, scale, input);
    return this.run(input, first.forward(input, rows, training), rows, training);
  }

  private run(firstInput: Float32Array | null, firstOutput: Float32Array, rows: number, training: boolean): Float32Array {
    // the arrays are reused from step to step: only their entries change
    this.inputsSeen[0] = firstInput;
    this.outputsSeen[0] = firstOutput;
    let x = firstOutput;
    for (let i = 1; i < this.layers.length; i++) {
      this.inputsSeen[i] = x;
      x = this.layers[i].forward(x, rows, training);
      this.outputsSeen[i] = x;
    }
    this.lastRows = rows;
    return x;
  }

  private checkRows(length: number, rows: number, what: string): void {
    if (!(Number.isInteger(rows) && rows >= 0)) throw new InputShapeError(`a batch must have a whole number of rows, got ${rows}`);
    if (length < rows * this.inputs) {
      throw new InputShapeError(`${rows} rows of ${this.inputs} values need ${rows * this.inputs} ${what}, the buffer holds ${length}`);
    }
  }

  /**
   * Mean softmax cross-entropy of the last forward's logits against the first `rows` labels
   * (from `allocLabels`), writing its gradient for `backward`.
   */
  lossAndGradient(labels: Int32Array, rows: number): number {
    if (this.lastRows !== rows) throw new NoForwardPassError(`the loss of ${rows} rows`);
    const logits = this.outputsSeen[this.outputsSeen.length - 1];
    return this.kernels.softmaxCrossEntropy(logits, labels, rows, this.classes, this.gradients[this.gradients.length - 1]);
  }

  /**
   * Back-propagates the loss gradient of the last forward pass of `rows` rows through every layer,
   * filling each Param's grad. The first layer's input gradient is never needed and not computed.
   */
  backward(rows: number): void {
    if (this.lastRows !== rows) throw new NoForwardPassError(`backward of ${rows} rows`);
    for (let i = this.layers.length - 1; i >= 0; i--) {
      this.layers[i].backward(this.inputsSeen[i], this.outputsSeen[i], this.gradients[i], i > 0 ? this.gradients[i - 1] : null, rows);
    }
  }

  /** The weights and state as PyTorch's state_dict (copies, PyTorch's layout, PyTorch's order). */
  toTensors(): NamedTensor[] {
    return this.layers.flatMap((l) => l.toTensors());
  }

  /**
   * Loads a state_dict by name: every tensor the model has must be present with its shape, and none
   * may be left over (as load_state_dict(strict=True)); nothing changes unless all fit.
   */
  loadTensors(tensors: NamedTensor[]): void {
    const byName = new Map(tensors.map((t) => [t.name, t]));
    const expected = new Set(this.summary.layers.flatMap((l) => l.tensors.map((t) => t.name)));
    for (const name of byName.keys()) {
      if (!expected.has(name)) throw new TensorMismatchError(name, `is not part of this model (its tensors are ${[...expected].join(', ') || 'none'})`);
    }
    const take = (name: string, shape: number[]): NamedTensor => {
      const t = byName.get(name);
      if (!t) throw new TensorMismatchError(name, `[${shape.join(', ')}] is missing`);
      if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
        throw new TensorMismatchError(name, `has shape [${t.shape.join(', ')}], the network expects [${shape.join(', ')}]`);
      }
      return t;
    };
    // check every tensor before changing any weight
    for (const info of this.summary.layers) for (const t of info.tensors) take(t.name, t.shape);
    for (const layer of this.layers) layer.loadTensors(take);
  }
}

/** The computing layers for a summarized spec, with activations fused and views folded away. */
function buildLayers(kernels: Kernels, infos: readonly LayerInfo[], random: Random): Layer[] {
  const layers: Layer[] = [];
  let readsData = true;
  for (let i = 0; i < infos.length; i++) {
    const info = infos[i];
    const next = infos[i + 1];
    const fused = (): Activation => {
      if (next && FUSABLE.has(next.layer.type)) {
        i++;
        return next.layer.type as Activation;
      }
      return 'identity';
    };
    switch (info.layer.type) {
      case 'linear': layers.push(new LinearLayer(kernels, info, fused(), readsData)); break;
      case 'conv2d': layers.push(new Conv2dLayer(kernels, info, fused())); break;
      case 'maxpool2d': case 'avgpool2d': layers.push(new Pool2dLayer(kernels, info)); break;
      case 'relu': case 'tanh': case 'sigmoid': layers.push(new ActivationLayer(kernels, info, info.layer.type)); break;
      case 'dropout': layers.push(new DropoutLayer(kernels, info, random)); break;
      case 'batchnorm': layers.push(new BatchnormLayer(kernels, info)); break;
      case 'flatten': case 'identity': continue;
    }
    readsData = false;
  }
  if (layers.length === 0) throw new InputShapeError('the model has no layer that computes: end it with a linear layer');
  return layers;
}
