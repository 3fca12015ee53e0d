/**
 * Sampled searches: each trial's design is drawn when a worker is free to train it, from the spec's
 * space (grids whose axes are value lists or numeric ranges).
 *
 *   random   every axis drawn independently: uniformly from its list, or in its range (evenly, or
 *            evenly in the logarithm for a log range)
 *   tpe      a tree-structured Parzen estimator (Bergstra et al., 2011; Optuna's default sampler):
 *            the first STARTUP trials are drawn as random search draws them; after that, the finished
 *            trials are split into the best γ(n) = min(⌈n/10⌉, 25) by validation accuracy and the
 *            rest, each axis gets a density of the good values l(x) and of the others g(x) (a mixture
 *            of truncated Gaussians around the observed values plus a broad prior, or smoothed
 *            frequencies for a list), and of 24 values drawn from l the one with the largest
 *            l(x)/g(x) is taken. Axes are independent (univariate); an axis of one grid learns only
 *            from the trials drawn from that grid.
 *
 * The draws of trial k depend only on the search seed, k and (for tpe) the trials finished before it
 * was drawn, so one worker's study is reproducible draw for draw.
 */
import { Random } from '../core/random.js';
import { defaultLr } from '../optim/index.js';
import { designKey, type Dimension, type Range, type SpaceGrid, type StudySpec, type TrialPlan } from './spec.js';

/** Trials drawn at random before TPE has enough finished ones to learn from (Optuna's default). */
export const STARTUP = 10;
/** Values drawn from l(x) per axis, of which the best l/g is taken (Optuna's default). */
const CANDIDATES = 24;

/** One axis of the search: a list (its values' indices are drawn) or a range. */
export type SearchAxis = { name: string; count: number } | { name: string; range: Range };

/** A trial's draws: axis name → index in the list, or the value in the range. */
export type SearchParams = Record<string, number>;

/** A finished trial, as the sampler learns from it: its draws and how good it was (higher is better). */
export interface Observation {
  params: SearchParams;
  score: number;
}

/** The axes of a grid with more than one possibility (a one-value list is no axis). */
export function gridAxes(grid: SpaceGrid, g: number): SearchAxis[] {
  const axes: SearchAxis[] = [];
  const list = (name: string, count: number) => {
    if (count > 1) axes.push({ name: `${g}.${name}`, count });
  };
  const axis = (name: string, dimension: Dimension) => {
    if ('choice' in dimension) list(name, dimension.choice.length);
    else axes.push({ name: `${g}.${name}`, range: dimension });
  };
  const sampled = grid.sampled ?? {};
  if (sampled.layers && sampled.nodes) {
    axis('layers', sampled.layers);
    axis('nodes', sampled.nodes);
  } else list('architecture', grid.networks ? grid.networks.length : grid.hidden.length);
  list('activation', grid.activation.length);
  list('optimizer', grid.optimizer.length);
  if (sampled.lr) axis('lr', sampled.lr);
  else list('lr', grid.lr.length);
  list('schedule', grid.schedule.length);
  list('augment', grid.augment?.length ?? 1);
  for (const [name, range] of Object.entries(sampled.options ?? {})) axis(`option.${name}`, range);
  return axes;
}

/** The design a trial's draws make. */
export function designOf(spec: StudySpec, params: SearchParams): Omit<TrialPlan, 'number' | 'key' | 'seed'> {
  const g = params.grid ?? 0;
  const grid = spec.space[g];
  const pick = (name: string) => params[`${g}.${name}`] ?? 0;
  const sampled = grid.sampled ?? {};
  const value = (name: string, dimension: Dimension) => ('choice' in dimension ? dimension.choice[pick(name)] : pick(name));
  let hidden: number[] = [];
  let network = null;
  if (sampled.layers && sampled.nodes) {
    const layers = value('layers', sampled.layers);
    hidden = layers === 0 ? [] : new Array<number>(layers).fill(value('nodes', sampled.nodes));
  } else if (grid.networks) network = grid.networks[pick('architecture')];
  else hidden = grid.hidden[pick('architecture')];
  const optimizer = grid.optimizer[pick('optimizer')];
  const lr = sampled.lr ? pick('lr') : (grid.lr[pick('lr')] ?? defaultLr(optimizer));
  const options = { ...grid.options };
  for (const name of Object.keys(sampled.options ?? {})) options[name] = pick(`option.${name}`);
  return {
    hidden, network, activation: grid.activation[pick('activation')], optimizer, lr, options,
    schedule: grid.schedule[pick('schedule')], augment: (grid.augment ?? [null])[pick('augment')],
  };
}

