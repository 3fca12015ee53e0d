/**
 * A study spec: a YAML (or JSON, which is YAML too) file saying what to train and under which shared
 * conditions. It is checked completely before any training starts, and every error names the field
 * and the line, e.g. `seed.yaml:7: space[0].optimizer: unknown optimizer 'adamm' …`.
 *
 *   name: seed
 *   data: mnist            # any --data source
 *   validation: 10000      # training images held out for validation (default: a sixth of them)
 *   train_subset: 20000    # optional: train on the first N of the remaining images
 *   epochs: 8
 *   batch_size: 128
 *   seeds: [1, 2]          # repeats: every design trains once per seed
 *   search: grid           # random: budget.trials trials drawn at random; tpe: drawn by a
 *                          # tree-structured Parzen estimator from the trials finished so far
 *   budget: { trials: 40, minutes: 30 }
 *   space:                 # one grid, or a list of grids whose trials are joined
 *     - layers: [1, 2, 3]  # hidden layers of `nodes` each …
 *       nodes: [64, 128]
 *       optimizer: adam
 *       lr: [0.001]
 *     - hidden: [[800], [512, 256]]   # … or explicit layer lists
 *       optimizer: [sgd, adam, adagrad, rmsprop]
 *     - network: [lenet5, cnn]        # … or any networks: presets or `--layers` text
 *     - network: conv {width} 5x5, relu, maxpool 2, linear 128, relu
 *       width: [8, 16, 32]            # {width} takes each value: a family of networks
 *       augment: [none, affine, "affine,elastic"]   # or { affine: { rotate: 15 }, elastic: true }
 *     - layers: { int: [1, 3] }          # ranges, for search: random or tpe: an integer range …
 *       nodes: { int: [32, 1024], log: true }   # … drawn on a log scale …
 *       lr: { log: [0.0001, 0.01] }      # … a number drawn on a log scale ({ float: [a, b] }: evenly)
 *       options: { momentum: { float: [0.8, 0.99] } }
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { buildModelSpec, formatLayers, LayerSpecError, type LayerSpec } from '../io/model-spec.js';
import { parseLayers, PRESETS, presetLayers } from '../io/layer-text.js';
import { ACTIVATIONS } from '../nn/mlp.js';
import { defaultLr, OPTIMIZER_NAMES, OPTIMIZER_OPTION_SPECS, isOptimizerName, type OptimizerName } from '../optim/index.js';
import { parseSchedule, ScheduleSpecError, type ScheduleSpec } from '../optim/schedules.js';
import { Random } from '../core/random.js';
import { AugmentSpecError, parseAugment, type AugmentSpec } from '../data/augment.js';
import type { Activation } from '../core/kernels.js';
import { DEFAULT_CONVERGENCE, type ConvergenceOptions } from '../train/convergence.js';

export type FieldPath = Array<string | number>;

/** A spec that cannot be run: the file, line and field, and what to write instead. */
export class StudySpecError extends Error {
  override readonly name = 'StudySpecError';
  constructor(
    readonly file: string,
    readonly field: string,
    readonly line: number | null,
    readonly problem: string,
  ) {
    super(`${file}${line === null ? '' : `:${line}`}: ${field ? `${field}: ` : ''}${problem}`);
  }
}

/**
 * A network design: any layer list before the output layer, from a preset or written in the
 * `--layers` grammar (with `{width}` replaced by one value of the grid's `width`).
 */
export interface StudyNetwork {
  /** The canonical layer text: `formatLayers(parseLayers(text))`. */
  layers: string;
  /** The preset it came from, or null when it was written out. */
  preset: string | null;
  /** The value `{width}` took in it (absent when the text had none). */
  width?: number;
}

/**
 * A numeric range a sampled search (random or tpe) draws a value from: evenly between low and high,
 * or evenly in their logarithms; an integer range draws whole numbers.
 */
export interface Range {
  low: number;
  high: number;
  log: boolean;
  int: boolean;
}

/** An axis a sampled search draws: one of listed values, or a value in a range. */
export type Dimension = { choice: number[] } | Range;

/** The axes of a grid that are drawn from ranges (a grid without ranges has none of these). */
export interface SampledAxes {
  /** Hidden layers and nodes of an MLP grid given as layers/nodes with a range among them. */
  layers?: Dimension;
  nodes?: Dimension;
  lr?: Range;
  /** Optimizer options drawn from ranges (the fixed ones stay in `options`). */
  options?: Record<string, Range>;
}

