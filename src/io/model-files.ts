/**
 * A trained model on disk is a folder: `config.json` (a ModelConfig: the architecture, normalization,
 * training settings) and `model.safetensors` (the weights, named and shaped as PyTorch names them for
 * a module whose `layers` is `nn.Sequential(Linear, Act, Linear, Act, …, Linear)`), so the same folder
 * loads in digitlab and, with a few lines of Python, in PyTorch.
 */
import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Activation } from '../core/kernels.js';
import { writeFileAtomic } from './atomic.js';
import type { ModelConfig, NamedTensor } from './model-config.js';
import { decodeSafetensors, encodeSafetensors } from './safetensors.js';

export const CONFIG_FILE = 'config.json';
export const WEIGHTS_FILE = 'model.safetensors';
export const MODEL_FORMAT = 'digitlab-mlp';
export const MODEL_VERSION = 1;

const ACTIVATIONS: readonly Activation[] = ['relu', 'sigmoid', 'tanh', 'identity'];

/** The folder, or one of its two files, is missing. */
export class ModelNotFoundError extends Error {
  override readonly name = 'ModelNotFoundError';
  constructor(readonly dir: string, missing: string[]) {
    super(
      `no model at ${dir}: expected ${CONFIG_FILE} and ${WEIGHTS_FILE}` +
        (missing.length === 1 ? ` (${missing[0]} is missing)` : '') +
        `; train one with \`digitlab train --out ${dir}\``,
    );
  }
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

/** The weights do not match the architecture the config describes. */
export class ModelWeightsError extends Error {
  override readonly name = 'ModelWeightsError';
  constructor(readonly path: string, readonly problems: string[]) {
    super(
      `weights ${path} do not match the model config: ${problems.join('; ')}. ` +
        'config.json and model.safetensors must come from the same model; save the model again.',
    );
  }
}

export interface ExpectedTensor {
  name: string;
  shape: number[];
}

/**
 * The tensors of the MLP a config describes, in layer order: for hidden sizes [h1, h2, …],
 * `layers.0.weight` [h1, in], `layers.0.bias` [h1], `layers.2.weight` [h2, h1], …, the output Linear
 * last. Linear layers sit at even indices because each is followed by its activation module.
 */
export function expectedTensorShapes(config: Pick<ModelConfig, 'inputShape' | 'hidden' | 'classes'>): ExpectedTensor[] {
  const sizes = [config.inputShape[0] * config.inputShape[1], ...config.hidden, config.classes];
  const tensors: ExpectedTensor[] = [];
  for (let layer = 0; layer + 1 < sizes.length; layer++) {
    const index = 2 * layer;
    tensors.push({ name: `layers.${index}.weight`, shape: [sizes[layer + 1], sizes[layer]] });
    tensors.push({ name: `layers.${index}.bias`, shape: [sizes[layer + 1]] });
  }
  return tensors;
}

function isPositiveInteger(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) > 0;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Checks a parsed config.json and returns it typed; throws ModelConfigError listing every problem
 * (`path` names the file in the message).
 */
export function validateModelConfig(value: unknown, path: string): ModelConfig {
  if (!isPlainObject(value)) throw new ModelConfigError(path, ['expected a JSON object']);
  const problems: string[] = [];
  const show = (item: unknown): string => (item === undefined ? 'missing' : JSON.stringify(item));

  if (value.format !== MODEL_FORMAT) problems.push(`format is ${show(value.format)}, expected "${MODEL_FORMAT}"`);
  if (value.version !== MODEL_VERSION) {
    const newer = typeof value.version === 'number' && value.version > MODEL_VERSION;
    problems.push(
      `version is ${show(value.version)}, expected ${MODEL_VERSION}` +
        (newer ? ' (written by a newer digitlab: upgrade digitlab to read it)' : ''),
    );
  }
  const { inputShape, classes, hidden, activation, normalization, labels, training, metrics } = value;
  if (!Array.isArray(inputShape) || inputShape.length !== 2 || !inputShape.every(isPositiveInteger)) {
    problems.push(`inputShape is ${show(inputShape)}, expected [height, width] of positive integers`);
  }
  if (!isPositiveInteger(classes)) problems.push(`classes is ${show(classes)}, expected a positive integer`);
  if (!Array.isArray(hidden) || !hidden.every(isPositiveInteger)) {
    problems.push(`hidden is ${show(hidden)}, expected a list of positive integers (the size of each hidden layer; [] for none)`);
  }
  if (!ACTIVATIONS.includes(activation as Activation)) {
    problems.push(`activation is ${show(activation)}, expected one of ${ACTIVATIONS.join(', ')}`);
  }
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
    } else if (isPositiveInteger(classes) && labels.length !== classes) {
      problems.push(`labels has ${labels.length} names but classes is ${classes}`);
    }
  }
  if (training !== undefined && !isPlainObject(training)) problems.push(`training is ${show(training)}, expected an object`);
  if (metrics !== undefined && !isPlainObject(metrics)) problems.push(`metrics is ${show(metrics)}, expected an object`);

  if (problems.length > 0) throw new ModelConfigError(path, problems);
  return value as unknown as ModelConfig;
}