/** The scale a range is drawn on: [lo, hi] in the logarithm for a log range, widened by half a step for an integer one. */
function scale(range: Range): { lo: number; hi: number; to: (t: number) => number; from: (x: number) => number } {
  const low = range.int ? range.low - 0.5 : range.low;
  const high = range.int ? range.high + 0.5 : range.high;
  const to = (t: number) => {
    const x = range.log ? Math.exp(t) : t;
    return range.int ? Math.min(range.high, Math.max(range.low, Math.round(x))) : Math.min(range.high, Math.max(range.low, x));
  };
  return range.log
    ? { lo: Math.log(Math.max(low, Number.MIN_VALUE)), hi: Math.log(high), to, from: (x) => Math.log(x) }
    : { lo: low, hi: high, to, from: (x) => x };
}

function randomValue(axis: SearchAxis, random: Random): number {
  if ('count' in axis) return random.int(axis.count);
  const { lo, hi, to } = scale(axis.range);
  return to(random.uniform(lo, hi));
}

/** erf, to 1.5e-7 (Abramowitz and Stegun 7.1.26). */
function erf(x: number): number {
  const sign = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-a * a);
  return sign * y;
}

const normalCdf = (z: number) => 0.5 * (1 + erf(z / Math.SQRT2));

/** A standard normal draw (Box–Muller). */
function gaussian(random: Random): number {
  const u = 1 - random.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random.next());
}

/** A mixture of Gaussians truncated to [lo, hi]: one around each observed value, and a broad prior. */
class Parzen {
  private readonly mus: number[];
  private readonly sigmas: number[];
  private readonly weight: number;

  constructor(points: number[], private readonly lo: number, private readonly hi: number) {
    const width = hi - lo;
    const mus = [...points, (lo + hi) / 2];
    const order = mus.map((_, i) => i).sort((a, b) => mus[a] - mus[b]);
    const sigmas = new Array<number>(mus.length);
    // each observation's width: the larger gap to its neighbours (the bounds at the ends), kept
    // between width / min(100, n + 1) and the whole width; the prior spans the whole width
    const smallest = width / Math.min(100, points.length + 1);
    order.forEach((index, rank) => {
      const left = rank > 0 ? mus[order[rank - 1]] : lo;
      const right = rank < order.length - 1 ? mus[order[rank + 1]] : hi;
      sigmas[index] = Math.min(width, Math.max(smallest, mus[index] - left, right - mus[index]));
    });
    sigmas[mus.length - 1] = width;
    this.mus = mus;
    this.sigmas = sigmas;
    this.weight = 1 / mus.length;
  }

  sample(random: Random): number {
    const i = random.int(this.mus.length);
    for (let attempt = 0; attempt < 100; attempt++) {
      const t = this.mus[i] + this.sigmas[i] * gaussian(random);
      if (t >= this.lo && t <= this.hi) return t;
    }
    return random.uniform(this.lo, this.hi);
  }

  logDensity(t: number): number {
    let sum = 0;
    for (let i = 0; i < this.mus.length; i++) {
      const sigma = this.sigmas[i];
      const mass = normalCdf((this.hi - this.mus[i]) / sigma) - normalCdf((this.lo - this.mus[i]) / sigma);
      const z = (t - this.mus[i]) / sigma;
      sum += (this.weight * Math.exp(-0.5 * z * z)) / (sigma * Math.sqrt(2 * Math.PI) * Math.max(mass, 1e-12));
    }
    return Math.log(Math.max(sum, 1e-300));
  }
}

