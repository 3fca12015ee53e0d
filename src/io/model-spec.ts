/**
 * A model as a sequence of layers, as plain data: what `config.json` (version 2) holds (as JSON:
 * src/io/model-spec-json.ts; the `--layers` text: src/io/layer-text.ts), and everything that follows
 * from the list without running it: each layer's output shape, parameters, multiply-adds, and the
 * names and shapes of its tensors.
 *
 * The list is PyTorch's `nn.Sequential` of the same modules, so a layer's index in `ModelSpec.layers`
 * is its index in the Sequential and its tensors are `layers.{index}.weight`, `.bias` (and for batch
 * normalization `.running_mean`, `.running_var`, `.num_batches_tracked`), shaped as PyTorch shapes
 * them (conv2d weight [out, in, kh, kw], linear weight [out, in]). Activations, dropout and flatten
 * hold no tensors but take an index, as they do in PyTorch.
 *
 * Shapes are per sample: [C, H, W] for images and feature maps, [F] for flat features. The image enters
 * the Sequential as [C, H, W], or flattened to [C·H·W] when the first layer that cares about the shape
 * is a linear one (an MLP: its first linear is layers.0, as in version 1). A linear layer needs a flat
 * input; `buildModelSpec` inserts the flatten that a list like "conv 6 5, relu, linear 10" implies.
 *
 * This file imports nothing: `io/`, the PyTorch loader and ONNX export can work from the spec alone.
 */

export type Pair = [number, number];

export type LayerSpec =
  | { type: 'linear'; out: number }
  | { type: 'conv2d'; out: number; kernel: Pair; stride: Pair; padding: Pair }
  | { type: 'maxpool2d'; kernel: Pair; stride: Pair }
  | { type: 'avgpool2d'; kernel: Pair; stride: Pair }
  | { type: 'flatten' }
  | { type: 'relu' }
  | { type: 'tanh' }
  | { type: 'sigmoid' }
  /** No-op; version-1 models with activation 'identity' have one between their linear layers. */
  | { type: 'identity' }
  /** Zeroes each value with probability p while training and scales the rest by 1 / (1 − p). */
  | { type: 'dropout'; p: number }
  /** BatchNorm1d on flat features, BatchNorm2d (per channel) on [C, H, W]. */
  | { type: 'batchnorm'; eps: number; momentum: number };

export type LayerType = LayerSpec['type'];

/** The model: its input (from the data) and every module of the Sequential in order, output layer last. */
export interface ModelSpec {
  /** [channels, height, width] of one image. */
  input: [number, number, number];
  layers: LayerSpec[];
}

/** PyTorch's defaults (torch.nn.BatchNorm1d/2d, torch.nn.Dropout). */
export const BATCHNORM_EPS = 1e-5;
export const BATCHNORM_MOMENTUM = 0.1;
export const DROPOUT_P = 0.5;

/** Builders for layer specs with PyTorch's defaults: stride 1 and padding 0 for conv, stride = kernel for pools. */
export const layer = {
  linear: (out: number): LayerSpec => ({ type: 'linear', out }),
  conv2d: (out: number, kernel: number | Pair, options: { stride?: number | Pair; padding?: number | Pair } = {}): LayerSpec =>
    ({ type: 'conv2d', out, kernel: pair(kernel), stride: pair(options.stride ?? 1), padding: pair(options.padding ?? 0) }),
  maxpool2d: (kernel: number | Pair, stride?: number | Pair): LayerSpec =>
    ({ type: 'maxpool2d', kernel: pair(kernel), stride: pair(stride ?? kernel) }),
  avgpool2d: (kernel: number | Pair, stride?: number | Pair): LayerSpec =>
    ({ type: 'avgpool2d', kernel: pair(kernel), stride: pair(stride ?? kernel) }),
  flatten: (): LayerSpec => ({ type: 'flatten' }),
  relu: (): LayerSpec => ({ type: 'relu' }),
  tanh: (): LayerSpec => ({ type: 'tanh' }),
  sigmoid: (): LayerSpec => ({ type: 'sigmoid' }),
  identity: (): LayerSpec => ({ type: 'identity' }),
  dropout: (p = DROPOUT_P): LayerSpec => ({ type: 'dropout', p }),
  batchnorm: (options: { eps?: number; momentum?: number } = {}): LayerSpec =>
    ({ type: 'batchnorm', eps: options.eps ?? BATCHNORM_EPS, momentum: options.momentum ?? BATCHNORM_MOMENTUM }),
};

function pair(value: number | Pair): Pair {
  return typeof value === 'number' ? [value, value] : [value[0], value[1]];
}

