/**
 * A trained model on disk is a folder: `config.json` (a ModelConfig: the layer list, normalization,
 * training settings; see model-config.ts) and `model.safetensors` (the weights, named and shaped as
 * PyTorch names them for a module whose `layers` is the nn.Sequential of that list), so the same folder
 * loads in digitlab and, with a few lines of Python, in PyTorch.
 */
import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic.js';
import { ModelConfigError, modelConfigToJson, validateModelConfig, type ModelConfig, type NamedTensor } from './model-config.js';
import { describeModel, modelTensors } from './model-spec.js';
import { decodeSafetensors, encodeSafetensors, type SafetensorsDtype } from './safetensors.js';

// Kept here too for the callers that import them from this file.
export { MODEL_FORMAT, MODEL_VERSION, ModelConfigError, validateModelConfig } from './model-config.js';

export const CONFIG_FILE = 'config.json';
export const WEIGHTS_FILE = 'model.safetensors';

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

/** How many of a weights file's problems the message lists; `problems` holds them all. */
const PROBLEMS_SHOWN = 6;

/** The weights do not match the architecture the config describes. */
export class ModelWeightsError extends Error {
  override readonly name = 'ModelWeightsError';
  /** `model` describes the architecture the config asks for (see describeModel). */
  constructor(readonly path: string, readonly problems: string[], model?: string) {
    const shown = problems.slice(0, PROBLEMS_SHOWN);
    const more = problems.length - shown.length;
    super(
      `weights ${path} do not match the model config: ${shown.join('; ')}` +
        (more > 0 ? `; … and ${more} more (${problems.length} problems)` : '') +
        (model !== undefined ? ` (the config describes ${model})` : '') +
        '. config.json and model.safetensors must come from the same model; save the model again.',
    );
  }
}

export interface ExpectedTensor {
  name: string;
  shape: number[];
  dtype: 'F32' | 'I64';
}

/**
 * The tensors of the model a config describes, in PyTorch's state_dict order (see modelTensors): for an
 * MLP `layers.0.weight` [h1, in], `layers.0.bias` [h1], `layers.2.weight` [h2, h1], …, the output
 * Linear last (each linear is followed by its activation module, hence the even indices).
 */
export function expectedTensorShapes(config: Pick<ModelConfig, 'model'>): ExpectedTensor[] {
  return modelTensors(config.model).map(({ name, shape, dtype }) => ({ name, shape, dtype }));
}

function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

function describeConfig(config: ModelConfig): string {
  return `${describeModel(config.model)} on input ${formatShape(config.model.input)}, ${config.classes} classes`;
}

/** A tensor as given to saveModel or read from the file: the file may hold floats as F16, BF16 or F64. */
export type StoredTensor = NamedTensor & { stored: SafetensorsDtype };

/** Whether a tensor stored as `stored` can stand for one the model keeps as `expected`. */
function dtypeFits(stored: SafetensorsDtype, expected: 'F32' | 'I64'): boolean {
  return expected === 'I64' ? stored === 'I64' : stored !== 'I64';
}

/**
 * Puts `tensors` in state_dict order after checking that they are exactly the ones `config` needs,
 * each with its shape and dtype; throws ModelWeightsError naming each wrong, missing or extra tensor.
 */
function matchTensors(config: ModelConfig, tensors: Iterable<StoredTensor>, path: string): StoredTensor[] {
  const { ordered, problems } = checkTensors(config, tensors);
  if (problems.length > 0) throw new ModelWeightsError(path, problems, describeConfig(config));
  return ordered;
}

/** A checked stored tensor as the model keeps it: F32 values, marked I64 where it is a counter. */
export function namedTensor({ name, shape, data, stored }: StoredTensor): NamedTensor {
  return stored === 'I64' ? { name, shape, dtype: stored, data } : { name, shape, data };
}

/**
 * What matchTensors checks, without throwing: the tensors `config` needs in state_dict order, and one
 * line per wrong, missing or extra tensor (empty when they fit).
 */