/** Smoothed frequencies of a list's indices: each observed index counts one, the prior one in all. */
function frequencies(points: number[], count: number): number[] {
  const weights = new Array<number>(count).fill(1 / count);
  for (const p of points) weights[p] += 1;
  const total = weights.reduce((a, b) => a + b, 0);
  return weights.map((w) => w / total);
}

function drawIndex(weights: number[], random: Random): number {
  let u = random.next();
  for (let i = 0; i < weights.length; i++) {
    u -= weights[i];
    if (u < 0) return i;
  }
  return weights.length - 1;
}

/** γ(n): how many of n finished trials count as good. */
export function goodCount(n: number): number {
  return Math.min(Math.ceil(0.1 * n), 25);
}

/** TPE's value for one axis, from the good and the other trials that have it. */
function tpeValue(axis: SearchAxis, good: SearchParams[], bad: SearchParams[], random: Random): number {
  const values = (list: SearchParams[]) => list.map((p) => p[axis.name]).filter((v) => v !== undefined);
  if ('count' in axis) {
    const l = frequencies(values(good), axis.count);
    const g = frequencies(values(bad), axis.count);
    let best = 0;
    let bestScore = -Infinity;
    for (let c = 0; c < CANDIDATES; c++) {
      const index = drawIndex(l, random);
      const score = Math.log(l[index]) - Math.log(g[index]);
      if (score > bestScore) [best, bestScore] = [index, score];
    }
    return best;
  }
  const { lo, hi, to, from } = scale(axis.range);
  const l = new Parzen(values(good).map(from), lo, hi);
  const g = new Parzen(values(bad).map(from), lo, hi);
  let best = 0;
  let bestScore = -Infinity;
  for (let c = 0; c < CANDIDATES; c++) {
    const t = l.sample(random);
    const score = l.logDensity(t) - g.logDensity(t);
    if (score > bestScore) [best, bestScore] = [t, score];
  }
  return to(best);
}

/** The generator of trial `number`'s draws: from the search seed and the number alone. */
function randomFor(searchSeed: number, number: number): Random {
  return new Random((Math.imul(searchSeed + 1, 0x9e3779b1) ^ Math.imul(number, 0x85ebca6b)) >>> 0);
}

/**
 * Draws the design of trial `number` (random or tpe, as the spec says), learning from `finished`
 * (the trials finished so far; tpe only).
 */
export function drawDesign(spec: StudySpec, number: number, finished: readonly Observation[]): { design: ReturnType<typeof designOf>; params: SearchParams } {
  const random = randomFor(spec.searchSeed, number);
  const learn = spec.search === 'tpe' && finished.length >= STARTUP;
  const params: SearchParams = {};
  const ranked = learn ? [...finished].sort((a, b) => b.score - a.score) : [];
  const good = ranked.slice(0, goodCount(ranked.length)).map((o) => o.params);
  const bad = ranked.slice(goodCount(ranked.length)).map((o) => o.params);
  const choose = (axis: SearchAxis) => (learn ? tpeValue(axis, good, bad, random) : randomValue(axis, random));
  if (spec.space.length > 1) params.grid = choose({ name: 'grid', count: spec.space.length });
  const g = params.grid ?? 0;
  for (const axis of gridAxes(spec.space[g], g)) params[axis.name] = choose(axis);
  return { design: designOf(spec, params), params };
}

/** The trials of a drawn design: one per seed, numbered from `number`, at most `room` of them. */
export function drawnTrials(spec: StudySpec, number: number, design: ReturnType<typeof designOf>, room: number): TrialPlan[] {
  return spec.seeds.slice(0, Math.max(0, room)).map((seed, i) => ({ ...design, number: number + i, key: `${designKey(design)}#${seed}`, seed }));
}
