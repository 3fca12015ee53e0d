/**
 * A study's results as typed data: every trial with its epochs and timings, the designs (a design
 * trained with several seeds is summarized by its mean and spread), and a data-driven summary
 * (the best design, the smallest and fastest close to it, the Pareto front). The report, the
 * command line and the server all read studies through `openStudy`.
 */
import { resolve } from 'node:path';
import type { AugmentSpec } from '../data/augment.js';
import type { EpochRecord } from '../train/trainer.js';
import { parseLayers } from '../io/layer-text.js';
import { networkName, type StudyNetwork, type StudySpec } from './spec.js';
import { openStudyStorage } from './open-storage.js';
import { weightedLayers, type StudyRow, type TrialStatus } from './storage.js';

/** What kind of model a design is: a CNN has convolutions or pooling, an MLP only flat layers. */
export type ModelKind = 'MLP' | 'CNN';

export interface TrialResult {
  number: number;
  status: TrialStatus;
  /** The MLP's hidden layers (empty for a network design). */
  hidden: number[];
  /** The network of a network design (its canonical layer text and preset), null for an MLP. */
  network: StudyNetwork | null;
  kind: ModelKind;
  /** Hidden layers of an MLP; for a network, its layers with weights (conv, linear) before the output. */
  layers: number;
  /** The width of every hidden layer when they are all equal (null otherwise, or with none). */
  nodes: number | null;
  activation: string;
  optimizer: string;
  lr: number;
  options: Record<string, number | boolean>;
  schedule: string | null;
  /** The training images' distortions (null: none). */
  augment: AugmentSpec | null;
  seed: number;
  params: number | null;
  /** Multiply-adds of one image's forward pass (null for studies recorded before they were). */
  multiplyAdds: number | null;
  bytes: number | null;
  /** The highest validation accuracy of any epoch. */
  bestValAccuracy: number | null;
  bestValLoss: number | null;
  /** The epoch whose weights the saved model has (the lowest validation loss). */
  bestEpoch: number | null;
  testAccuracy: number | null;
  testLoss: number | null;
  convergedEpoch: number | null;
  secondsToConverge: number | null;
  /** Training seconds (the sum of the epochs'). */
  seconds: number | null;
  epochsRun: number;
  prunedReason: string | null;
  error: string | null;
  /** The trial's best model as a model folder (config.json + model.safetensors). */
  modelDir: string | null;
  confusion: number[][] | null;
  epochs: EpochRecord[];
  /** Wall seconds by phase: load, train, save, wall. */
  timings: Record<string, number>;
}

/** Mean and spread of a metric over a design's repeats. */
export interface Spread {
  mean: number;
  /** Sample standard deviation (0 for a single run). */
  std: number;
  min: number;
  max: number;
  n: number;
}

export interface DesignResult {
  label: string;
  hidden: number[];
  network: StudyNetwork | null;
  kind: ModelKind;
  layers: number;
  nodes: number | null;
  activation: string;
  optimizer: string;
  lr: number;
  /** The training images' distortions (null: none). */
  augment: AugmentSpec | null;
  params: number;
  multiplyAdds: number | null;
  bytes: number;
  /** Trials of this design that trained to the end (not pruned, not diverged). */
  runs: number;
  trials: number[];
  bestValAccuracy: Spread;
  testAccuracy: Spread;
  seconds: Spread;
  /** Over the runs whose loss converged (null when none did). */
  secondsToConverge: Spread | null;
  epochsToConverge: Spread | null;
  pareto: boolean;
}

export interface StudySummary {
  trials: number;
  counts: Record<TrialStatus, number>;
  /** Epochs trained over all trials (pruning saves epochs). */
  epochsTrained: number;
  /** Ranked by mean best validation accuracy: the held-out data that chooses, the test set only reports. */
  best: DesignResult | null;
  smallestNearBest: DesignResult | null;
  fastestNearBest: DesignResult | null;
  fastestToConverge: DesignResult | null;
  /** Designs no other beats on accuracy, training time and size at once. */
  pareto: DesignResult[];
  /** Short sentences drawn from the numbers. */
  recommendation: string[];
}