// ---------------------------------------------------------------------------------------------------
// Errors

/**
 * A layer list (the `--layers` text, a preset, or a list given in code) that does not describe a
 * network: names the 1-based item, its text, what is wrong and how to fix it.
 */
export class LayerSpecError extends Error {
  override readonly name = 'LayerSpecError';
  constructor(readonly position: number, readonly text: string, readonly problem: string) {
    super(`layer ${position} ('${text}'): ${problem}`);
  }
}

/** A model spec read from JSON (config.json) that is malformed or does not fit together; names the field. */
export class ModelSpecError extends Error {
  override readonly name = 'ModelSpecError';
  constructor(readonly field: string, readonly problem: string) {
    super(`${field}: ${problem}`);
  }
}

/** One layer in the text grammar; `parseLayers(formatLayer(x))` gives x back. */
export function formatLayer(spec: LayerSpec): string {
  const size = ([h, w]: Pair) => (h === w ? `${h}` : `${h}x${w}`);
  switch (spec.type) {
    case 'linear': return `linear ${spec.out}`;
    case 'conv2d': {
      let text = `conv ${spec.out} ${spec.kernel[0]}x${spec.kernel[1]}`;
      if (spec.stride[0] !== 1 || spec.stride[1] !== 1) text += ` stride ${size(spec.stride)}`;
      if (spec.padding[0] !== 0 || spec.padding[1] !== 0) text += ` pad ${size(spec.padding)}`;
      return text;
    }
    case 'maxpool2d':
    case 'avgpool2d': {
      const text = `${spec.type === 'maxpool2d' ? 'maxpool' : 'avgpool'} ${size(spec.kernel)}`;
      return spec.stride[0] === spec.kernel[0] && spec.stride[1] === spec.kernel[1] ? text : `${text} stride ${size(spec.stride)}`;
    }
    case 'dropout': return `dropout ${spec.p}`;
    case 'batchnorm': {
      let text = 'batchnorm';
      if (spec.eps !== BATCHNORM_EPS) text += ` eps ${spec.eps}`;
      if (spec.momentum !== BATCHNORM_MOMENTUM) text += ` momentum ${spec.momentum}`;
      return text;
    }
    default: return spec.type;
  }
}

/** A layer list in the text grammar (`none` for the empty list). */
export function formatLayers(layers: readonly LayerSpec[]): string {
  return layers.length === 0 ? 'none' : layers.map(formatLayer).join(', ');
}

// ---------------------------------------------------------------------------------------------------
// Checking one layer's fields (for lists built in code or read from JSON)

/** What is wrong with a layer's own fields, or null; each problem says what is expected. */
export function checkLayerFields(spec: LayerSpec): { field: string; problem: string } | null {
  const positiveInt = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 1;
  const checkPair = (field: string, value: unknown, min: number) =>
    Array.isArray(value) && value.length === 2 && value.every((v) => Number.isSafeInteger(v) && v >= min)
      ? null : { field, problem: `is ${JSON.stringify(value)}, expected [height, width] of integers ≥ ${min}` };
  switch (spec.type) {
    case 'linear':
      return positiveInt(spec.out) ? null : { field: 'out', problem: `is ${JSON.stringify(spec.out)}, expected an integer ≥ 1` };
    case 'conv2d':
      if (!positiveInt(spec.out)) return { field: 'out', problem: `is ${JSON.stringify(spec.out)}, expected a channel count ≥ 1` };
      return checkPair('kernel', spec.kernel, 1) ?? checkPair('stride', spec.stride, 1) ?? checkPair('padding', spec.padding, 0);
    case 'maxpool2d':
    case 'avgpool2d':
      return checkPair('kernel', spec.kernel, 1) ?? checkPair('stride', spec.stride, 1);
    case 'dropout':
      return typeof spec.p === 'number' && spec.p >= 0 && spec.p < 1 ? null
        : { field: 'p', problem: `is ${JSON.stringify(spec.p)}, expected a probability in [0, 1)` };
    case 'batchnorm':
      if (!(typeof spec.eps === 'number' && spec.eps > 0 && Number.isFinite(spec.eps))) {
        return { field: 'eps', problem: `is ${JSON.stringify(spec.eps)}, expected a number in (0, ∞)` };
      }
      return typeof spec.momentum === 'number' && spec.momentum >= 0 && spec.momentum <= 1 ? null
        : { field: 'momentum', problem: `is ${JSON.stringify(spec.momentum)}, expected a number in [0, 1]` };
    case 'flatten': case 'relu': case 'tanh': case 'sigmoid': case 'identity':
      return null;
    default:
      return { field: 'type', problem: `is ${JSON.stringify((spec as { type: unknown }).type)}, expected one of ${LAYER_TYPES.join(', ')}` };
  }
}

