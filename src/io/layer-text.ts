/**
 * The layer lists people write: the command line's `--layers` text and the named presets. Items are
 * separated by commas, words by spaces:
 *
 *   conv 6 5x5 pad 2, relu, maxpool 2, conv 16 5x5, relu, maxpool 2, linear 120, relu, linear 84, relu
 *
 *   linear OUT                      conv OUT KERNEL [stride S] [pad P]   (KERNEL, S, P: N or HxW)
 *   maxpool KERNEL [stride S]       avgpool KERNEL [stride S]            (stride defaults to the kernel)
 *   relu | tanh | sigmoid | identity | flatten | dropout [P] | batchnorm [eps E] [momentum M]
 *
 * `formatLayers` (src/io/model-spec.ts) writes a list back in this grammar.
 */
import {
  BATCHNORM_EPS, BATCHNORM_MOMENTUM, DROPOUT_P, LayerSpecError, type LayerSpec, type LayerType, type Pair,
} from './model-spec.js';

export class UnknownPresetError extends Error {
  override readonly name = 'UnknownPresetError';
  constructor(readonly preset: string) {
    super(`unknown preset '${preset}': the presets are ${Object.keys(PRESETS).join(', ')}`);
  }
}

const KINDS: Record<string, LayerType> = {
  linear: 'linear',
  conv: 'conv2d', conv2d: 'conv2d',
  maxpool: 'maxpool2d', maxpool2d: 'maxpool2d',
  avgpool: 'avgpool2d', avgpool2d: 'avgpool2d',
  flatten: 'flatten',
  relu: 'relu', tanh: 'tanh', sigmoid: 'sigmoid', identity: 'identity',
  dropout: 'dropout',
  batchnorm: 'batchnorm',
};

/** How each layer type is written, for error messages. */
const SYNTAX: Record<LayerType, string> = {
  linear: 'linear OUT (e.g. linear 120)',
  conv2d: 'conv OUT KERNEL [stride S] [pad P] (e.g. conv 6 5x5 pad 2; KERNEL, S and P are N or HxW)',
  maxpool2d: 'maxpool KERNEL [stride S] (e.g. maxpool 2)',
  avgpool2d: 'avgpool KERNEL [stride S] (e.g. avgpool 2)',
  flatten: 'flatten',
  relu: 'relu',
  tanh: 'tanh',
  sigmoid: 'sigmoid',
  identity: 'identity',
  dropout: 'dropout [P] (e.g. dropout 0.5)',
  batchnorm: 'batchnorm [eps E] [momentum M]',
};

const KIND_WORDS = ['linear', 'conv', 'maxpool', 'avgpool', 'flatten', 'relu', 'tanh', 'sigmoid', 'dropout', 'batchnorm'];

/**
 * Parses the layer list of the command line into specs, in the order written (no flatten is implied
 * yet: `buildModelSpec` does that). An empty text or `none` is the empty list (a linear classifier).
 * Throws LayerSpecError naming the item.
 */
export function parseLayers(text: string): LayerSpec[] {
  const trimmed = text.trim();
  if (trimmed === '' || trimmed.toLowerCase() === 'none') return [];
  return trimmed.split(',').map((item, i) => parseLayer(item.trim(), i + 1));
}

function parseLayer(item: string, position: number): LayerSpec {
  const fail = (problem: string): LayerSpecError => new LayerSpecError(position, item, problem);
  if (item === '') throw fail('the item is empty: remove the extra comma');
  const words = item.toLowerCase().split(/\s+/);
  const type = KINDS[words[0]];
  if (type === undefined) {
    const near = closest(words[0], KIND_WORDS);
    throw fail(`unknown layer '${words[0]}': ${near ? `did you mean ${near}? The` : 'the'} layers are ${KIND_WORDS.join(', ')}`);
  }
  const usage = `write it as ${SYNTAX[type]}`;

  // words after the kind: positional values first, then `keyword value` options
  const positional: string[] = [];
  const options = new Map<string, string>();
  const keywords = type === 'conv2d' ? ['stride', 'pad', 'padding'] : type === 'maxpool2d' || type === 'avgpool2d'
    ? ['stride'] : type === 'batchnorm' ? ['eps', 'momentum'] : [];
  for (let w = 1; w < words.length; w++) {
    const word = words[w];
    if (keywords.includes(word)) {
      const key = word === 'padding' ? 'pad' : word;
      if (options.has(key)) throw fail(`'${key}' is given twice; ${usage}`);
      if (w + 1 >= words.length) throw fail(`'${word}' needs a value; ${usage}`);
      options.set(key, words[++w]);
    } else if (options.size > 0 || /^[a-z]/.test(word)) {
      throw fail(`'${word}' is not understood; ${usage}`);
    } else {
      positional.push(word);
    }
  }
  const expectPositional = (min: number, max: number) => {
    if (positional.length < min) throw fail(`missing ${min === 1 && max === 1 ? 'a value' : 'values'}; ${usage}`);
    if (positional.length > max) throw fail(`'${positional[max]}' is one value too many; ${usage}`);
  };
  const integer = (word: string, what: string, min: number): number => {
    const value = /^\d+$/.test(word) ? Number(word) : NaN;
    if (!Number.isSafeInteger(value) || value < min) throw fail(`${what} '${word}' must be an integer ≥ ${min}; ${usage}`);
    return value;
  };
  const sizePair = (word: string, what: string, min: number): Pair => {
    const parts = word.split(/[x×]/);
    if (parts.length > 2) throw fail(`${what} '${word}' must be N or HxW; ${usage}`);
    const first = integer(parts[0], what, min);
    return [first, parts.length === 2 ? integer(parts[1], what, min) : first];
  };
  const fraction = (word: string, what: string, range: string, ok: (v: number) => boolean): number => {
    const value = /^[0-9.e+-]+$/.test(word) ? Number(word) : NaN;
    if (!Number.isFinite(value) || !ok(value)) throw fail(`${what} '${word}' must be a number in ${range}; ${usage}`);
    return value;
  };

  switch (type) {
    case 'linear':
      expectPositional(1, 1);
      return { type, out: integer(positional[0], 'the output size', 1) };
    case 'conv2d': {
      expectPositional(2, 2);
      const stride = options.get('stride');
      const pad = options.get('pad');
      return {
        type,
        out: integer(positional[0], 'the channel count', 1),
        kernel: sizePair(positional[1], 'the kernel', 1),
        stride: stride === undefined ? [1, 1] : sizePair(stride, 'the stride', 1),
        padding: pad === undefined ? [0, 0] : sizePair(pad, 'the padding', 0),
      };
    }
    case 'maxpool2d':
    case 'avgpool2d': {
      expectPositional(1, 1);
      const kernel = sizePair(positional[0], 'the kernel', 1);
      const stride = options.get('stride');
      return { type, kernel, stride: stride === undefined ? [kernel[0], kernel[1]] : sizePair(stride, 'the stride', 1) };
    }
    case 'dropout':
      expectPositional(0, 1);
      return { type, p: positional.length === 0 ? DROPOUT_P : fraction(positional[0], 'the probability', '[0, 1)', (v) => v >= 0 && v < 1) };
    case 'batchnorm': {
      expectPositional(0, 0);
      const eps = options.get('eps');
      const momentum = options.get('momentum');
      return {
        type,
        eps: eps === undefined ? BATCHNORM_EPS : fraction(eps, 'eps', '(0, ∞)', (v) => v > 0),
        momentum: momentum === undefined ? BATCHNORM_MOMENTUM : fraction(momentum, 'momentum', '[0, 1]', (v) => v >= 0 && v <= 1),
      };
    }
    default:
      expectPositional(0, 0);
      return { type };
  }
}