export interface StudyResults {
  path: string;
  name: string;
  spec: StudySpec;
  state: StudyRow['state'];
  createdAt: string;
  updatedAt: string;
  trials: TrialResult[];
  designs: DesignResult[];
  summary: StudySummary;
}

/** Points within which a design counts as "as good as the best" (0.2 percentage points). */
export const NEAR_BEST = 0.002;

/**
 * Reads a study (read-only: safe while the study runs): a study folder, or a study named `study`
 * in a PostgreSQL database (`postgres://…`).
 */
export async function openStudy(location: string, study?: string): Promise<StudyResults> {
  const store = await openStudyStorage(location, { readonly: true, study });
  try {
    const stored = await store.study();
    if (!stored) throw new Error(`${store.location} has a study database but no study in it`);
    const epochs = new Map<number, EpochRecord[]>();
    for (const { trial_id, ...record } of await store.epochs()) {
      const list = epochs.get(trial_id) ?? [];
      list.push(record);
      epochs.set(trial_id, list);
    }
    const timings = new Map<number, Record<string, number>>();
    for (const { trial_id, phase, seconds } of await store.timings()) timings.set(trial_id, { ...timings.get(trial_id), [phase]: seconds });
    const multiplyAdds = await store.paramOfAll('multiply_adds');
    const trials = (await store.trials()).map((row): TrialResult => {
      const history = epochs.get(row.id) ?? [];
      const valAccuracies = history.flatMap((e) => (e.val_accuracy === null ? [] : [e.val_accuracy]));
      const valLosses = history.flatMap((e) => (e.val_loss !== null && Number.isFinite(e.val_loss) ? [e.val_loss] : []));
      return {
        number: row.number,
        status: row.status,
        hidden: row.hidden,
        network: row.network,
        kind: row.network ? networkKind(row.network.layers) : 'MLP',
        layers: row.network ? weightedLayers(row.network.layers) : row.hidden.length,
        nodes: !row.network && row.hidden.length > 0 && row.hidden.every((n) => n === row.hidden[0]) ? row.hidden[0] : null,
        activation: row.activation,
        optimizer: row.optimizer,
        lr: row.lr,
        options: row.options,
        schedule: row.schedule,
        augment: row.augment,
        seed: row.seed,
        params: row.params,
        multiplyAdds: typeof multiplyAdds.get(row.id) === 'number' ? (multiplyAdds.get(row.id) as number) : null,
        bytes: row.bytes,
        bestValAccuracy: valAccuracies.length ? Math.max(...valAccuracies) : null,
        bestValLoss: valLosses.length ? Math.min(...valLosses) : null,
        bestEpoch: row.best_epoch,
        testAccuracy: row.test_accuracy,
        testLoss: row.test_loss,
        convergedEpoch: row.converged_epoch,
        secondsToConverge: row.seconds_to_converge,
        seconds: row.seconds ?? (history.length ? history.reduce((sum, e) => sum + e.seconds, 0) : null),
        epochsRun: history.length,
        prunedReason: row.pruned_reason,
        error: row.error,
        modelDir: row.model_dir ? resolve(row.model_dir) : null,
        confusion: row.confusion,
        epochs: history,
        timings: timings.get(row.id) ?? {},
      };
    });
    const { designs, summary } = summarizeTrials(trials);
    return {
      path: store.location,
      name: stored.name,
      spec: stored.spec,
      state: stored.state,
      createdAt: stored.created_at,
      updatedAt: stored.updated_at,
      trials,
      designs,
      summary,
    };
  } finally {
    await store.close();
  }
}

export function spread(values: number[]): Spread {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const variance = n > 1 ? values.reduce((sum, v) => sum + (v - mean) ** 2, 0) / (n - 1) : 0;
  return { mean, std: Math.sqrt(variance), min: Math.min(...values), max: Math.max(...values), n };
}

/** CNN when the layer list has a convolution or a pooling layer, else MLP. */
export function networkKind(layerText: string): ModelKind {
  return parseLayers(layerText).some((l) => l.type === 'conv2d' || l.type === 'maxpool2d' || l.type === 'avgpool2d') ? 'CNN' : 'MLP';
}