export const LAYER_TYPES: readonly LayerType[] = [
  'linear', 'conv2d', 'maxpool2d', 'avgpool2d', 'flatten', 'relu', 'tanh', 'sigmoid', 'identity', 'dropout', 'batchnorm',
];

// ---------------------------------------------------------------------------------------------------
// Shapes, parameters, multiply-adds, tensors

/** [C, H, W] or [F], per sample. */
export type Shape = readonly number[];

export interface TensorSpec {
  /** The state_dict name: `layers.3.weight`. */
  name: string;
  shape: number[];
  /** num_batches_tracked is PyTorch's int64 scalar; everything else float32. */
  dtype: 'F32' | 'I64';
  /** Weights and biases are trained; running statistics are buffers. */
  trainable: boolean;
}

export interface LayerInfo {
  /** Index in the Sequential (and in ModelSpec.layers). */
  index: number;
  layer: LayerSpec;
  /** The torch.nn class of the same module: 'Conv2d', 'BatchNorm1d', … */
  module: string;
  input: Shape;
  output: Shape;
  /** Trainable parameters (weights and biases; running statistics are not counted, as in PyTorch). */
  params: number;
  /**
   * Multiplications by a weight in one sample's forward pass: out·in for linear, out·OH·OW·in·kh·kw
   * for conv2d, one per value for batchnorm (scale and shift folded), 0 for the rest. torchinfo's
   * "Mult-Adds" also counts a bias addition per output.
   */
  multiplyAdds: number;
  tensors: TensorSpec[];
}

export interface ModelSummary {
  input: Shape;
  output: Shape;
  layers: LayerInfo[];
  params: number;
  multiplyAdds: number;
}

const SHAPE_AGNOSTIC: ReadonlySet<LayerType> = new Set(['relu', 'tanh', 'sigmoid', 'identity', 'dropout', 'batchnorm']);

const product = (shape: Shape) => shape.reduce((a, b) => a * b, 1);
const showShape = (shape: Shape) => `[${shape.join(', ')}]`;

/**
 * The shape the image enters the Sequential with: [C, H, W], or [C·H·W] when the first layer that
 * depends on the shape is a linear one (an MLP: the PyTorch module flattens the image before layers.0).
 */
export function sequentialInputShape(input: readonly [number, number, number], layers: readonly LayerSpec[]): Shape {
  const first = layers.find((l) => !SHAPE_AGNOSTIC.has(l.type));
  return first?.type === 'linear' ? [product(input)] : [...input];
}