/** One grid of the search space, with every value list resolved. */
export interface SpaceGrid {
  /** Hidden-layer lists to try (from `hidden`, or `layers` × `nodes`); empty in a grid of networks. */
  hidden: number[][];
  /** Networks to try (from `network`, with `width`); absent in a grid of MLPs. */
  networks?: StudyNetwork[];
  activation: Activation[];
  optimizer: OptimizerName[];
  /** Learning rates; null means the optimizer's default (0.01 for sgd, which has none). */
  lr: Array<number | null>;
  /** Extra optimizer options (momentum, weightDecay, …) applied to every trial of the grid. */
  options: Record<string, number | boolean>;
  schedule: Array<ScheduleSpec | null>;
  /** Distortions of the training images to try (null: none); absent when the grid has no augment. */
  augment?: Array<AugmentSpec | null>;
  /** Axes drawn from ranges; absent when the grid lists every value. */
  sampled?: SampledAxes;
}

export interface PruneSettings {
  /** Epochs of the first rung. */
  minEpochs: number;
  /** Keep the best 1/reduction at each rung; rungs are at minEpochs · reduction^k. */
  reduction: number;
}

export interface StudySpec {
  name: string;
  data: string;
  /** Training images held out for validation; null: the data's default (a sixth of them, or a pickle's own split). */
  validation: number | null;
  trainSubset: number | null;
  epochs: number;
  batchSize: number;
  seeds: number[];
  /** grid: every design; random: drawn at random; tpe: drawn by a tree-structured Parzen estimator. */
  search: 'grid' | 'random' | 'tpe';
  /** Seed of the random search's draws. */
  searchSeed: number;
  budget: { trials: number | null; minutes: number | null };
  space: SpaceGrid[];
  earlyStopping: number | null;
  convergence: ConvergenceOptions;
  prune: PruneSettings;
}

/** One trial to run: a design and a seed. */
export interface TrialPlan {
  /** 1-based position in the study. */
  number: number;
  /** Identifies the design and seed (stable across runs of the same spec). */
  key: string;
  /** The MLP's hidden layers; empty for a network design. */
  hidden: number[];
  /** The network of a network design (null for an MLP). */
  network: StudyNetwork | null;
  activation: Activation;
  optimizer: OptimizerName;
  lr: number;
  options: Record<string, number | boolean>;
  schedule: ScheduleSpec | null;
  /** The training images' distortions; null: none. */
  augment: AugmentSpec | null;
  seed: number;
}

const TOP_KEYS = [
  'name', 'data', 'validation', 'train_subset', 'epochs', 'batch_size', 'seeds', 'search', 'search_seed',
  'budget', 'space', 'early_stopping', 'converge_tolerance', 'converge_patience', 'prune',
] as const;
const GRID_KEYS = ['layers', 'nodes', 'hidden', 'network', 'width', 'activation', 'optimizer', 'lr', 'options', 'schedule', 'augment'] as const;

function fieldName(path: FieldPath): string {
  let text = '';
  for (const part of path) text += typeof part === 'number' ? `[${part}]` : text === '' ? part : `.${part}`;
  return text;
}