type DesignFields = Pick<TrialResult, 'hidden' | 'activation' | 'optimizer' | 'lr' | 'options' | 'schedule'> & {
  network?: StudyNetwork | null; augment?: AugmentSpec | null;
};

export function designKey(t: DesignFields): string {
  const key: unknown[] = [t.hidden, t.activation, t.optimizer, t.lr, t.options, t.schedule];
  if (t.network) key.push(t.network.layers);
  if (t.augment) key.push({ augment: t.augment });
  return JSON.stringify(key);
}

/** The distortions a design trains with, in a word ("affine", "elastic", "affine+elastic"), or '' for none. */
export function augmentName(augment: AugmentSpec | null | undefined): string {
  return [augment?.affine ? 'affine' : '', augment?.elastic ? 'elastic' : ''].filter(Boolean).join('+');
}

/** The architecture alone: an MLP's hidden sizes (`800`, `512-256`, `linear`), a network's preset or layer text. */
export function architectureName(t: Pick<TrialResult, 'hidden'> & { network?: StudyNetwork | null }): string {
  if (t.network) return networkName(t.network);
  return t.hidden.length === 0 ? 'linear' : t.hidden.join('-');
}

export function designName(t: Pick<TrialResult, 'hidden' | 'optimizer' | 'lr'> & { network?: StudyNetwork | null; augment?: AugmentSpec | null }): string {
  const augment = augmentName(t.augment);
  return `${architectureName(t)} ${t.optimizer} lr ${Number(t.lr.toPrecision(3))}${augment ? ` + ${augment}` : ''}`;
}

/** How an architecture is named in a sentence or a title. */
export function architectureTitle(d: Pick<DesignResult, 'hidden' | 'network'>): string {
  return d.network ? networkName(d.network) : d.hidden.join('-') || 'no hidden layer';
}

/** The designs of the architecture trained with the most optimizers (null when none had two). */
export function optimizerComparison(designs: DesignResult[]): DesignResult[] | null {
  const byArchitecture = new Map<string, DesignResult[]>();
  for (const d of designs) {
    const key = JSON.stringify([d.hidden, d.network?.layers ?? null]);
    byArchitecture.set(key, [...(byArchitecture.get(key) ?? []), d]);
  }
  return [...byArchitecture.values()].filter((list) => new Set(list.map((d) => d.optimizer)).size > 1).sort((a, b) => b.length - a.length)[0] ?? null;
}

/** The most accurate design of each kind (by mean best validation accuracy, then fewer parameters). */
export function bestByKind(designs: DesignResult[]): Partial<Record<ModelKind, DesignResult>> {
  const best: Partial<Record<ModelKind, DesignResult>> = {};
  for (const d of designs) {
    const current = best[d.kind];
    if (!current || d.bestValAccuracy.mean > current.bestValAccuracy.mean || (d.bestValAccuracy.mean === current.bestValAccuracy.mean && d.params < current.params)) best[d.kind] = d;
  }
  return best;
}

/**
 * `a` is at least as good as `b` on accuracy, time and size, and better on one. Accuracy is the best
 * validation accuracy, as in the ranking: the test set only reports.
 */
function dominates(a: DesignResult, b: DesignResult): boolean {
  const [accuracyA, accuracyB] = [a.bestValAccuracy.mean, b.bestValAccuracy.mean];
  const noWorse = accuracyA >= accuracyB && a.seconds.mean <= b.seconds.mean && a.bytes <= b.bytes;
  const better = accuracyA > accuracyB || a.seconds.mean < b.seconds.mean || a.bytes < b.bytes;
  return noWorse && better;
}

function pct(value: number): string {
  return `${(value * 100).toFixed(2)}%`;
}

/** The epoch a design converged at: a whole epoch when its seeds agree, else their mean, said as one. */
export function epochText(epochs: Spread): string {
  if (epochs.min === epochs.max) return `epoch ${epochs.min}`;
  return `mean epoch ${epochs.mean.toFixed(1)} over ${epochs.n} seeds, ${epochs.min}–${epochs.max}`;
}

function withSpread(s: Spread, format: (v: number) => string): string {
  return s.n > 1 ? `${format(s.mean)} ± ${format(s.std).replace(/%$/, '')} (${s.n} seeds)` : format(s.mean);
}

