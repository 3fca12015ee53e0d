import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { drawDesign, goodCount, STARTUP, type Observation } from '../../src/study/sampler.js';
import { expandTrials, isSampledSearch, parseStudySpec, StudySpecError } from '../../src/study/spec.js';

const spec = (search: string, space: string, extra = '') =>
  parseStudySpec(`name: s\nepochs: 1\nsearch: ${search}\nbudget: { trials: 30 }\n${extra}space:\n${space}`, 's.yaml');

describe('search spaces with ranges', () => {
  it('reads integer, log and float ranges, and keeps a spec without them as it was', () => {
    const s = spec('tpe', '  - layers: { int: [1, 3] }\n    nodes: { int: [32, 1024], log: true }\n    lr: { log: [0.0001, 0.01] }\n    optimizer: sgd\n    options: { momentum: { float: [0.8, 0.99] }, nesterov: true }\n');
    assert.deepEqual(s.space[0].sampled, {
      layers: { low: 1, high: 3, log: false, int: true },
      nodes: { low: 32, high: 1024, log: true, int: true },
      lr: { low: 0.0001, high: 0.01, log: true, int: false },
      options: { momentum: { low: 0.8, high: 0.99, log: false, int: false } },
    });
    assert.deepEqual(s.space[0].options, { nesterov: true });
    assert.ok(isSampledSearch(s));
    assert.deepEqual(expandTrials(s), [], 'a sampled search draws its trials as it runs');
    // a listed axis beside a range is drawn from its list
    const mixed = spec('random', '  - layers: [1, 2]\n    nodes: { int: [16, 64] }\n');
    assert.deepEqual(mixed.space[0].sampled?.layers, { choice: [1, 2] });
    const plain = spec('random', '  - layers: [1, 2]\n    nodes: [16, 64]\n');
    assert.equal('sampled' in plain.space[0], false);
    assert.equal(isSampledSearch(plain), false);
    assert.equal(expandTrials(plain).length, 4);
  });

  it('names the line and the fix of a range it cannot use', () => {
    const cases: Array<[string, string, RegExp]> = [
      ['grid', '  - layers: [1]\n    nodes: { int: [16, 64] }\n', /s\.yaml:\d+: space\[0\]\.layers: a range cannot be tried value by value: set search: random or tpe/],
      ['tpe', '  - hidden: [[16]]\n    lr: { log: [0, 0.1] }\n', /space\[0\]\.lr\.log: a log scale needs low > 0, got 0/],
      ['tpe', '  - hidden: [[16]]\n    lr: { float: [0.1, 0.01] }\n', /space\[0\]\.lr\.float: low must be below high, got \[0\.1, 0\.01\]/],
      ['tpe', '  - layers: [1]\n    nodes: { float: [16, 64] }\n', /space\[0\]\.nodes: must be an integer range such as \{ int: \[32, 1024\], log: true \}/],
      ['tpe', '  - layers: [1]\n    nodes: { int: [16.5, 64] }\n', /space\[0\]\.nodes\.int: must be \[low, high\]: two integers/],
      ['tpe', '  - hidden: [[16]]\n    lr: { range: [0.1, 1] }\n', /space\[0\]\.lr\.range: unknown key 'range'; the keys here are int, float, log/],
      ['tpe', '  - hidden: [[16]]\n    optimizer: adam\n    options: { momentum: { float: [0.8, 0.99] } }\n', /adam has no option 'momentum'/],
    ];
    for (const [search, space, pattern] of cases) assert.throws(() => spec(search, space), (e: Error) => e instanceof StudySpecError && pattern.test(e.message), `${search} ${space}`);
    assert.throws(() => parseStudySpec('name: s\nepochs: 1\nsearch: tpe\nspace:\n  - hidden: [[16]]\n', 's.yaml'), /budget\.trials: is required by a tpe search/);
  });
});