/** Reads values out of a parsed document, throwing StudySpecError with the line of the offending node. */
class SpecReader {
  constructor(
    readonly file: string,
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  private lineOf(path: FieldPath, atKey = false): number | null {
    let node: unknown = this.doc.contents;
    let last: unknown = node;
    for (const part of path) {
      if (isMap(node)) {
        const pair = node.items.find((item) => isScalar(item.key) && item.key.value === part);
        if (!pair) break;
        last = atKey && part === path[path.length - 1] ? pair.key : (pair.value ?? pair.key);
        node = pair.value;
      } else if (isSeq(node) && typeof part === 'number') {
        node = node.items[part];
        if (!node) break;
        last = node;
      } else break;
    }
    const range = (last as Node | null)?.range;
    return range ? this.lines.linePos(range[0]).line : null;
  }

  /** The field's name and line, for an error raised later (when the data is known). */
  where(path: FieldPath): NetworkSource {
    return { file: this.file, field: fieldName(path), line: this.lineOf(path) };
  }

  fail(path: FieldPath, problem: string, atKey = false): never {
    throw new StudySpecError(this.file, fieldName(path), this.lineOf(path, atKey), problem);
  }

  checkKeys(value: Record<string, unknown>, path: FieldPath, allowed: readonly string[]): void {
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) {
        this.fail([...path, key], `unknown key '${key}'; the keys here are ${allowed.join(', ')}`, true);
      }
    }
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A scalar or a list of them, as a list. */
function asList(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [value];
}

/** Parses and checks a spec from its text; `file` names it in errors. */
export function parseStudySpec(text: string, file = 'spec'): StudySpec {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const error = doc.errors[0];
    const line = error.pos ? lines.linePos(error.pos[0]).line : null;
    throw new StudySpecError(file, '', line, `not valid YAML or JSON: ${error.message.split('\n')[0]}`);
  }
  const reader: SpecReader = new SpecReader(file, doc, lines);
  const root = doc.toJS() as unknown;
  if (!isRecord(root)) reader.fail([], 'expected a mapping of settings (name, data, epochs, space, …)');
  reader.checkKeys(root, [], TOP_KEYS);

  const integer = (path: FieldPath, value: unknown, min: number, what: string): number => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
      reader.fail(path, `must be ${what}, got ${JSON.stringify(value)}`);
    }
    return value;
  };
  const optionalInteger = (key: string, min: number, what: string): number | null =>
    root[key] === undefined || root[key] === null ? null : integer([key], root[key], min, what);

  const name = root.name ?? basename(file).replace(/\.(ya?ml|json)$/i, '');
  if (typeof name !== 'string' || name.trim() === '') reader.fail(['name'], 'must be a non-empty string');
  const data = root.data ?? 'mnist';
  if (typeof data !== 'string') reader.fail(['data'], `must be a data source such as mnist, idx:DIR or pkl:FILE, got ${JSON.stringify(data)}`);
  if (root.epochs === undefined) reader.fail(['epochs'], 'is required: the number of epochs each trial trains');
  const epochs = integer(['epochs'], root.epochs, 1, 'a positive integer');
  const batchSize = root.batch_size === undefined ? 64 : integer(['batch_size'], root.batch_size, 1, 'a positive integer');
  const validation = root.validation === undefined ? null : integer(['validation'], root.validation, 1, 'a positive integer');
  const trainSubset = optionalInteger('train_subset', 1, 'a positive integer (train on the first N training images)');
  const seedsValue = root.seeds ?? [0];
  const seeds = asList(seedsValue).map((seed, i) => integer(Array.isArray(seedsValue) ? ['seeds', i] : ['seeds'], seed, 0, 'a non-negative integer'));
  if (seeds.length === 0) reader.fail(['seeds'], 'needs at least one seed');
  if (new Set(seeds).size !== seeds.length) reader.fail(['seeds'], `lists a seed twice: ${seeds.join(', ')}`);
  const search = root.search ?? 'grid';
  if (search !== 'grid' && search !== 'random' && search !== 'tpe') reader.fail(['search'], `must be grid, random or tpe, got ${JSON.stringify(search)}`);
  const searchSeed = root.search_seed === undefined ? 0 : integer(['search_seed'], root.search_seed, 0, 'a non-negative integer');

  const budget: StudySpec['budget'] = { trials: null, minutes: null };
  if (root.budget !== undefined && root.budget !== null) {
    if (!isRecord(root.budget)) reader.fail(['budget'], 'must be a mapping with trials and/or minutes');
    reader.checkKeys(root.budget, ['budget'], ['trials', 'minutes']);
    if (root.budget.trials !== undefined) budget.trials = integer(['budget', 'trials'], root.budget.trials, 1, 'a positive integer');
    if (root.budget.minutes !== undefined) {
      const minutes = root.budget.minutes;
      if (typeof minutes !== 'number' || !(minutes > 0)) reader.fail(['budget', 'minutes'], `must be a positive number, got ${JSON.stringify(minutes)}`);
      budget.minutes = minutes;
    }
  }
  if (search !== 'grid' && budget.trials === null) reader.fail(['budget', 'trials'], `is required by a ${search} search: how many trials to draw`);

  const earlyStopping = optionalInteger('early_stopping', 1, 'a positive integer (epochs without a better validation loss)');
  const convergence: ConvergenceOptions = { ...DEFAULT_CONVERGENCE };
  if (root.converge_tolerance !== undefined) {
    const t = root.converge_tolerance;
    if (typeof t !== 'number' || !(t >= 0)) reader.fail(['converge_tolerance'], `must be a number ≥ 0, got ${JSON.stringify(t)}`);
    convergence.tolerance = t;
  }
  if (root.converge_patience !== undefined) convergence.patience = integer(['converge_patience'], root.converge_patience, 1, 'a positive integer');

  const prune: PruneSettings = { minEpochs: 1, reduction: 3 };
  if (root.prune !== undefined && root.prune !== null) {
    if (!isRecord(root.prune)) reader.fail(['prune'], 'must be a mapping with min_epochs and/or reduction');
    reader.checkKeys(root.prune, ['prune'], ['min_epochs', 'reduction']);
    if (root.prune.min_epochs !== undefined) prune.minEpochs = integer(['prune', 'min_epochs'], root.prune.min_epochs, 1, 'a positive integer');
    if (root.prune.reduction !== undefined) prune.reduction = integer(['prune', 'reduction'], root.prune.reduction, 2, 'an integer ≥ 2');
  }

  if (root.space === undefined || root.space === null) reader.fail(['space'], 'is required: the designs to train (layers/nodes, hidden or network, optimizer, lr, …)');
  const gridValues = Array.isArray(root.space) ? root.space : [root.space];
  if (gridValues.length === 0) reader.fail(['space'], 'needs at least one grid');
  const space = gridValues.map((grid, i) => parseGrid(reader, grid, Array.isArray(root.space) ? ['space', i] : ['space'], epochs));
  if (search === 'grid') {
    const ranged = space.findIndex((grid) => grid.sampled);
    if (ranged >= 0) {
      const key = Object.keys(space[ranged].sampled ?? {})[0];
      reader.fail(Array.isArray(root.space) ? ['space', ranged, key] : ['space', key], 'a range cannot be tried value by value: set search: random or tpe, with budget.trials');
    }
  }

  return { name: name.trim(), data, validation, trainSubset, epochs, batchSize, seeds, search, searchSeed, budget, space, earlyStopping, convergence, prune };
}

