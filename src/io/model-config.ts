/**
 * The `config.json` of a model folder: everything needed to rebuild the network around the weights in
 * `model.safetensors`, plus how it was trained and how well it did.
 *
 * Version 2 (format "digitlab") holds the model as a layer list (a ModelSpec, as model-spec-json.ts
 * writes it). Version 1 (format "digitlab-mlp") described an MLP by its hidden sizes and one
 * activation; it is still read, and converted in memory to the same model as version 2 with the same
 * tensor names (layers.0, layers.2, …), so a version-1 folder loads with its weights as they are.
 */
import { modelSpecFromJson, modelSpecToJson } from './model-spec-json.js';
import { classCount, ModelSpecError, modelSpecFromMlp, type MlpActivation, type ModelSpec } from './model-spec.js';

export const MODEL_FORMAT = 'digitlab';
export const MODEL_VERSION = 2;
/** The format name of version-1 files. */
export const MODEL_FORMAT_V1 = 'digitlab-mlp';

/** The format each version this digitlab reads says it is. */
const FORMAT_OF_VERSION: Readonly<Record<number, string>> = { 1: MODEL_FORMAT_V1, 2: MODEL_FORMAT };
const READ_VERSIONS = 'versions 1 and 2';

export interface ModelConfig {
  format: 'digitlab';
  version: 2;
  /** The layer list, output linear last; `model.input` is [channels, height, width]. */
  model: ModelSpec;
  /** [height, width] of `model.input`, kept for readers that only need the image size; must agree. */
  inputShape: [number, number];
  /** Output nodes, one per class: the output linear's size (must agree with the model). */
  classes: number;
  /** The input layer receives pixel / pixelMax. */
  normalization: { pixelMax: number };
  /** Optional display names of the classes (default: '0'…'9'). */
  labels?: string[];
  /** Training settings (free-form, written by train/). */
  training?: Record<string, unknown>;
  /** Final metrics (free-form, written by train/). */
  metrics?: Record<string, unknown>;
}

/** A version-1 config.json, as digitlab wrote it before layer lists; read with `validateModelConfig` or `modelConfigFromV1`. */
export interface ModelConfigV1 {
  format: 'digitlab-mlp';
  version: 1;
  /** Image shape the model reads, [height, width]; the input layer has height·width nodes. */
  inputShape: [number, number];
  classes: number;
  /** Nodes of each hidden layer, in order (may be empty: a linear classifier). */
  hidden: number[];
  activation: MlpActivation;
  normalization: { pixelMax: number };
  labels?: string[];
  training?: Record<string, unknown>;
  metrics?: Record<string, unknown>;
}

/** One named tensor as stored in safetensors: PyTorch's names and shapes (`layers.0.weight` is [out, in]). */
export interface NamedTensor {
  name: string;
  shape: number[];
  /**
   * How the tensor is stored (default F32). I64 is PyTorch's int64, for counters such as BatchNorm's
   * `num_batches_tracked`: `data` still holds the values, integers, exact up to 2^24.
   */
  dtype?: 'F32' | 'I64';
  data: Float32Array;
}

/** config.json is unreadable JSON or does not describe a model digitlab can build. */
export class ModelConfigError extends Error {
  override readonly name = 'ModelConfigError';
  constructor(readonly path: string, readonly problems: string[]) {
    super(
      `invalid model config ${path}: ${problems.join('; ')}. ` +
        'Fix the file by hand, or save the model again with digitlab.',
    );
  }
}

const V2_FIELDS = ['format', 'version', 'model', 'inputShape', 'classes', 'normalization', 'labels', 'training', 'metrics'];
const V1_ONLY_FIELDS = new Set(['hidden', 'activation']);
const MLP_ACTIVATIONS: readonly MlpActivation[] = ['relu', 'sigmoid', 'tanh', 'identity'];

function isPositiveInteger(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) > 0;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const show = (item: unknown): string => (item === undefined ? 'missing' : JSON.stringify(item));
const showShape = (shape: readonly number[]) => `[${shape.join(', ')}]`;