describe('drawing designs', () => {
  const space = spec('random', '  - layers: { int: [1, 3] }\n    nodes: { int: [8, 1024], log: true }\n    lr: { log: [0.0001, 0.1] }\n    optimizer: [adam, sgd, rmsprop]\n  - network: [lenet5, cnn]\n');

  it('draws every axis in its range or list, the same draws for the same seed and trial number', () => {
    const draws = Array.from({ length: 400 }, (_, i) => drawDesign(space, i + 1, []));
    assert.deepEqual(drawDesign(space, 7, []), draws[6]);
    const otherSeed = Array.from({ length: 20 }, (_, i) => drawDesign({ ...space, searchSeed: 1 }, i + 1, []).params);
    assert.notDeepEqual(otherSeed, draws.slice(0, 20).map((d) => d.params), 'another search seed draws other designs');
    const mlps = draws.filter((d) => d.design.network === null);
    const networks = draws.filter((d) => d.design.network !== null);
    // the two grids are drawn evenly
    assert.ok(mlps.length > 160 && networks.length > 160, `${mlps.length} MLPs, ${networks.length} networks`);
    assert.deepEqual(new Set(networks.map((d) => d.design.network?.preset)), new Set(['lenet5', 'cnn']));
    const layers = mlps.map((d) => d.design.hidden.length);
    assert.deepEqual(new Set(layers), new Set([1, 2, 3]));
    const nodes = mlps.map((d) => d.design.hidden[0]);
    assert.ok(nodes.every((n) => Number.isInteger(n) && n >= 8 && n <= 1024));
    // log scale: about half the draws below the geometric middle (√(8·1024) ≈ 90.5), not a tenth
    const low = nodes.filter((n) => n < 90.5).length / nodes.length;
    assert.ok(low > 0.4 && low < 0.6, `share below 90.5: ${low}`);
    const lrs = mlps.map((d) => d.design.lr);
    assert.ok(lrs.every((lr) => lr >= 0.0001 && lr <= 0.1));
    const lowLr = lrs.filter((lr) => lr < Math.sqrt(0.0001 * 0.1)).length / lrs.length;
    assert.ok(lowLr > 0.4 && lowLr < 0.6, `share of learning rates below the geometric middle: ${lowLr}`);
    assert.deepEqual(new Set(mlps.map((d) => d.design.optimizer)), new Set(['adam', 'sgd', 'rmsprop']));
    // every MLP layer has the same width
    assert.ok(mlps.every((d) => d.design.hidden.every((n) => n === d.design.hidden[0])));
  });

  it('keeps γ(n) at a tenth of the finished trials, at most 25', () => {
    assert.deepEqual([1, 10, 11, 100, 250, 400].map(goodCount), [1, 1, 2, 10, 25, 25]);
  });

  it('learns: TPE draws closer to the best learning rate and optimizer than random search does', () => {
    const tpe = spec('tpe', '  - hidden: [[16]]\n    lr: { log: [0.00001, 1] }\n    optimizer: [sgd, adam, rmsprop, adagrad]\n');
    const random = { ...tpe, search: 'random' as const };
    // a made-up objective: best at lr 0.003 with adam, falling off with the distance in decades
    const score = (d: { lr: number; optimizer: string }) => 1 - 0.1 * (Math.log10(d.lr) - Math.log10(0.003)) ** 2 - (d.optimizer === 'adam' ? 0 : 0.2);
    const run = (s: typeof tpe) => {
      const finished: Observation[] = [];
      const late: number[] = [];
      for (let number = 1; number <= 40; number++) {
        const { design, params } = drawDesign(s, number, finished);
        finished.push({ params, score: score(design) });
        if (number > 25) late.push(score(design));
      }
      return late.reduce((a, b) => a + b, 0) / late.length;
    };
    const tpeScores: number[] = [];
    const randomScores: number[] = [];
    for (const seed of [0, 1, 2, 3, 4]) {
      tpeScores.push(run({ ...tpe, searchSeed: seed }));
      randomScores.push(run({ ...random, searchSeed: seed }));
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    assert.ok(mean(tpeScores) > mean(randomScores) + 0.1, `late draws: TPE ${mean(tpeScores).toFixed(3)}, random ${mean(randomScores).toFixed(3)}`);
    // before STARTUP finished trials there is nothing to learn from: TPE draws as random search does
    const first = drawDesign(tpe, STARTUP, []);
    assert.deepEqual(first, drawDesign(random, STARTUP, []));
  });
});