function parseGrid(reader: SpecReader, grid: unknown, path: FieldPath, epochs: number): SpaceGrid {
  if (!isRecord(grid)) reader.fail(path, 'a grid must be a mapping (layers, nodes, hidden or network, optimizer, lr, …)');
  reader.checkKeys(grid, path, GRID_KEYS);
  // Each value may be one item or a list of them; `at(key, i)` is the path of the i-th item.
  const items = (key: string): Array<{ value: unknown; at: FieldPath }> => {
    const value = grid[key];
    return Array.isArray(value) ? value.map((v, i) => ({ value: v, at: [...path, key, i] })) : [{ value, at: [...path, key] }];
  };
  const positiveInt = (value: unknown, at: FieldPath, what: string): number => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) reader.fail(at, `must be ${what}, got ${JSON.stringify(value)}`);
    return value;
  };
  const sampled: SampledAxes = {};
  /** A range written as { int: [a, b] }, { float: [a, b] } or { log: [a, b] } (log: true scales either). */
  const range = (value: Record<string, unknown>, at: FieldPath, min: number, integerOnly: boolean): Range => {
    const kinds = (['int', 'float', 'log'] as const).filter((k) => Array.isArray(value[k]));
    reader.checkKeys(value, at, ['int', 'float', 'log']);
    const example = integerOnly ? '{ int: [32, 1024], log: true }' : '{ log: [0.0001, 0.01] } or { float: [0.8, 0.99] }';
    if (kinds.length !== 1) reader.fail(at, `a range is one of { int: [low, high] }, { float: [low, high] }, { log: [low, high] }, e.g. ${example}`);
    const kind = kinds[0];
    const bounds = value[kind] as unknown[];
    if (value.log !== undefined && kind !== 'log' && typeof value.log !== 'boolean') reader.fail([...at, 'log'], `must be true or false, got ${JSON.stringify(value.log)}`);
    const int = kind === 'int';
    const log = kind === 'log' || value.log === true;
    if (integerOnly && !int) reader.fail(at, `must be an integer range such as ${example}`);
    if (bounds.length !== 2 || !bounds.every((b) => typeof b === 'number' && Number.isFinite(b) && (!int || Number.isInteger(b)))) {
      reader.fail([...at, kind], `must be [low, high]: two ${int ? 'integers' : 'numbers'}, got ${JSON.stringify(bounds)}`);
    }
    const [low, high] = bounds as [number, number];
    if (!(low < high)) reader.fail([...at, kind], `low must be below high, got [${low}, ${high}]`);
    if (low < min) reader.fail([...at, kind], `must be at least ${min}, got ${low}`);
    if (log && !(low > 0)) reader.fail([...at, kind], `a log scale needs low > 0, got ${low}`);
    return { low, high, log, int };
  };

  let hidden: number[][];
  let networks: StudyNetwork[] | undefined;
  if (grid.network !== undefined) {
    for (const key of ['hidden', 'layers', 'nodes', 'activation'] as const) {
      if (grid[key] !== undefined) {
        reader.fail(
          [...path, key],
          key === 'activation'
            ? 'a network names its activations in its layer list (e.g. "conv 16 5x5, relu, …"): remove activation from this grid'
            : `give either network (presets or layer lists) or ${key === 'hidden' ? 'hidden' : 'layers and nodes'} (an MLP), not both in one grid`,
          true,
        );
      }
    }
    hidden = [];
    networks = parseNetworks(reader, grid, path);
  } else if (grid.width !== undefined) {
    reader.fail([...path, 'width'], 'width fills {width} in a network\'s layer list: give network too (e.g. network: "conv {width} 5x5, relu, maxpool 2")', true);
  } else if (grid.hidden !== undefined) {
    if (grid.layers !== undefined || grid.nodes !== undefined) {
      reader.fail([...path, 'hidden'], 'give either hidden (explicit layer lists) or layers and nodes, not both', true);
    }
    const value = grid.hidden;
    // `hidden: [512, 256]` is one design; `hidden: [[800], [512, 256]]` is two.
    const lists = Array.isArray(value) && value.every((v) => Array.isArray(v)) && value.length > 0 ? value : [value];
    hidden = lists.map((list, i) => {
      const at = lists === value ? [...path, 'hidden', i] : [...path, 'hidden'];
      if (!Array.isArray(list)) reader.fail(at, `must be a list of layer sizes such as [512, 256] (or a list of such lists), got ${JSON.stringify(list)}`);
      return list.map((n, j) => positiveInt(n, [...at, j], 'a positive number of nodes'));
    });
  } else {
    if (grid.layers === undefined || grid.nodes === undefined) {
      reader.fail(path, 'needs hidden (e.g. [[800], [512, 256]]), both layers and nodes (e.g. layers: [1, 2], nodes: [64, 128]), or network (e.g. [lenet5, cnn])');
    }
    const layerRange = isRecord(grid.layers) ? range(grid.layers, [...path, 'layers'], 0, true) : null;
    const nodeRange = isRecord(grid.nodes) ? range(grid.nodes, [...path, 'nodes'], 1, true) : null;
    const layers = layerRange ? [] : items('layers').map(({ value, at }) => {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) reader.fail(at, `must be a number of hidden layers (0 or more), got ${JSON.stringify(value)}`);
      return value;
    });
    const nodes = nodeRange ? [] : items('nodes').map(({ value, at }) => positiveInt(value, at, 'a positive number of nodes'));
    hidden = [];
    if (layerRange || nodeRange) {
      // drawn, not listed: the two axes are sampled (each from its range or its list)
      sampled.layers = layerRange ?? { choice: layers };
      sampled.nodes = nodeRange ?? { choice: nodes };
    } else {
      for (const count of layers) {
        // Without hidden layers the node count means nothing: one design, not one per node count.
        if (count === 0) hidden.push([]);
        else for (const width of nodes) hidden.push(new Array<number>(count).fill(width));
      }
    }
  }

  const activation = (grid.activation === undefined ? [{ value: 'relu', at: [...path, 'activation'] }] : items('activation')).map(({ value, at }) => {
    if (typeof value !== 'string' || !(ACTIVATIONS as readonly string[]).includes(value) || value === 'identity') {
      reader.fail(at, `unknown activation ${JSON.stringify(value)}; use relu, sigmoid or tanh`);
    }
    return value as Activation;
  });
  const optimizer = (grid.optimizer === undefined ? [{ value: 'adam', at: [...path, 'optimizer'] }] : items('optimizer')).map(({ value, at }) => {
    if (typeof value !== 'string' || !isOptimizerName(value)) {
      reader.fail(at, `unknown optimizer ${JSON.stringify(value)}; the optimizers are ${OPTIMIZER_NAMES.join(', ')}`);
    }
    return value;
  });
  if (isRecord(grid.lr)) {
    sampled.lr = range(grid.lr, [...path, 'lr'], 0, false);
    if (!(sampled.lr.low > 0)) reader.fail([...path, 'lr'], `a learning rate range must start above 0, got ${sampled.lr.low}`);
  }
  const lr = (sampled.lr ? [] : grid.lr === undefined || grid.lr === null ? [{ value: null, at: [...path, 'lr'] }] : items('lr')).map(({ value, at }) => {
    if (value === null || value === 'default') return null;
    if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) reader.fail(at, `must be a positive learning rate, got ${JSON.stringify(value)}`);
    return value;
  });

  const options: Record<string, number | boolean> = {};
  if (grid.options !== undefined) {
    if (!isRecord(grid.options)) reader.fail([...path, 'options'], 'must be a mapping of optimizer options, e.g. { momentum: 0.9 }');
    for (const [key, value] of Object.entries(grid.options)) {
      const at = [...path, 'options', key];
      if (key === 'lr') reader.fail(at, 'give the learning rate as lr next to optimizer, not among the options', true);
      for (const name of optimizer) {
        const spec = OPTIMIZER_OPTION_SPECS[name].find((s) => s.name === key);
        if (!spec) {
          reader.fail(at, `${name} has no option '${key}'; its options are ${OPTIMIZER_OPTION_SPECS[name].map((s) => s.name).filter((n) => n !== 'lr').join(', ')}`, true);
        }
        if (isRecord(value) && spec.type === 'number') continue;
        if (typeof value !== spec.type) reader.fail(at, `must be a ${spec.type}${spec.type === 'number' ? ' or a range such as { float: [0.8, 0.99] }' : ''}, got ${JSON.stringify(value)}`);
      }
      if (isRecord(value)) sampled.options = { ...sampled.options, [key]: range(value, at, -Infinity, false) };
      else options[key] = value as number | boolean;
    }
  }

  const schedule = (grid.schedule === undefined ? [{ value: null, at: [...path, 'schedule'] }] : items('schedule')).map(({ value, at }) => {
    if (value === null || value === 'none' || value === 'constant') return null;
    if (typeof value !== 'string') reader.fail(at, `must be a schedule such as step:2:0.5, exp:0.9 or cosine, got ${JSON.stringify(value)}`);
    try {
      return parseSchedule(value, epochs);
    } catch (error) {
      if (!(error instanceof ScheduleSpecError)) throw error;
      return reader.fail(at, `${error.message}, or none`);
    }
  });

  const augment = grid.augment === undefined ? undefined : augmentItems(grid.augment, [...path, 'augment']).map(({ value, at }) => {
    try {
      return parseAugment(value, 'augment') ?? null;
    } catch (error) {
      if (!(error instanceof AugmentSpecError)) throw error;
      return reader.fail(at, error.message.replace(/^augment: /, ''));
    }
  });

  // a grid without augment or ranges keeps the shape it always had: the spec's JSON is what a rerun compares
  const ranged = Object.keys(sampled).length > 0;
  return { hidden, ...(networks ? { networks } : {}), activation, optimizer, lr, options, schedule, ...(augment ? { augment } : {}), ...(ranged ? { sampled } : {}) };
}