/** Which version's fields to check: the version when it is one this digitlab reads, else the format's, else none. */
function checkFormatAndVersion(value: Record<string, unknown>, problems: string[]): 1 | 2 | null {
  const { format, version } = value;
  const knownVersion = version === 1 || version === 2;
  const knownFormat = format === MODEL_FORMAT || format === MODEL_FORMAT_V1;
  if (!knownFormat) {
    problems.push(`format is ${show(format)}, expected "${MODEL_FORMAT}" (version 2) or "${MODEL_FORMAT_V1}" (version 1)`);
  }
  if (!knownVersion) {
    const newer = typeof version === 'number' && version > MODEL_VERSION;
    problems.push(
      `version is ${show(version)}; this digitlab reads ${READ_VERSIONS}` +
        (newer ? ' (written by a newer digitlab: upgrade digitlab to read it)' : ''),
    );
    // A newer version's fields are unknown here: checking them as version 2 would only add noise.
    if (newer || !knownFormat) return null;
    return format === MODEL_FORMAT ? 2 : 1;
  }
  if (knownFormat && FORMAT_OF_VERSION[version] !== format) {
    problems.push(
      `format is ${show(format)} but version is ${version}: version 2 files say "${MODEL_FORMAT}", ` +
        `version 1 files "${MODEL_FORMAT_V1}"`,
    );
  }
  return version;
}

/** normalization, labels, training and metrics: the same in both versions. */
function checkCommonFields(value: Record<string, unknown>, classes: number | null, problems: string[]): void {
  const { normalization, labels, training, metrics } = value;
  if (
    !isPlainObject(normalization) ||
    typeof normalization.pixelMax !== 'number' ||
    !Number.isFinite(normalization.pixelMax) ||
    normalization.pixelMax <= 0
  ) {
    problems.push(`normalization is ${show(normalization)}, expected {"pixelMax": a positive number}`);
  }
  if (labels !== undefined) {
    if (!Array.isArray(labels) || !labels.every((label) => typeof label === 'string')) {
      problems.push(`labels is ${show(labels)}, expected a list of strings`);
    } else if (classes !== null && labels.length !== classes) {
      problems.push(`labels has ${labels.length} names but classes is ${classes}: give one name per class`);
    }
  }
  if (training !== undefined && !isPlainObject(training)) problems.push(`training is ${show(training)}, expected an object`);
  if (metrics !== undefined && !isPlainObject(metrics)) problems.push(`metrics is ${show(metrics)}, expected an object`);
}

function checkInputShape(inputShape: unknown, problems: string[]): inputShape is [number, number] {
  if (Array.isArray(inputShape) && inputShape.length === 2 && inputShape.every(isPositiveInteger)) return true;
  problems.push(`inputShape is ${show(inputShape)}, expected [height, width] of positive integers`);
  return false;
}

function checkClasses(classes: unknown, problems: string[]): classes is number {
  if (isPositiveInteger(classes)) return true;
  problems.push(`classes is ${show(classes)}, expected a positive integer`);
  return false;
}

/** The fields of a config both versions share, copied, without keys that are absent. */
function commonFields(value: Record<string, unknown>): Pick<ModelConfig, 'normalization' | 'labels' | 'training' | 'metrics'> {
  const { normalization, labels, training, metrics } = value as unknown as ModelConfig;
  return {
    normalization: { ...normalization },
    ...(labels !== undefined ? { labels: [...labels] } : {}),
    ...(training !== undefined ? { training } : {}),
    ...(metrics !== undefined ? { metrics } : {}),
  };
}

/** The model part of a version-2 config, or null after noting its problems. */
function checkModel(value: unknown, problems: string[]): ModelSpec | null {
  if (value === undefined) {
    problems.push('model is missing, expected {"input": [channels, height, width], "layers": [...]} with the output linear last');
    return null;
  }
  let spec: ModelSpec;
  try {
    spec = modelSpecFromJson(value, 'model');
  } catch (error) {
    if (!(error instanceof ModelSpecError)) throw error;
    // ModelSpecError's problems read as the field's predicate ("is …, expected …") or as a sentence.
    problems.push(error.problem.startsWith('is ') ? `${error.field} ${error.problem}` : `${error.field}: ${error.problem}`);
    return null;
  }
  const last = spec.layers.length - 1;
  if (spec.layers[last].type !== 'linear') {
    problems.push(`model.layers[${last}] is ${spec.layers[last].type}; the last layer must be the output linear, one output per class`);
    return null;
  }
  return spec;
}