/** The known word nearest to `word` by edit distance, if it is near enough to be a typo. */
function closest(word: string, candidates: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(word, candidate);
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return bestDistance <= Math.max(1, Math.floor(word.length / 3)) ? best : null;
}

/** Edits (insert, delete, substitute, swap two neighbours) that turn a into b. */
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      rows[i][j] = Math.min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) rows[i][j] = Math.min(rows[i][j], rows[i - 2][j - 2] + 1);
    }
  }
  return rows[a.length][b.length];
}

export interface Preset {
  layers: string;
  description: string;
  /**
   * The learning-rate schedule this network trains best with under Adam's defaults (the schedule text
   * of `--schedule`): what `digitlab train --preset` uses when neither a schedule nor a rate is given.
   * Measured on MNIST (README, "Convolutional networks").
   */
  schedule: string;
  /**
   * The rest of a whole training recipe, for presets that are one: the augmentation (`--augment`'s
   * text), epochs and batch size that `digitlab train --preset` uses where the command line gives none.
   */
  augment?: string;
  epochs?: number;
  batchSize?: number;
}

export const PRESETS: Readonly<Record<string, Preset>> = {
  lenet5: {
    layers: 'conv 6 5x5 pad 2, relu, maxpool 2, conv 16 5x5, relu, maxpool 2, linear 120, relu, linear 84, relu',
    description: 'LeNet-5 (LeCun et al., 1998) as built today: ReLU and max pooling; 61,706 parameters on 28×28 digits',
    schedule: 'onecycle:0.01',
  },
  cnn: {
    layers: 'conv 24 5x5, maxpool 2, relu, conv 32 3x3, maxpool 2, relu, linear 256, relu',
    description: 'two convolutions and a wide linear layer; 215,194 parameters on 28×28 digits',
    schedule: 'onecycle:0.01',
  },
  'cnn-bn': {
    layers: 'conv 32 5x5, batchnorm, relu, maxpool 2, conv 64 3x3, batchnorm, relu, maxpool 2, linear 256, relu, dropout 0.5',
    description: 'wider convolutions with batch norm, and dropout before the output layer; 431,946 parameters on 28×28 digits',
    schedule: 'onecycle:0.005',
  },
  best: {
    layers: 'conv 32 5x5, batchnorm, relu, maxpool 2, conv 64 3x3, batchnorm, relu, maxpool 2, linear 256, relu, dropout 0.5',
    description: 'the most accurate recipe: cnn-bn trained on affine-distorted digits, 20 epochs of batch 128 (99.53–99.66% on MNIST\'s test set over three seeds)',
    schedule: 'onecycle:0.005',
    augment: 'affine',
    epochs: 20,
    batchSize: 128,
  },
};

/** The named preset, or undefined for an absent or unknown name. */
export function presetNamed(name: string | undefined): Preset | undefined {
  return name !== undefined && Object.hasOwn(PRESETS, name) ? PRESETS[name] : undefined;
}

/**
 * The schedule text a run of preset `name` takes by default: the preset's own when the optimizer is
 * Adam and no rate was chosen (its recipe assumes Adam's default rate as the base), else null. An
 * unknown or absent preset gives null (presetLayers is what refuses an unknown name).
 */
export function presetSchedule(name: string | undefined, optimizer: string, lrGiven: boolean): string | null {
  const preset = presetNamed(name);
  if (preset === undefined || optimizer !== 'adam' || lrGiven) return null;
  return preset.schedule;
}

/** A preset's layer list (the output linear is appended by buildModelSpec). */
export function presetLayers(name: string): LayerSpec[] {
  const preset = presetNamed(name);
  if (!preset) throw new UnknownPresetError(name);
  return parseLayers(preset.layers);
}