/**
 * The values of a grid's augment: a list of augmentations, or one (a text such as "affine,elastic", or
 * an object of distortions and their ranges, which is one value, not a list).
 */
function augmentItems(value: unknown, at: FieldPath): Array<{ value: unknown; at: FieldPath }> {
  return Array.isArray(value) ? value.map((v, i) => ({ value: v, at: [...at, i] })) : [{ value, at }];
}

interface NetworkSource {
  file: string;
  field: string;
  line: number | null;
}

/**
 * Where each network of a parsed spec was written. Kept beside the spec, not in it: the spec's JSON
 * is what a rerun compares, and moving a line must not make it a different study.
 */
const networkSources = new WeakMap<StudyNetwork, NetworkSource>();

const PLACEHOLDER = /\{([^{}]*)\}/g;

/** What a network text says where it is wrong: the layer problem, and what a network may be. */
function networkProblem(text: string, error: LayerSpecError, width: number | null): string {
  const word = text.trim().toLowerCase();
  if (/[\s,]/.test(word)) return (width === null ? '' : `with width ${width}: `) + error.message;
  // One word that is no layer: most likely a preset's name, misspelt.
  const near = Object.keys(PRESETS).find((name) => name.startsWith(word) || word.startsWith(name));
  return `${error.message}; a network is a preset (${Object.keys(PRESETS).join(', ')}${near ? `: did you mean ${near}?` : ''}) ` +
    'or a layer list such as "conv 16 5x5, relu, maxpool 2, linear 128, relu"';
}

