/**
 * A study folder written straight through the storage API, with made-up but plausible numbers: no
 * training, so a report test can have pruned trials, designs that never converge, several seeds and
 * a wide range of sizes in well under a second, and know every value the report should show.
 */
import assert from 'node:assert/strict';
import { parseLayers } from '../../src/io/layer-text.js';
import { buildModelSpec, summarizeModel } from '../../src/io/model-spec.js';
import { parameterCount } from '../../src/nn/mlp.js';
import { expandTrials, parseStudySpec, type TrialPlan } from '../../src/study/spec.js';
import { SqliteStudyStorage } from '../../src/study/storage-sqlite.js';
import type { EpochRecord } from '../../src/train/trainer.js';

export interface SyntheticTrial {
  plan: TrialPlan;
  params: number;
  /** The epoch it was pruned after, or null when it trained to the end. */
  prunedAt: number | null;
  /** The epoch its validation loss converged at, or null. */
  convergedEpoch: number | null;
  epochs: EpochRecord[];
  testAccuracy: number | null;
}

export interface SyntheticStudy {
  trials: SyntheticTrial[];
  epochs: number;
}

export interface SyntheticOptions {
  layers?: number[];
  nodes?: number[];
  optimizers?: string[];
  /** Network designs (presets or layer text) in a grid of their own after the MLPs. */
  networks?: string[];
  seeds?: number[];
  epochs?: number;
  /** Decides which trials are pruned, and after which epoch (null: trained to the end). */
  prunedAt?: (plan: TrialPlan) => number | null;
  /** Decides at which epoch a finished trial's loss converged (null: it did not). */
  convergedAt?: (plan: TrialPlan) => number | null;
}

/** How good a design is, from 0 up: wider and deeper is better here, and a seed moves it a little. */
function quality(plan: TrialPlan): number {
  const width = Math.log2((plan.hidden[0] ?? 8) / 8);
  // Networks are better still, convolutional ones the most (by a little more for a longer list).
  const network = plan.network ? 0.07 + (plan.network.layers.includes('conv') ? 0.01 : 0) + 0.0001 * plan.network.layers.length : 0;
  return 0.012 * width + 0.004 * plan.hidden.length + network + 0.0015 * (plan.seed % 3) + (plan.optimizer === 'adam' ? 0.004 : 0);
}

export async function writeSyntheticStudy(dir: string, options: SyntheticOptions = {}): Promise<SyntheticStudy> {
  const epochs = options.epochs ?? 6;
  const yaml = [
    'name: synthetic',
    'data: mnist',
    'validation: 10000',
    `epochs: ${epochs}`,
    'batch_size: 64',
    `seeds: [${(options.seeds ?? [1, 2, 3]).join(', ')}]`,
    'space:',
    `  - layers: [${(options.layers ?? [1, 2]).join(', ')}]`,
    `    nodes: [${(options.nodes ?? [16, 64, 256]).join(', ')}]`,
    `    optimizer: [${(options.optimizers ?? ['adam']).join(', ')}]`,
    ...(options.networks ? ['  - network:', ...options.networks.map((n) => `      - ${JSON.stringify(n)}`)] : []),
    '',
  ].join('\n');
  const spec = parseStudySpec(yaml, 'synthetic.yaml');
  const plans = expandTrials(spec);
  const store = SqliteStudyStorage.open(dir, { create: true });
  const trials: SyntheticTrial[] = [];
  try {
    const sizeOf = (plan: TrialPlan) => {
      if (!plan.network) return { params: parameterCount({ inputs: 784, hidden: plan.hidden, classes: 10, activation: 'relu' }), multiply_adds: null };
      const summary = summarizeModel(buildModelSpec([1, 28, 28], parseLayers(plan.network.layers), 10));
      return { params: summary.params, multiply_adds: summary.multiplyAdds };
    };
    await store.initialize(spec, yaml, plans, (plan) => ({ settings: plan.network ? { multiply_adds: sizeOf(plan).multiply_adds } : {}, layers: plan.network?.layers ?? '' }));
    const rows = await store.trials();
    for (const plan of plans) {
      const row = rows.find((r) => r.number === plan.number)!;
      const { params } = sizeOf(plan);
      const prunedAt = options.prunedAt?.(plan) ?? null;
      const run = prunedAt ?? epochs;
      const convergedEpoch = prunedAt === null ? (options.convergedAt?.(plan) ?? null) : null;
      const q = quality(plan);
      const history: EpochRecord[] = [];
      for (let epoch = 1; epoch <= run; epoch++) {
        const valLoss = 0.45 / Math.sqrt(epoch) - 2 * q + 0.05;
        history.push({
          epoch,
          train_loss: valLoss * 0.8,
          val_loss: valLoss,
          val_accuracy: 0.9 + q - 0.03 / epoch,
          seconds: params / 25_000,
          lr: plan.lr,
        });
      }
      // written as a worker writes them: under its claim on the trial
      const owner = `synthetic/${row.id}`;
      assert.equal((await store.claimNext(owner, 60_000, () => false))?.id, row.id);
      for (const record of history) await store.recordEpoch(row.id, owner, record);
      const last = history[history.length - 1];
      const seconds = history.reduce((sum, e) => sum + e.seconds, 0);
      // The test set is a little harder than the validation split, so the two are told apart.
      const testAccuracy = prunedAt === null ? (last.val_accuracy ?? NaN) - 0.011 : null;
      await store.finish(row.id, owner, {
        status: prunedAt === null ? 'done' : 'pruned',
        params,
        bytes: params * 4,
        bestEpoch: run,
        testAccuracy,
        testLoss: prunedAt === null ? (last.val_loss ?? NaN) + 0.02 : null,
        convergedEpoch,
        secondsToConverge: convergedEpoch === null ? null : history.slice(0, convergedEpoch).reduce((sum, e) => sum + e.seconds, 0),
        seconds,
        confusion: null,
        modelDir: null,
        prunedReason: prunedAt === null ? null : `rung 1 (epoch ${prunedAt}): validation accuracy ${((last.val_accuracy ?? NaN) * 100).toFixed(2)}% is below the bar`,
        error: null,
      });
      trials.push({ plan, params, prunedAt, convergedEpoch, epochs: history, testAccuracy });
    }
    await store.setStudyState('complete');
  } finally {
    await store.close();
  }
  return { trials, epochs };
}