/** Groups trials into designs and draws the summary. Only trials that trained to the end count. */
export function summarizeTrials(trials: TrialResult[]): { designs: DesignResult[]; summary: StudySummary } {
  const groups = new Map<string, TrialResult[]>();
  for (const trial of trials) {
    const key = designKey(trial);
    groups.set(key, [...(groups.get(key) ?? []), trial]);
  }
  const designs: DesignResult[] = [];
  for (const group of groups.values()) {
    const complete = group.filter((t) => t.status === 'done' && t.testAccuracy !== null && t.bestValAccuracy !== null);
    if (complete.length === 0) continue;
    const first = complete[0];
    const converged = complete.filter((t) => t.secondsToConverge !== null);
    designs.push({
      label: designName(first),
      hidden: first.hidden,
      network: first.network,
      kind: first.kind,
      layers: first.layers,
      nodes: first.nodes,
      activation: first.activation,
      optimizer: first.optimizer,
      lr: first.lr,
      augment: first.augment,
      params: first.params ?? 0,
      multiplyAdds: first.multiplyAdds,
      bytes: first.bytes ?? 0,
      runs: complete.length,
      trials: group.map((t) => t.number),
      bestValAccuracy: spread(complete.map((t) => t.bestValAccuracy as number)),
      testAccuracy: spread(complete.map((t) => t.testAccuracy as number)),
      seconds: spread(complete.map((t) => t.seconds ?? 0)),
      secondsToConverge: converged.length ? spread(converged.map((t) => t.secondsToConverge as number)) : null,
      epochsToConverge: converged.length ? spread(converged.map((t) => t.convergedEpoch as number)) : null,
      pareto: false,
    });
  }
  for (const design of designs) design.pareto = !designs.some((other) => other !== design && dominates(other, design));

  const counts: Record<TrialStatus, number> = { pending: 0, running: 0, done: 0, pruned: 0, diverged: 0, failed: 0 };
  for (const trial of trials) counts[trial.status]++;
  const ranked = [...designs].sort((a, b) => b.bestValAccuracy.mean - a.bestValAccuracy.mean || a.params - b.params);
  const best = ranked[0] ?? null;
  const near = best ? ranked.filter((d) => d.bestValAccuracy.mean >= best.bestValAccuracy.mean - NEAR_BEST) : [];
  const smallestNearBest = near.length ? near.reduce((a, b) => (b.params < a.params ? b : a)) : null;
  const nearConverged = near.filter((d) => d.secondsToConverge !== null);
  const fastestNearBest = nearConverged.length ? nearConverged.reduce((a, b) => (b.secondsToConverge!.mean < a.secondsToConverge!.mean ? b : a)) : null;
  const allConverged = designs.filter((d) => d.secondsToConverge !== null);
  const fastestToConverge = allConverged.length ? allConverged.reduce((a, b) => (b.secondsToConverge!.mean < a.secondsToConverge!.mean ? b : a)) : null;
  const pareto = designs.filter((d) => d.pareto).sort((a, b) => a.bytes - b.bytes);

  const recommendation: string[] = [];
  if (best) {
    recommendation.push(
      `Most accurate: ${best.label}, best validation accuracy ${withSpread(best.bestValAccuracy, pct)}, ` +
        `test accuracy ${withSpread(best.testAccuracy, pct)}, ${best.params.toLocaleString('en-US')} parameters.`,
    );
    if (smallestNearBest && smallestNearBest !== best) {
      const ratio = best.params / smallestNearBest.params;
      recommendation.push(
        `Smallest within 0.2 points of it: ${smallestNearBest.label}, ${smallestNearBest.params.toLocaleString('en-US')} parameters ` +
          `(${ratio.toFixed(1)}× fewer), validation accuracy ${pct(smallestNearBest.bestValAccuracy.mean)}, test accuracy ${pct(smallestNearBest.testAccuracy.mean)}.`,
      );
    } else if (smallestNearBest) {
      recommendation.push('No smaller design comes within 0.2 points of it.');
    }
    if (fastestNearBest) {
      recommendation.push(
        `Fastest to converge within 0.2 points of the best: ${fastestNearBest.label}, ` +
          `${fastestNearBest.secondsToConverge!.mean.toFixed(1)} s (${epochText(fastestNearBest.epochsToConverge!)}).`,
      );
    }
    if (fastestToConverge && fastestToConverge !== fastestNearBest) {
      recommendation.push(
        `Fastest to converge of all: ${fastestToConverge.label}, ${fastestToConverge.secondsToConverge!.mean.toFixed(1)} s, ` +
          `at ${pct(fastestToConverge.bestValAccuracy.mean)} validation accuracy.`,
      );
    }
    // Depth: the best of each layer count among designs with the best design's optimizer.
    const byDepth = new Map<number, DesignResult>();
    for (const d of designs.filter((d) => !d.network && d.optimizer === best.optimizer && d.lr === best.lr)) {
      const current = byDepth.get(d.layers);
      if (!current || d.bestValAccuracy.mean > current.bestValAccuracy.mean) byDepth.set(d.layers, d);
    }
    if (byDepth.size > 1) {
      const depthText = [...byDepth.entries()].sort((a, b) => a[0] - b[0]).map(([layers, d]) => {
        const sameDepth = designs.filter((x) => !x.network && x.layers === layers && x.optimizer === best.optimizer && x.lr === best.lr && x.secondsToConverge);
        const meanConverge = sameDepth.length ? sameDepth.reduce((s, x) => s + x.secondsToConverge!.mean, 0) / sameDepth.length : null;
        return `${layers} hidden layer${layers === 1 ? '' : 's'} ${pct(d.bestValAccuracy.mean)}` + (meanConverge === null ? '' : ` (converging in ${meanConverge.toFixed(1)} s on average)`);
      });
      recommendation.push(`Best validation accuracy by depth (${best.optimizer}): ${depthText.join('; ')}.`);
    }
    // Optimizers on one architecture: the architecture trained with the most optimizers.
    const compared = optimizerComparison(designs);
    if (compared) {
      const order = [...compared].sort((a, b) => b.bestValAccuracy.mean - a.bestValAccuracy.mean);
      recommendation.push(
        `Optimizers on ${architectureTitle(compared[0])}: ` +
          order.map((d) => `${d.optimizer} (lr ${d.lr}) ${pct(d.bestValAccuracy.mean)}`).join(', ') + '.',
      );
    }
  }
  const kinds = bestByKind(designs);
  if (kinds.CNN && kinds.MLP) {
    const [cnn, mlp] = [kinds.CNN, kinds.MLP];
    const [better, worse] = cnn.bestValAccuracy.mean >= mlp.bestValAccuracy.mean ? [cnn, mlp] : [mlp, cnn];
    const points = (better.bestValAccuracy.mean - worse.bestValAccuracy.mean) * 100;
    recommendation.push(
      `CNN vs MLP: the best CNN, ${cnn.label}, reaches ${pct(cnn.bestValAccuracy.mean)} validation accuracy with ${cnn.params.toLocaleString('en-US')} parameters ` +
        `in ${cnn.seconds.mean.toFixed(1)} s; the best MLP, ${mlp.label}, ${pct(mlp.bestValAccuracy.mean)} with ${mlp.params.toLocaleString('en-US')} parameters ` +
        `in ${mlp.seconds.mean.toFixed(1)} s: the ${better.kind} is ${points.toFixed(2)} points ahead` +
        (better.params < worse.params ? ` with ${(worse.params / better.params).toFixed(1)}× fewer parameters.` : '.'),
    );
  }
  if (counts.pruned > 0) recommendation.push(`${counts.pruned} trial${counts.pruned === 1 ? ' was' : 's were'} pruned early by successive halving.`);
  if (counts.diverged > 0) recommendation.push(`${counts.diverged} trial${counts.diverged === 1 ? '' : 's'} diverged (NaN or infinite loss): a smaller learning rate is needed there.`);

  return {
    designs,
    summary: {
      trials: trials.length,
      counts,
      epochsTrained: trials.reduce((sum, t) => sum + t.epochsRun, 0),
      best,
      smallestNearBest,
      fastestNearBest,
      fastestToConverge,
      pareto,
      recommendation,
    },
  };
}