/** The grid's `network` (one or a list: presets or layer text) with `{width}` filled from `width`. */
function parseNetworks(reader: SpecReader, grid: Record<string, unknown>, path: FieldPath): StudyNetwork[] {
  const value = grid.network;
  const listed = Array.isArray(value);
  const entries = (listed ? value : [value]).map((v, i) => ({ value: v, at: listed ? [...path, 'network', i] : [...path, 'network'] }));
  if (entries.length === 0) reader.fail([...path, 'network'], 'needs at least one network: a preset (lenet5, cnn) or a layer list');

  let widths: number[] | null = null;
  if (grid.width !== undefined) {
    const widthValue = grid.width;
    const widthList = Array.isArray(widthValue) ? widthValue : [widthValue];
    if (widthList.length === 0) reader.fail([...path, 'width'], 'needs at least one width');
    widths = widthList.map((w, i) => {
      const at = Array.isArray(widthValue) ? [...path, 'width', i] : [...path, 'width'];
      if (typeof w !== 'number' || !Number.isInteger(w) || w < 1) reader.fail(at, `must be a positive integer (a channel or node count), got ${JSON.stringify(w)}`);
      return w;
    });
    if (new Set(widths).size !== widths.length) reader.fail([...path, 'width'], `lists a width twice: ${widths.join(', ')}`);
  }

  const networks: StudyNetwork[] = [];
  const remember = (network: StudyNetwork, at: FieldPath): StudyNetwork => {
    networkSources.set(network, reader.where(at));
    return network;
  };
  let usesWidth = false;
  for (const { value: item, at } of entries) {
    if (typeof item !== 'string' || item.trim() === '') {
      reader.fail(at, `must be a preset (${Object.keys(PRESETS).join(', ')}) or a layer list such as "conv 16 5x5, relu, maxpool 2, linear 128, relu", got ${JSON.stringify(item)}`);
    }
    const name = item.trim().toLowerCase();
    if (Object.hasOwn(PRESETS, name)) {
      networks.push(remember({ layers: formatLayers(presetLayers(name)), preset: name }, at));
      continue;
    }
    for (const [, inside] of item.matchAll(PLACEHOLDER)) {
      if (inside.trim() !== 'width') reader.fail(at, `unknown placeholder {${inside}}: the only one is {width}, filled from the grid's width`);
    }
    if (!item.includes('{')) {
      networks.push(remember({ layers: parseNetworkText(reader, item, at, null), preset: null }, at));
      continue;
    }
    usesWidth = true;
    if (widths === null) reader.fail(at, '{width} needs a width list in the same grid (e.g. width: [8, 16, 32])');
    for (const width of widths) {
      networks.push(remember({ layers: parseNetworkText(reader, item.replace(PLACEHOLDER, String(width)), at, width), preset: null, width }, at));
    }
  }
  if (widths !== null && !usesWidth) {
    reader.fail([...path, 'width'], 'no network of this grid has {width} for it to fill: write {width} where the width goes (e.g. "conv {width} 5x5, relu")', true);
  }
  return networks;
}