function validateV2(value: Record<string, unknown>, problems: string[]): ModelConfig | null {
  for (const key of Object.keys(value)) {
    if (V1_ONLY_FIELDS.has(key)) {
      problems.push(`${key} is a version-1 field; a version-2 config describes the layers in model (remove ${key})`);
    } else if (!V2_FIELDS.includes(key)) {
      problems.push(`${key} is not a field of a version-2 config (the fields are ${V2_FIELDS.join(', ')}; free-form facts go under training or metrics)`);
    }
  }
  const spec = checkModel(value.model, problems);
  const { inputShape, classes } = value;
  if (checkInputShape(inputShape, problems) && spec && (inputShape[0] !== spec.input[1] || inputShape[1] !== spec.input[2])) {
    problems.push(
      `inputShape is ${showShape(inputShape)} but model.input is ${showShape(spec.input)}: ` +
        `inputShape must be model.input's [height, width], ${showShape(spec.input.slice(1))}`,
    );
  }
  const classesOk = checkClasses(classes, problems);
  if (classesOk && spec) {
    const outputs = classCount(spec);
    if (outputs !== classes) {
      problems.push(`classes is ${classes} but the output layer model.layers[${spec.layers.length - 1}] has ${outputs} outputs: make them agree`);
    }
  }
  checkCommonFields(value, classesOk ? classes : null, problems);
  if (problems.length > 0 || !spec) return null;
  return {
    format: MODEL_FORMAT,
    version: MODEL_VERSION,
    model: spec,
    inputShape: [(inputShape as number[])[0], (inputShape as number[])[1]],
    classes: classes as number,
    ...commonFields(value),
  };
}

function validateV1(value: Record<string, unknown>, problems: string[]): ModelConfig | null {
  const { inputShape, classes, hidden, activation } = value;
  checkInputShape(inputShape, problems);
  const classesOk = checkClasses(classes, problems);
  if (!Array.isArray(hidden) || !hidden.every(isPositiveInteger)) {
    problems.push(`hidden is ${show(hidden)}, expected a list of positive integers (the size of each hidden layer; [] for none)`);
  }
  if (!MLP_ACTIVATIONS.includes(activation as MlpActivation)) {
    problems.push(`activation is ${show(activation)}, expected one of ${MLP_ACTIVATIONS.join(', ')}`);
  }
  checkCommonFields(value, classesOk ? classes : null, problems);
  if (problems.length > 0) return null;
  try {
    return modelConfigFromV1(value as unknown as ModelConfigV1);
  } catch (error) {
    problems.push(`the version-1 model does not convert to a layer list: ${(error as Error).message}`);
    return null;
  }
}

/**
 * Checks a parsed config.json of version 2, or of version 1 (converted to version 2), and returns it as
 * a version-2 ModelConfig; throws ModelConfigError listing every problem, each naming its field
 * (`path` names the file in the message).
 */
export function validateModelConfig(value: unknown, path: string): ModelConfig {
  if (!isPlainObject(value)) throw new ModelConfigError(path, ['expected a JSON object']);
  const problems: string[] = [];
  const version = checkFormatAndVersion(value, problems);
  const config = version === 2 ? validateV2(value, problems) : version === 1 ? validateV1(value, problems) : null;
  if (problems.length > 0 || !config) throw new ModelConfigError(path, problems);
  return config;
}

/** A version-1 config as version 2: the MLP as its layer list (same tensor names), the other fields kept. */
export function modelConfigFromV1(config: ModelConfigV1): ModelConfig {
  return {
    format: MODEL_FORMAT,
    version: MODEL_VERSION,
    model: modelSpecFromMlp(config),
    inputShape: [config.inputShape[0], config.inputShape[1]],
    classes: config.classes,
    ...commonFields(config as unknown as Record<string, unknown>),
  };
}

/** The config as config.json holds it: `model` as modelSpecToJson writes it, fields in a fixed order. */
export function modelConfigToJson(config: ModelConfig): Record<string, unknown> {
  return {
    format: config.format,
    version: config.version,
    model: modelSpecToJson(config.model),
    inputShape: [...config.inputShape],
    classes: config.classes,
    normalization: config.normalization,
    ...(config.labels !== undefined ? { labels: config.labels } : {}),
    ...(config.training !== undefined ? { training: config.training } : {}),
    ...(config.metrics !== undefined ? { metrics: config.metrics } : {}),
  };
}
