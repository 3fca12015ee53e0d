import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RungBook } from '../../src/study/pruning.js';
import { summarizeTrials, type TrialResult } from '../../src/study/results.js';

function trial(number: number, hidden: number[], valAccuracy: number, seconds: number, extra: Partial<TrialResult> = {}): TrialResult {
  const params = [784, ...hidden, 10].reduce((sum, n, i, sizes) => (i === 0 ? 0 : sum + sizes[i - 1] * n + n), 0);
  return {
    number, status: 'done', hidden, network: null, kind: 'MLP', layers: hidden.length, nodes: hidden[0] ?? null, activation: 'relu', optimizer: 'adam', lr: 0.001, options: {},
    schedule: null, augment: null, seed: 1, params, multiplyAdds: params, bytes: params * 4, bestValAccuracy: valAccuracy, bestValLoss: 0.1, bestEpoch: 3, testAccuracy: valAccuracy - 0.001,
    testLoss: 0.1, convergedEpoch: 3, secondsToConverge: seconds / 2, seconds, epochsRun: 4, prunedReason: null, error: null, modelDir: null,
    confusion: null, epochs: [], timings: {}, ...extra,
  };
}

describe('study summaries', () => {
  it('averages repeats, finds the best, the smallest within 0.2 points, and the Pareto front', () => {
    const trials = [
      trial(1, [512], 0.980, 30),
      trial(2, [512], 0.976, 32, { seed: 2 }),
      trial(3, [128], 0.9765, 10),
      trial(4, [64], 0.970, 6),
      trial(5, [256], 0.975, 40),
      trial(6, [32], 0.99, 1, { status: 'pruned', testAccuracy: null }),
      trial(7, [16], 0.5, 1, { status: 'diverged', testAccuracy: null }),
    ];
    const { designs, summary } = summarizeTrials(trials);
    assert.equal(designs.length, 4, 'pruned and diverged trials make no design');
    const d512 = designs.find((d) => d.hidden[0] === 512)!;
    assert.equal(d512.runs, 2);
    assert.ok(Math.abs(d512.bestValAccuracy.mean - 0.978) < 1e-12);
    assert.ok(Math.abs(d512.bestValAccuracy.std - Math.sqrt(0.000008)) < 1e-9);
    assert.equal(summary.best, d512);
    assert.equal(summary.smallestNearBest?.hidden[0], 128);
    assert.deepEqual(summary.pareto.map((d) => d.hidden[0]), [64, 128, 512]);
    assert.equal(designs.find((d) => d.hidden[0] === 256)!.pareto, false, '256 is beaten by 128 on every count');
    assert.equal(summary.counts.pruned, 1);
    assert.equal(summary.counts.diverged, 1);
    assert.match(summary.recommendation.join('\n'), /Smallest within 0.2 points of it: 128 adam/);
    assert.match(summary.recommendation.join('\n'), /±/);
  });

  it('draws the Pareto front on validation accuracy, the accuracy designs are ranked by', () => {
    // Same size and time; the first is better on validation, the second on the test set.
    const { designs } = summarizeTrials([
      trial(1, [64], 0.98, 10, { testAccuracy: 0.95 }),
      trial(2, [64], 0.97, 10, { lr: 0.01, testAccuracy: 0.97 }),
    ]);
    assert.deepEqual(designs.map((d) => [d.lr, d.pareto]), [[0.001, true], [0.01, false]]);
  });

  it('says the epoch a design converged at as a whole number, or as a mean when its seeds differ', () => {
    const same = summarizeTrials([
      trial(1, [128], 0.98, 10, { convergedEpoch: 6 }),
      trial(2, [128], 0.98, 10, { convergedEpoch: 6, seed: 2 }),
    ]);
    assert.match(same.summary.recommendation.join('\n'), /Fastest to converge within 0\.2 points of the best: 128 adam lr 0\.001, 5\.0 s \(epoch 6\)\./);
    const differ = summarizeTrials([
      trial(1, [128], 0.98, 10, { convergedEpoch: 4 }),
      trial(2, [128], 0.98, 10, { convergedEpoch: 5, seed: 2 }),
    ]);
    assert.match(differ.summary.recommendation.join('\n'), /5\.0 s \(mean epoch 4\.5 over 2 seeds, 4–5\)\./);
  });

  it('keeps the best 1/reduction at a rung, judged against every trial recorded there', () => {
    const book = new RungBook(3);
    assert.equal(book.decide(1, 0, 1, 0.90).row.kept, true, 'the first arrival has no rival');
    assert.equal(book.decide(2, 0, 1, 0.85).row.kept, false);
    assert.equal(book.decide(3, 0, 1, 0.95).row.kept, true);
    const decision = book.decide(4, 0, 1, 0.91);
    assert.equal(decision.row.kept, false);
    assert.equal(decision.row.threshold, 0.95);
    assert.equal(decision.row.competitors, 4);
    assert.match(decision.reason!, /rung 1 \(epoch 1\): validation accuracy 91.00% is below 95.00%, the bar for the best 1\/3 of the 4 trials/);
    assert.equal(book.prunedAt(4), decision.reason);
    assert.equal(book.prunedAt(3), null);
    // With six values the best two pass.
    book.decide(5, 0, 1, 0.80);
    assert.equal(book.decide(6, 0, 1, 0.92).row.kept, true);
  });
});