function parseNetworkText(reader: SpecReader, text: string, at: FieldPath, width: number | null): string {
  let layers: LayerSpec[];
  try {
    layers = parseLayers(text);
  } catch (error) {
    if (!(error instanceof LayerSpecError)) throw error;
    return reader.fail(at, networkProblem(text, error, width));
  }
  return formatLayers(layers);
}

/** How a network design is named: its preset, or its layer text. */
export function networkName(network: Pick<StudyNetwork, 'layers' | 'preset'>): string {
  return network.preset ?? network.layers;
}

/**
 * Checks that every network of the spec fits images of `input` ([channels, height, width]) with
 * `classes` classes, before anything trains; a StudySpecError names the design, its field and line.
 */
export function checkNetworks(spec: StudySpec, input: readonly [number, number, number], classes: number, data = spec.data): void {
  for (const grid of spec.space) {
    for (const network of grid.networks ?? []) {
      try {
        buildModelSpec(input, parseLayers(network.layers), classes);
      } catch (error) {
        if (!(error instanceof LayerSpecError)) throw error;
        const source = networkSources.get(network) ?? { file: spec.name, field: 'space', line: null };
        const design = network.preset ? `${network.preset} (${network.layers})` : `'${network.layers}'`;
        throw new StudySpecError(
          source.file, source.field, source.line,
          `the network ${design} does not fit the ${input[1]}×${input[2]} images of ${data}: ${error.message}`,
        );
      }
    }
  }
}