function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

function describeArchitecture(config: ModelConfig): string {
  return `inputShape ${formatShape(config.inputShape)}, hidden ${formatShape(config.hidden)}, classes ${config.classes}`;
}

/**
 * Puts `tensors` in layer order after checking that they are exactly the ones `config` needs;
 * throws ModelWeightsError naming each wrong tensor and both shapes.
 */
function matchTensors(config: ModelConfig, tensors: Iterable<NamedTensor>, path: string): NamedTensor[] {
  const byName = new Map<string, NamedTensor>();
  for (const tensor of tensors) byName.set(tensor.name, tensor);
  const expected = expectedTensorShapes(config);
  const problems: string[] = [];
  const ordered: NamedTensor[] = [];
  for (const { name, shape } of expected) {
    const tensor = byName.get(name);
    if (!tensor) {
      problems.push(`tensor "${name}" ${formatShape(shape)} is missing`);
      continue;
    }
    const sameShape = tensor.shape.length === shape.length && tensor.shape.every((dim, i) => dim === shape[i]);
    if (!sameShape) {
      problems.push(`tensor "${name}" has shape ${formatShape(tensor.shape)} but the config expects ${formatShape(shape)}`);
    } else if (tensor.data.length !== shape.reduce((a, b) => a * b, 1)) {
      problems.push(`tensor "${name}" has shape ${formatShape(shape)} but ${tensor.data.length} values`);
    }
    ordered.push(tensor);
  }
  const expectedNames = new Set(expected.map((tensor) => tensor.name));
  for (const name of byName.keys()) {
    if (!expectedNames.has(name)) problems.push(`unexpected tensor "${name}"`);
  }
  if (problems.length > 0) {
    problems.push(`(config: ${describeArchitecture(config)})`);
    throw new ModelWeightsError(path, problems);
  }
  return ordered;
}

/**
 * Writes a model folder (created if needed). Each file is replaced atomically; the weights go first,
 * so a crash between the two leaves the old config beside new weights, which loadModel rejects
 * unless they fit, rather than a config pointing at weights that were never written.
 */
export async function saveModel(dir: string, config: ModelConfig, tensors: readonly NamedTensor[]): Promise<void> {
  const configPath = join(dir, CONFIG_FILE);
  const weightsPath = join(dir, WEIGHTS_FILE);
  validateModelConfig(config, configPath);
  const names = new Set<string>();
  for (const tensor of tensors) {
    if (names.has(tensor.name)) throw new ModelWeightsError(weightsPath, [`tensor "${tensor.name}" is given twice`]);
    names.add(tensor.name);
  }
  const ordered = matchTensors(config, tensors, weightsPath);
  await mkdir(dir, { recursive: true });
  // format 'pt' is what safetensors.torch.load_file / save_file use to mark PyTorch weights.
  await writeFileAtomic(weightsPath, encodeSafetensors(ordered, { format: 'pt' }));
  await writeFileAtomic(configPath, JSON.stringify(config, null, 2) + '\n');
}

/** When a model folder's weights were written, or null when `dir` is not a model folder. */
export async function modelFolderModified(dir: string): Promise<Date | null> {
  try {
    const [config, weights] = await Promise.all([stat(join(dir, CONFIG_FILE)), stat(join(dir, WEIGHTS_FILE))]);
    return config.isFile() && weights.isFile() ? weights.mtime : null;
  } catch {
    return null;
  }
}

/** The model folder directly under `runsDir` whose weights are newest, or null when there is none. */
export async function newestModel(runsDir: string): Promise<string | null> {
  let names: string[];
  try {
    names = await readdir(runsDir);
  } catch {
    return null;
  }
  let best: { dir: string; mtime: number } | null = null;
  for (const name of names) {
    const dir = join(runsDir, name);
    const mtime = await modelFolderModified(dir);
    if (mtime && (!best || mtime.getTime() > best.mtime)) best = { dir, mtime: mtime.getTime() };
  }
  return best?.dir ?? null;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** Reads and checks a model folder; the tensors come back in layer order (see expectedTensorShapes). */
export async function loadModel(dir: string): Promise<{ config: ModelConfig; tensors: NamedTensor[] }> {
  const configPath = join(dir, CONFIG_FILE);
  const weightsPath = join(dir, WEIGHTS_FILE);
  const missing: string[] = [];
  if (!(await isFile(configPath))) missing.push(CONFIG_FILE);
  if (!(await isFile(weightsPath))) missing.push(WEIGHTS_FILE);
  if (missing.length > 0) throw new ModelNotFoundError(dir, missing);

  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(configPath, 'utf8'));
  } catch (error) {
    throw new ModelConfigError(configPath, [`not valid JSON (${(error as Error).message})`]);
  }
  const config = validateModelConfig(parsed, configPath);
  const decoded = decodeSafetensors(await readFile(weightsPath), weightsPath);
  const tensors = [...decoded.tensors].map(([name, tensor]) => ({ name, shape: tensor.shape, data: tensor.data }));
  return { config, tensors: matchTensors(config, tensors, weightsPath) };
}