/** One layer's information at `index` given its input shape, or the problem that stops it. */
function layerInfo(spec: LayerSpec, index: number, input: Shape): LayerInfo | string {
  const base = { index, layer: spec, input };
  const name = (tensor: string) => `layers.${index}.${tensor}`;
  const trained = (tensor: string, shape: number[]): TensorSpec => ({ name: name(tensor), shape, dtype: 'F32', trainable: true });
  const spatial = (what: string): string | null =>
    input.length === 3 ? null : `${what} needs a [channels, height, width] input but gets ${showShape(input)}: ` +
      'spatial layers go before the flatten and the linear layers';
  const slide = (kernel: Pair, stride: Pair, padding: Pair, what: string): Pair | string => {
    const [, h, w] = input;
    const ph = h + 2 * padding[0];
    const pw = w + 2 * padding[1];
    if (kernel[0] > ph || kernel[1] > pw) {
      return `the ${kernel[0]}x${kernel[1]} ${what} does not fit the ${h}x${w} input` +
        (padding[0] || padding[1] ? ` padded to ${ph}x${pw}` : '') +
        ': use a smaller kernel, more padding, or fewer pooling or strided layers before it';
    }
    return [Math.floor((ph - kernel[0]) / stride[0]) + 1, Math.floor((pw - kernel[1]) / stride[1]) + 1];
  };
  switch (spec.type) {
    case 'linear': {
      if (input.length !== 1) return `linear needs flat features but gets ${showShape(input)}: put a flatten before it`;
      const features = input[0];
      return {
        ...base, module: 'Linear', output: [spec.out],
        params: spec.out * features + spec.out, multiplyAdds: spec.out * features,
        tensors: [trained('weight', [spec.out, features]), trained('bias', [spec.out])],
      };
    }
    case 'conv2d': {
      const problem = spatial('conv2d');
      if (problem) return problem;
      const size = slide(spec.kernel, spec.stride, spec.padding, 'kernel');
      if (typeof size === 'string') return size;
      const channels = input[0];
      const weights = spec.out * channels * spec.kernel[0] * spec.kernel[1];
      return {
        ...base, module: 'Conv2d', output: [spec.out, size[0], size[1]],
        params: weights + spec.out, multiplyAdds: weights * size[0] * size[1],
        tensors: [trained('weight', [spec.out, channels, spec.kernel[0], spec.kernel[1]]), trained('bias', [spec.out])],
      };
    }
    case 'maxpool2d':
    case 'avgpool2d': {
      const problem = spatial(spec.type);
      if (problem) return problem;
      const size = slide(spec.kernel, spec.stride, [0, 0], 'pooling window');
      if (typeof size === 'string') return size;
      return {
        ...base, module: spec.type === 'maxpool2d' ? 'MaxPool2d' : 'AvgPool2d', output: [input[0], size[0], size[1]],
        params: 0, multiplyAdds: 0, tensors: [],
      };
    }
    case 'flatten':
      return { ...base, module: 'Flatten', output: [product(input)], params: 0, multiplyAdds: 0, tensors: [] };
    case 'batchnorm': {
      const channels = input[0];
      const stat = (tensor: string): TensorSpec => ({ name: name(tensor), shape: [channels], dtype: 'F32', trainable: false });
      return {
        ...base, module: input.length === 3 ? 'BatchNorm2d' : 'BatchNorm1d', output: input,
        params: 2 * channels, multiplyAdds: product(input),
        tensors: [
          trained('weight', [channels]), trained('bias', [channels]), stat('running_mean'), stat('running_var'),
          { name: name('num_batches_tracked'), shape: [], dtype: 'I64', trainable: false },
        ],
      };
    }
    default: {
      const modules: Record<string, string> = { relu: 'ReLU', tanh: 'Tanh', sigmoid: 'Sigmoid', identity: 'Identity', dropout: 'Dropout' };
      return { ...base, module: modules[spec.type], output: input, params: 0, multiplyAdds: 0, tensors: [] };
    }
  }
}

export function checkInputShape(input: unknown): string | null {
  return Array.isArray(input) && input.length === 3 && input.every((v) => Number.isSafeInteger(v) && v >= 1)
    ? null : `is ${JSON.stringify(input)}, expected [channels, height, width] of integers ≥ 1`;
}

/**
 * Every layer's shapes, parameters, multiply-adds and tensors, and the totals. Throws ModelSpecError
 * (field `layers[i]`) when a layer's fields are wrong or it does not fit its input, or when the model's
 * output is not flat (a classifier ends with its output linear).
 */
export function summarizeModel(spec: ModelSpec): ModelSummary {
  const inputProblem = checkInputShape(spec.input);
  if (inputProblem) throw new ModelSpecError('input', inputProblem);
  if (!Array.isArray(spec.layers) || spec.layers.length === 0) {
    throw new ModelSpecError('layers', 'expected a non-empty list of layers ending with the output linear');
  }
  const input = sequentialInputShape(spec.input, spec.layers);
  const layers: LayerInfo[] = [];
  let shape = input;
  spec.layers.forEach((l, i) => {
    const fields = checkLayerFields(l);
    if (fields) throw new ModelSpecError(`layers[${i}].${fields.field}`, fields.problem);
    const info = layerInfo(l, i, shape);
    if (typeof info === 'string') throw new ModelSpecError(`layers[${i}]`, `${formatLayer(l)}: ${info}`);
    layers.push(info);
    shape = info.output;
  });
  if (shape.length !== 1) {
    throw new ModelSpecError('layers', `the output is ${showShape(shape)}; the last layer must be the output linear with one output per class`);
  }
  return {
    input, output: shape, layers,
    params: layers.reduce((sum, l) => sum + l.params, 0),
    multiplyAdds: layers.reduce((sum, l) => sum + l.multiplyAdds, 0),
  };
}

/** The state_dict of the model's nn.Sequential (under the attribute `layers`), in PyTorch's order. */
export function modelTensors(spec: ModelSpec): TensorSpec[] {
  return summarizeModel(spec).layers.flatMap((l) => l.tensors);
}

/** The class count: the output linear's size. */
export function classCount(spec: ModelSpec): number {
  return summarizeModel(spec).output[0];
}

/**
 * The model for `layers` (as written or parsed) on images of shape `input` with `classes` classes:
 * the list with the flattens it implies (one before a linear that follows spatial layers) and the
 * output `linear classes` appended. Throws LayerSpecError naming the item of `layers` that is wrong.
 */