export function readStudySpec(path: string): StudySpec {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new StudySpecError(path, '', null, `cannot read the spec (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  return parseStudySpec(text, path);
}

export function designKey(design: Omit<TrialPlan, 'number' | 'key' | 'seed'>): string {
  const key: unknown[] = [design.hidden, design.activation, design.optimizer, design.lr, design.options, design.schedule];
  // An MLP's key is what it always was; a network's adds its layer text, an augmented design its distortions.
  if (design.network) key.push(design.network.layers);
  if (design.augment) key.push({ augment: design.augment });
  return JSON.stringify(key);
}

/**
 * Whether the spec's trials are drawn one by one as the study runs (search: tpe, or a random search
 * over ranges) rather than listed before it starts.
 */
export function isSampledSearch(spec: Pick<StudySpec, 'search' | 'space'>): boolean {
  return spec.search === 'tpe' || (spec.search === 'random' && spec.space.some((grid) => grid.sampled !== undefined));
}

/**
 * The trials of a spec, in run order: every design of every grid (duplicates across grids once), or
 * `budget.trials` designs drawn at random, each repeated once per seed. A sampled search has none
 * before it starts: its trials are drawn as it runs (see sampler.ts).
 */
export function expandTrials(spec: StudySpec): TrialPlan[] {
  if (isSampledSearch(spec)) return [];
  const designs = new Map<string, Omit<TrialPlan, 'number' | 'key' | 'seed'>>();
  for (const grid of spec.space) {
    const architectures: Array<{ hidden: number[]; network: StudyNetwork | null }> = grid.networks
      ? grid.networks.map((network) => ({ hidden: [], network }))
      : grid.hidden.map((hidden) => ({ hidden, network: null }));
    for (const { hidden, network } of architectures) {
      for (const optimizer of grid.optimizer) {
        for (const lr of grid.lr) {
          for (const activation of grid.activation) {
            for (const schedule of grid.schedule) {
              for (const augment of grid.augment ?? [null]) {
                const design = { hidden, network, activation, optimizer, lr: lr ?? defaultLr(optimizer), options: grid.options, schedule, augment };
                const key = designKey(design);
                if (!designs.has(key)) designs.set(key, design);
              }
            }
          }
        }
      }
    }
  }
  let chosen = [...designs.values()];
  if (spec.search === 'random') {
    const random = new Random(spec.searchSeed);
    const order = new Uint32Array(chosen.length).map((_, i) => i);
    random.shuffle(order);
    chosen = [...order].map((i) => chosen[i]);
  }
  // The trial budget counts designs × seeds: a repeat is a trial too.
  const trials: TrialPlan[] = [];
  for (const design of chosen) {
    for (const seed of spec.seeds) {
      if (spec.budget.trials !== null && trials.length >= spec.budget.trials) break;
      trials.push({ ...design, number: trials.length + 1, key: `${designKey(design)}#${seed}`, seed });
    }
  }
  return trials;
}

/** The epochs at which successive halving compares trials: minEpochs · reduction^k, below the full budget. */
export function pruneRungs(spec: Pick<StudySpec, 'epochs' | 'prune'>): number[] {
  const rungs: number[] = [];
  for (let epoch = spec.prune.minEpochs; epoch < spec.epochs; epoch *= spec.prune.reduction) rungs.push(epoch);
  return rungs;
}
