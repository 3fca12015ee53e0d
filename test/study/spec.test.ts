import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { expandTrials, parseStudySpec, pruneRungs, StudySpecError } from '../../src/study/spec.js';

const ROOT = join(import.meta.dirname, '..', '..');

function specError(text: string): StudySpecError {
  try {
    parseStudySpec(text, 'bad.yaml');
  } catch (error) {
    assert.ok(error instanceof StudySpecError, `expected a StudySpecError, got ${error}`);
    return error;
  }
  assert.fail('the spec was accepted');
}

const BASE = `name: t
epochs: 3
space:
  layers: [1, 2]
  nodes: [16, 32]
`;

describe('study specs', () => {
  it('expands layers × nodes and explicit layer lists, once per seed, joining grids without duplicates', () => {
    const spec = parseStudySpec(
      `name: s
epochs: 2
seeds: [1, 2]
space:
  - layers: [0, 1, 2]
    nodes: [16, 32]
  - hidden: [[32], [64, 16]]
    optimizer: [sgd, adam]
`,
      's.yaml',
    );
    const trials = expandTrials(spec);
    const designs = [...new Set(trials.map((t) => JSON.stringify([t.hidden, t.optimizer, t.lr])))];
    assert.deepEqual(designs, [
      '[[],"adam",0.001]', '[[16],"adam",0.001]', '[[32],"adam",0.001]', '[[16,16],"adam",0.001]', '[[32,32],"adam",0.001]',
      '[[32],"sgd",0.01]', '[[64,16],"sgd",0.01]', '[[64,16],"adam",0.001]',
    ]);
    assert.equal(trials.length, designs.length * 2);
    assert.deepEqual(trials.map((t) => t.number), trials.map((_, i) => i + 1));
    assert.equal(new Set(trials.map((t) => t.key)).size, trials.length);
  });

  it('draws a random search within the trial budget, the same draws for the same search seed', () => {
    const text = `epochs: 1
search: random
search_seed: 7
budget: { trials: 5 }
space: { layers: [1, 2, 3], nodes: [16, 32, 64, 128], lr: [0.001, 0.01] }
`;
    const a = expandTrials(parseStudySpec(text));
    const b = expandTrials(parseStudySpec(text));
    assert.equal(a.length, 5);
    assert.deepEqual(a, b);
    const grid = expandTrials(parseStudySpec(text.replace('search: random', 'search: grid').replace('budget: { trials: 5 }', '')));
    assert.equal(grid.length, 24);
    assert.notDeepEqual(a.map((t) => t.key), grid.slice(0, 5).map((t) => t.key), 'random draws are not the first designs of the grid');
  });

  it('names the field and line of an unknown key, a negative epoch count and an unknown optimizer', () => {
    const unknown = specError(BASE.replace('epochs: 3', 'epochs: 3\nepoch_count: 4'));
    assert.equal(unknown.field, 'epoch_count');
    assert.equal(unknown.line, 3);
    assert.match(unknown.message, /^bad\.yaml:3: epoch_count: unknown key 'epoch_count'/);

    const negative = specError(BASE.replace('epochs: 3', 'epochs: -2'));
    assert.equal(negative.field, 'epochs');
    assert.equal(negative.line, 2);
    assert.match(negative.message, /epochs: must be a positive integer, got -2/);

    const optimizer = specError(BASE + '  optimizer: [adam, adamm]\n');
    assert.equal(optimizer.field, 'space.optimizer[1]');
    assert.equal(optimizer.line, 6);
    assert.match(optimizer.message, /unknown optimizer "adamm"; the optimizers are sgd, adam, adamw, adagrad, rmsprop/);

    const nested = specError(BASE.replace('  nodes: [16, 32]', '  nodes: [16, 32]\n  nodez: 3'));
    assert.equal(nested.field, 'space.nodez');
    assert.equal(nested.line, 6);
  });

  it('checks values: nodes, learning rates, options, schedules, seeds, budgets', () => {
    assert.equal(specError(BASE.replace('[16, 32]', '[16, 0]')).field, 'space.nodes[1]');
    assert.equal(specError(BASE + '  lr: -0.1\n').field, 'space.lr');
    assert.match(specError(BASE + '  optimizer: adam\n  options: { momentum: 0.9 }\n').message, /adam has no option 'momentum'/);
    assert.equal(specError(BASE + '  schedule: wiggle\n').field, 'space.schedule');
    assert.equal(specError(BASE + 'seeds: [1, 1]\n').field, 'seeds');
    assert.equal(specError(BASE + 'search: random\n').field, 'budget.trials');
    assert.match(specError('name: t\nspace: { layers: [1], nodes: [8] }\n').message, /epochs: is required/);
    assert.match(specError('epochs: 2\nspace: { layers: [1] }\n').message, /needs hidden .*, both layers and nodes .*, or network/);
    const yaml = specError('epochs: 2\nspace: [\n');
    assert.match(yaml.message, /not valid YAML or JSON/);
    assert.equal(typeof yaml.line, 'number');
  });

  it('reads JSON specs too, with lines', () => {
    const error = specError('{\n  "epochs": 2,\n  "space": {"layers": [1], "nodes": [8]},\n  "colour": 1\n}');
    assert.equal(error.field, 'colour');
    assert.equal(error.line, 4);
    assert.equal(expandTrials(parseStudySpec('{"epochs": 2, "space": {"hidden": [[8, 4]]}}')).length, 1);
  });

  it('puts successive-halving rungs at min_epochs · reduction^k below the epoch budget', () => {
    assert.deepEqual(pruneRungs({ epochs: 9, prune: { minEpochs: 1, reduction: 3 } }), [1, 3]);
    assert.deepEqual(pruneRungs({ epochs: 10, prune: { minEpochs: 1, reduction: 2 } }), [1, 2, 4, 8]);
    assert.deepEqual(pruneRungs({ epochs: 1, prune: { minEpochs: 1, reduction: 3 } }), []);
  });

  it('ships the seed study and its quick version: layers 1–3 × nodes 64–512 with Adam, and four optimizers on one architecture', () => {
    for (const file of ['seed.yaml', 'quick.yaml']) {
      const spec = parseStudySpec(readFileSync(join(ROOT, 'studies', file), 'utf8'), file);
      const trials = expandTrials(spec).filter((t) => t.seed === spec.seeds[0]);
      const adam = trials.filter((t) => t.optimizer === 'adam').map((t) => t.hidden.join('x'));
      for (const layers of [1, 2, 3]) {
        for (const nodes of [64, 128, 256, 512]) assert.ok(adam.includes(new Array(layers).fill(nodes).join('x')), `${file}: ${layers} × ${nodes}`);
      }
      const on128 = trials.filter((t) => t.hidden.join() === '128').map((t) => t.optimizer).sort();
      assert.deepEqual(on128, ['adagrad', 'adam', 'rmsprop', 'sgd']);
      assert.equal(trials.length, 15);
    }
  });
});
