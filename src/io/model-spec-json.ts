/**
 * A model spec as JSON, as config.json (version 2) holds it: every field explicit when written; when
 * read, a kernel, stride or padding may be one number and defaults may be left out. Errors name the
 * field (`model.layers[3].kernel`).
 */
import {
  BATCHNORM_EPS, BATCHNORM_MOMENTUM, DROPOUT_P, LAYER_TYPES, ModelSpecError, checkInputShape, summarizeModel,
  type LayerSpec, type LayerType, type ModelSpec,
} from './model-spec.js';

/** The spec as plain JSON data, every field explicit. */
export function modelSpecToJson(spec: ModelSpec): { input: number[]; layers: Record<string, unknown>[] } {
  return {
    input: [...spec.input],
    layers: spec.layers.map((l) => {
      const copy: Record<string, unknown> = { ...l };
      for (const key of ['kernel', 'stride', 'padding']) if (Array.isArray(copy[key])) copy[key] = [...(copy[key] as number[])];
      return copy;
    }),
  };
}

const FIELDS: Record<LayerType, readonly string[]> = {
  linear: ['out'],
  conv2d: ['out', 'kernel', 'stride', 'padding'],
  maxpool2d: ['kernel', 'stride'],
  avgpool2d: ['kernel', 'stride'],
  flatten: [], relu: [], tanh: [], sigmoid: [], identity: [],
  dropout: ['p'],
  batchnorm: ['eps', 'momentum'],
};

/**
 * Reads a spec from parsed JSON (as `modelSpecToJson` writes it; a kernel, stride or padding may also
 * be one number, and the defaults may be left out) and checks that it fits together. Throws
 * ModelSpecError naming the field, under `path` (e.g. `model` → `model.layers[3].kernel`).
 */
export function modelSpecFromJson(value: unknown, path = ''): ModelSpec {
  const at = (field: string) => (path ? `${path}.${field}` : field);
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(value)) throw new ModelSpecError(path || 'model', `is ${JSON.stringify(value)}, expected an object with input and layers`);
  for (const key of Object.keys(value)) {
    if (key !== 'input' && key !== 'layers') throw new ModelSpecError(at(key), 'is not a field of a model spec; the fields are input and layers');
  }
  const inputProblem = checkInputShape(value.input);
  if (inputProblem) throw new ModelSpecError(at('input'), inputProblem);
  if (!Array.isArray(value.layers)) throw new ModelSpecError(at('layers'), `is ${JSON.stringify(value.layers)}, expected a list of layers`);
  const layers = value.layers.map((item: unknown, i): LayerSpec => {
    const where = at(`layers[${i}]`);
    if (!isObject(item)) throw new ModelSpecError(where, `is ${JSON.stringify(item)}, expected an object with a type`);
    const type = item.type as LayerType;
    if (typeof type !== 'string' || !Object.hasOwn(FIELDS, type)) {
      throw new ModelSpecError(`${where}.type`, `is ${JSON.stringify(item.type)}, expected one of ${LAYER_TYPES.join(', ')}`);
    }
    for (const key of Object.keys(item)) {
      if (key !== 'type' && !FIELDS[type].includes(key)) {
        throw new ModelSpecError(`${where}.${key}`,
          `is not a field of ${type}; ${FIELDS[type].length ? `its fields are ${FIELDS[type].join(', ')}` : 'it has no fields'}`);
      }
    }
    const asPair = (v: unknown) => (typeof v === 'number' ? [v, v] : v);
    const spec = { ...item } as Record<string, unknown>;
    if (type === 'conv2d') {
      spec.kernel = asPair(item.kernel);
      spec.stride = asPair(item.stride ?? 1);
      spec.padding = asPair(item.padding ?? 0);
    } else if (type === 'maxpool2d' || type === 'avgpool2d') {
      spec.kernel = asPair(item.kernel);
      spec.stride = asPair(item.stride ?? item.kernel);
    } else if (type === 'dropout') {
      spec.p = item.p ?? DROPOUT_P;
    } else if (type === 'batchnorm') {
      spec.eps = item.eps ?? BATCHNORM_EPS;
      spec.momentum = item.momentum ?? BATCHNORM_MOMENTUM;
    }
    return spec as LayerSpec;
  });
  const [c, h, w] = value.input as number[];
  const model: ModelSpec = { input: [c, h, w], layers };
  try {
    summarizeModel(model);
  } catch (error) {
    if (error instanceof ModelSpecError) throw new ModelSpecError(at(error.field), error.problem);
    throw error;
  }
  return model;
}
