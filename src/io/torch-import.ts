/**
 * A PyTorch model as a digitlab model folder: the state_dict of an `nn.Sequential` (or of a module
 * whose `layers` is one) saved with safetensors, and the layer list it was built from in digitlab's
 * grammar. Every tensor the list needs must be there with its shape, and nothing else: PyTorch's
 * `load_state_dict(strict=True)`. Names may be the Sequential's own (`0.weight`) or a module's
 * (`layers.0.weight`).
 */
import { readFile } from 'node:fs/promises';
import type { ModelConfig, NamedTensor } from './model-config.js';
import { checkTensors, namedTensor, type StoredTensor } from './model-files.js';
import { buildModelSpec, describeModel, type LayerSpec } from './model-spec.js';
import { decodeSafetensors } from './safetensors.js';

/** The state dict does not fit the layer list: each missing, extra or misshapen tensor is named. */
export class StateDictMismatchError extends Error {
  override readonly name = 'StateDictMismatchError';
  constructor(readonly path: string, readonly problems: string[], model: string) {
    const shown = problems.slice(0, 6);
    super(
      `${path} does not fit ${model}: ${shown.join('; ')}` + (problems.length > shown.length ? `; … and ${problems.length - shown.length} more` : '') +
        '. The layer list must be the nn.Sequential the weights were saved from (before its output layer, which is added), ' +
        'in the same order, activations and flattens included.',
    );
  }
}

export interface StateDictImport {
  /** The layers before the output linear, as `--layers` text parses them. */
  layers: LayerSpec[];
  /** [channels, height, width] of an image (default [1, 28, 28]). */
  input?: [number, number, number];
  /** Classes: the output linear's size (default: what the last weight says). */
  classes?: number;
  /** The input is pixel / pixelMax (default 255). */
  pixelMax?: number;
  /** Display names of the classes. */
  labels?: string[];
}

/** Reads a safetensors state dict and makes the model folder's config and tensors of it (checked). */
export async function importStateDict(path: string, options: StateDictImport): Promise<{ config: ModelConfig; tensors: NamedTensor[] }> {
  const decoded = decodeSafetensors(await readFile(path), path);
  const names = [...decoded.tensors.keys()];
  // a bare nn.Sequential's state_dict names its modules by index alone
  const bare = names.length > 0 && names.every((name) => /^\d+\./.test(name));
  const stored = [...decoded.tensors].map(([name, t]): StoredTensor => ({ name: bare ? `layers.${name}` : name, shape: t.shape, data: t.data, stored: t.dtype }));
  const input = options.input ?? [1, 28, 28];
  const classes = options.classes ?? outputSize(stored);
  if (classes === null) {
    throw new StateDictMismatchError(path, ['it holds no layers.N.weight tensor to take the class count from'], `a network on ${input.join('×')} images`);
  }
  const model = buildModelSpec(input, options.layers, classes);
  const config: ModelConfig = {
    format: 'digitlab', version: 2, model, inputShape: [input[1], input[2]], classes,
    normalization: { pixelMax: options.pixelMax ?? 255 },
    ...(options.labels ? { labels: options.labels } : {}),
    training: { imported_from: path },
  };
  const { ordered, problems } = checkTensors(config, stored);
  if (problems.length > 0) throw new StateDictMismatchError(path, problems, `${describeModel(model)} (${classes} classes)`);
  return { config, tensors: ordered.map(namedTensor) };
}

/** The out-size of the weight with the highest module index (the output linear's), or null. */
function outputSize(tensors: Array<{ name: string; shape: number[] }>): number | null {
  let best: { index: number; size: number } | null = null;
  for (const t of tensors) {
    const match = /^layers\.(\d+)\.weight$/.exec(t.name);
    if (match && t.shape.length === 2 && (!best || Number(match[1]) > best.index)) best = { index: Number(match[1]), size: t.shape[0] };
  }
  return best?.size ?? null;
}