export function checkTensors(config: ModelConfig, tensors: Iterable<StoredTensor>): { ordered: StoredTensor[]; problems: string[] } {
  const byName = new Map<string, StoredTensor>();
  for (const tensor of tensors) byName.set(tensor.name, tensor);
  const expected = expectedTensorShapes(config);
  const problems: string[] = [];
  const ordered: StoredTensor[] = [];
  for (const { name, shape, dtype } of expected) {
    const tensor = byName.get(name);
    if (!tensor) {
      problems.push(`tensor "${name}" ${formatShape(shape)} ${dtype} is missing`);
      continue;
    }
    const sameShape = tensor.shape.length === shape.length && tensor.shape.every((dim, i) => dim === shape[i]);
    if (!sameShape) {
      problems.push(`tensor "${name}" has shape ${formatShape(tensor.shape)} but the config expects ${formatShape(shape)}`);
    } else if (tensor.data.length !== shape.reduce((a, b) => a * b, 1)) {
      problems.push(`tensor "${name}" has shape ${formatShape(shape)} but ${tensor.data.length} values`);
    }
    if (!dtypeFits(tensor.stored, dtype)) {
      problems.push(
        `tensor "${name}" is ${tensor.stored} but the config expects ${dtype}` +
          (dtype === 'I64' ? ' (PyTorch keeps it as an int64 counter)' : ' (a float tensor: F32, or F16, BF16, F64 to convert)'),
      );
    }
    ordered.push(tensor);
  }
  const expectedNames = new Set(expected.map((tensor) => tensor.name));
  for (const name of byName.keys()) {
    if (!expectedNames.has(name)) problems.push(`unexpected tensor "${name}"`);
  }
  return { ordered, problems };
}

/**
 * Writes a model folder (created if needed) with a version-2 config.json. Each file is replaced
 * atomically; the weights go first, so a crash between the two leaves the old config beside new
 * weights, which loadModel rejects unless they fit, rather than a config pointing at weights that were
 * never written. Each tensor is written as its `dtype` (F32 unless I64) and must be the one the model
 * keeps (num_batches_tracked is I64).
 */
export async function saveModel(dir: string, config: ModelConfig, tensors: readonly NamedTensor[]): Promise<void> {
  const configPath = join(dir, CONFIG_FILE);
  const weightsPath = join(dir, WEIGHTS_FILE);
  const checked = validateModelConfig(config, configPath);
  const names = new Set<string>();
  for (const tensor of tensors) {
    if (names.has(tensor.name)) throw new ModelWeightsError(weightsPath, [`tensor "${tensor.name}" is given twice`]);
    names.add(tensor.name);
  }
  const given = tensors.map((tensor) => ({ ...tensor, stored: tensor.dtype ?? 'F32' }));
  const ordered = matchTensors(checked, given, weightsPath).map(({ stored: _, ...tensor }) => tensor);
  await mkdir(dir, { recursive: true });
  // format 'pt' is what safetensors.torch.load_file / save_file use to mark PyTorch weights.
  await writeFileAtomic(weightsPath, encodeSafetensors(ordered, { format: 'pt' }));
  await writeFileAtomic(configPath, JSON.stringify(modelConfigToJson(checked), null, 2) + '\n');
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

/**
 * The digit-reading model folder directly under `runsDir` with the highest test accuracy its config.json
 * records (a model of 10 unnamed classes: digits, not Fashion-MNIST or letters), the newest of equals;
 * without any such folder, the newest model folder; null when there is none.
 */
export async function mostAccurateModel(runsDir: string): Promise<{ dir: string; testAccuracy: number | null } | null> {
  let names: string[];
  try {
    names = await readdir(runsDir);
  } catch {
    return null;
  }
  let best: { dir: string; accuracy: number; mtime: number } | null = null;
  for (const name of names) {
    const dir = join(runsDir, name);
    const mtime = await modelFolderModified(dir);
    if (!mtime) continue;
    const accuracy = await recordedDigitAccuracy(dir);
    if (accuracy === null) continue;
    if (!best || accuracy > best.accuracy || (accuracy === best.accuracy && mtime.getTime() > best.mtime)) best = { dir, accuracy, mtime: mtime.getTime() };
  }
  if (best) return { dir: best.dir, testAccuracy: best.accuracy };
  const newest = await newestModel(runsDir);
  return newest === null ? null : { dir: newest, testAccuracy: null };
}

/** The test accuracy a digit model's config.json records, or null (another kind of model, none recorded, unreadable). */
async function recordedDigitAccuracy(dir: string): Promise<number | null> {
  try {
    const config = JSON.parse(await readFile(join(dir, CONFIG_FILE), 'utf8')) as Partial<ModelConfig> & { classes?: unknown };
    const accuracy = config.metrics?.test_accuracy;
    if (config.classes !== 10 || config.labels !== undefined) return null;
    return typeof accuracy === 'number' && Number.isFinite(accuracy) ? accuracy : null;
  } catch {
    return null;
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * Reads and checks a model folder; a version-1 config.json comes back as version 2. The tensors come
 * back in state_dict order (see expectedTensorShapes), with `dtype: 'I64'` on the I64 ones.
 */
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
  const stored = [...decoded.tensors].map(([name, tensor]) => ({ name, shape: tensor.shape, data: tensor.data, stored: tensor.dtype }));
  const tensors = matchTensors(config, stored, weightsPath).map(namedTensor);
  return { config, tensors };
}
