/**
 * The contract every layer of a Sequential (src/nn/sequential.ts) keeps. Shapes are per sample and a
 * batch of `rows` samples is laid out row after row: a layer reading [C, H, W] sees x as [rows, C, H, W]
 * (NCHW, as PyTorch), one reading [F] sees [rows, F].
 *
 *   forward(x, rows, training)          x [rows, ...inputShape] → y [rows, ...outputShape]
 *   backward(x, y, dy, dx, rows)        from the forward's x and y and dy = ∂L/∂y: writes every
 *                                       Param's grad and, when dx is given, dx = ∂L/∂x
 *
 * A layer owns its output buffer (reused by every forward) and whatever the backward needs of its own
 * forward (a max-pool's argmax positions, a batch norm's batch statistics, a dropout mask); the caller
 * owns the gradient buffers and hands in x and y again. A backward always goes back through the layer's
 * last forward. `dy` may be overwritten (a layer with a fused activation turns it into the gradient
 * before the activation in place).
 */
import type { Random } from '../core/random.js';
import type { NamedTensor } from '../io/model-config.js';
import type { LayerInfo } from '../io/model-spec.js';

/**
 * A trainable tensor as the optimizers see it: its values and the gradient the last backward wrote,
 * both in the layout the layer computes with. `shape` is that layout's: a first linear layer keeps its
 * weight [in, out] in column panels (`inPanels`, src/core/panels.ts; PyTorch's tensor of this name is
 * [out, in]). Element-wise consumers (optimizers, checkpoints of optimizer state) need not care;
 * `toTensors` and `loadTensors` convert.
 */
export interface Param {
  name: string;
  shape: number[];
  value: Float32Array;
  grad: Float32Array;
  inPanels?: boolean;
}

/**
 * State that is saved with the weights but not trained (a batch norm's running statistics). I64
 * tensors (num_batches_tracked) hold their integer in a float.
 */
export interface StateBuffer {
  name: string;
  shape: number[];
  value: Float32Array;
  dtype: 'F32' | 'I64';
}

/** Looks up a tensor of the model being loaded, already checked for its shape (throws when absent). */
export type TensorSource = (name: string, shape: number[]) => NamedTensor;

export interface Layer {
  /** The module's index in the Sequential: its tensors are `layers.{index}.…`. */
  readonly index: number;
  readonly info: LayerInfo;
  /** Values per sample in and out. */
  readonly inputSize: number;
  readonly outputSize: number;
  readonly params: readonly Param[];
  readonly buffers: readonly StateBuffer[];
  /**
   * Whether backward may be given the same array as dy and dx (an element-wise layer), so that the
   * Sequential needs no gradient buffer of its own for the layer's input.
   */
  readonly gradientInPlace: boolean;
  /** Make room for batches of up to `rows` samples (allocates only when growing). */
  reserve(rows: number): void;
  /** PyTorch's default initialization of the layer's parameters and state. */
  initialize(random: Random): void;
  /** y for x; the array returned is the layer's own (or x itself, for a layer that changes nothing in this mode). */
  forward(x: Float32Array, rows: number, training: boolean): Float32Array;
  /**
   * Gradients of the last forward. x is null only for a first layer that read its input as pixel bytes
   * (it goes back through what it kept of them).
   */
  backward(x: Float32Array | null, y: Float32Array, dy: Float32Array, dx: Float32Array | null, rows: number): void;
  /** The layer's tensors in PyTorch's names and layout (copies). */
  toTensors(): NamedTensor[];
  /** Sets the layer's tensors from a model being loaded; `take` has checked names and shapes. */
  loadTensors(take: TensorSource): void;
}

/** Values in a per-sample shape. */
export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