export function buildModelSpec(input: readonly [number, number, number], layers: readonly LayerSpec[], classes: number): ModelSpec {
  const inputProblem = checkInputShape(input);
  if (inputProblem) throw new RangeError(`the input shape ${inputProblem}`);
  if (!Number.isSafeInteger(classes) || classes < 2) throw new RangeError(`the class count must be an integer ≥ 2, got ${classes}`);
  const all = [...layers, layer.linear(classes)];
  const textOf = (i: number) => (i < layers.length ? formatLayer(layers[i]) : `output linear ${classes}`);
  const out: LayerSpec[] = [];
  let shape = sequentialInputShape(input, all);
  all.forEach((l, i) => {
    const fields = checkLayerFields(l);
    if (fields) throw new LayerSpecError(i + 1, textOf(i), `${fields.field} ${fields.problem}`);
    if (l.type === 'linear' && shape.length === 3) {
      out.push(layer.flatten());
      shape = [product(shape)];
    }
    const info = layerInfo(l, out.length, shape);
    if (typeof info === 'string') throw new LayerSpecError(i + 1, textOf(i), info);
    out.push(l);
    shape = info.output;
  });
  return { input: [input[0], input[1], input[2]], layers: out };
}

// ---------------------------------------------------------------------------------------------------
// Version 1: the MLP described by hidden sizes and one activation

export type MlpActivation = 'relu' | 'sigmoid' | 'tanh' | 'identity';

export interface MlpDescription {
  /** [height, width] of the images. */
  inputShape: readonly [number, number];
  hidden: readonly number[];
  activation: MlpActivation;
  classes: number;
}

/** The hidden part of a version-1 MLP as a layer list: `linear h, act` per hidden layer. */
export function mlpLayers(hidden: readonly number[], activation: MlpActivation): LayerSpec[] {
  return hidden.flatMap((out) => [layer.linear(out), { type: activation } as LayerSpec]);
}

/**
 * A version-1 model (config `hidden` + `activation`) as a model spec, with the same tensor names:
 * layers.0 is the first linear, layers.2 the next, … (each linear is followed by its activation).
 */
export function modelSpecFromMlp(mlp: MlpDescription): ModelSpec {
  return buildModelSpec([1, mlp.inputShape[0], mlp.inputShape[1]], mlpLayers(mlp.hidden, mlp.activation), mlp.classes);
}

/**
 * The hidden sizes and activation when `spec` is exactly a version-1 MLP (linear, act, …, linear on
 * one-channel images), else null.
 */
export function mlpOf(spec: ModelSpec): { hidden: number[]; activation: MlpActivation } | null {
  const layers = spec.layers;
  if (spec.input[0] !== 1 || layers.length % 2 !== 1 || layers[layers.length - 1].type !== 'linear') return null;
  const hidden: number[] = [];
  let activation: MlpActivation | null = null;
  for (let i = 0; i + 1 < layers.length; i += 2) {
    const linear = layers[i];
    const act = layers[i + 1].type;
    if (linear.type !== 'linear' || !(act === 'relu' || act === 'sigmoid' || act === 'tanh' || act === 'identity')) return null;
    if (activation !== null && act !== activation) return null;
    activation = act;
    hidden.push(linear.out);
  }
  return { hidden, activation: activation ?? 'relu' };
}

/**
 * A model in one line, for listings and logs: `784-800-10` (inputs, hidden sizes, classes; as version 1
 * showed it) for a version-1-shaped MLP, else the layers as `--layers` text without the output linear
 * and without the flattens buildModelSpec implies (`conv 6 5x5 pad 2, relu, maxpool 2, …`), so that
 * `buildModelSpec(spec.input, parseLayers(text), classes)` gives the spec back.
 */
export function describeModel(spec: ModelSpec): string {
  const { layers } = spec;
  const last = layers[layers.length - 1];
  const mlp = mlpOf(spec);
  if (mlp && last.type === 'linear') return [product(spec.input), ...mlp.hidden, last.out].join('-');
  const inputs = summarizeModel(spec).layers.map((l) => l.input);
  const spatial = (l: LayerSpec) => l.type === 'conv2d' || l.type === 'maxpool2d' || l.type === 'avgpool2d';
  // The flatten buildModelSpec inserts: between spatial layers and a linear. A flatten with no spatial
  // layer before it is written, since without it the image would enter flattened and the indices shift.
  const implied = (l: LayerSpec, i: number) =>
    l.type === 'flatten' && layers[i + 1]?.type === 'linear' && inputs[i].length === 3 && layers.slice(0, i).some(spatial);
  const written = layers.filter((l, i) => !implied(l, i) && !(i === layers.length - 1 && l.type === 'linear'));
  return formatLayers(written);
}
