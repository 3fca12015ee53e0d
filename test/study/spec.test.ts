import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PRESETS } from '../../src/io/layer-text.js';
import { checkNetworks, expandTrials, parseStudySpec, pruneRungs, StudySpecError } from '../../src/study/spec.js';

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

  it('reads augment as an axis: texts and objects, each a design, and names the field and line of a bad one', () => {
    const spec = parseStudySpec(BASE + '  augment: [none, "affine,elastic", { elastic: { alpha: 20 } }]\n', 'a.yaml');
    assert.deepEqual(spec.space[0].augment, [null, { affine: { rotate: 10, scale: 0.1, shear: 10, translate: 2 }, elastic: { alpha: 34, sigma: 4 } }, { elastic: { alpha: 20, sigma: 4 } }]);
    const trials = expandTrials(spec);
    assert.equal(trials.length, 4 * 3);
    assert.equal(new Set(trials.map((t) => t.key)).size, 12);
    // a grid without augment keeps its key and its JSON as before (a rerun of an older study matches)
    const plain = parseStudySpec(BASE, 'b.yaml');
    assert.equal('augment' in plain.space[0], false);
    assert.deepEqual(expandTrials(plain).map((t) => t.key), trials.filter((t) => t.augment === null).map((t) => t.key));
    const one = parseStudySpec(BASE + '  augment: { affine: { rotate: 5 } }\n', 'c.yaml');
    assert.deepEqual(one.space[0].augment, [{ affine: { rotate: 5, scale: 0.1, shear: 10, translate: 2 } }]);
    const bad = specError(BASE + '  augment: [affine, flip]\n');
    assert.equal(bad.field, 'space.augment[1]');
    assert.equal(bad.line, 6);
    assert.match(bad.message, /'flip' is not a distortion: use "none", "affine", "elastic" or "affine,elastic"/);
    assert.match(specError(BASE + '  augment: { affine: { spin: 3 } }\n').message, /affine has no range 'spin' \(it has rotate, scale, shear, translate\)/);
    assert.match(specError(BASE + '  augment: { elastic: { sigma: -2 } }\n').message, /space.augment: elastic sigma must be a positive number, got -2/);
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

  it('reads networks: presets and layer text in the --layers grammar, stored as canonical text, beside MLP grids', () => {
    const spec = parseStudySpec(
      `epochs: 1
space:
  - network: [lenet5, CNN, "conv 16 5x5, relu, maxpool 2, linear 128, relu"]
  - network: conv 8 3X3 stride 1 pad 0,relu,  maxpool 2 stride 2, linear 64, relu
    optimizer: [adam, sgd]
  - hidden: [800]
`,
      'n.yaml',
    );
    assert.deepEqual(spec.space[0].hidden, []);
    assert.deepEqual(spec.space[0].networks, [
      { layers: PRESETS.lenet5.layers, preset: 'lenet5' },
      { layers: PRESETS.cnn.layers, preset: 'cnn' },
      { layers: 'conv 16 5x5, relu, maxpool 2, linear 128, relu', preset: null },
    ]);
    // Written loosely, stored as formatLayers writes it.
    assert.deepEqual(spec.space[1].networks, [{ layers: 'conv 8 3x3, relu, maxpool 2, linear 64, relu', preset: null }]);
    // An MLP grid has no networks key at all: its JSON (what a rerun compares) is what it always was.
    assert.ok(!('networks' in spec.space[2]));
    const trials = expandTrials(spec);
    assert.deepEqual(trials.map((t) => [t.network?.preset ?? t.network?.layers ?? null, t.hidden, t.optimizer]), [
      ['lenet5', [], 'adam'],
      ['cnn', [], 'adam'],
      ['conv 16 5x5, relu, maxpool 2, linear 128, relu', [], 'adam'],
      ['conv 8 3x3, relu, maxpool 2, linear 64, relu', [], 'adam'],
      ['conv 8 3x3, relu, maxpool 2, linear 64, relu', [], 'sgd'],
      [null, [800], 'adam'],
    ]);
    assert.equal(new Set(trials.map((t) => t.key)).size, trials.length);
    // The same layer list written twice, however spaced, is one design.
    const twice = parseStudySpec('epochs: 1\nspace:\n  - network: "linear 32, relu"\n  - network: "linear  32,relu"\n');
    assert.equal(expandTrials(twice).length, 1);
  });

  it('fills {width} with each value of width, and keeps networks without it once', () => {
    const spec = parseStudySpec(
      `epochs: 1
space:
  - network:
      - conv {width} 5x5, relu, maxpool 2, conv {width} 3x3, relu, linear 128, relu
      - lenet5
    width: [8, 16, 32]
`,
    );
    assert.deepEqual(spec.space[0].networks, [
      { layers: 'conv 8 5x5, relu, maxpool 2, conv 8 3x3, relu, linear 128, relu', preset: null, width: 8 },
      { layers: 'conv 16 5x5, relu, maxpool 2, conv 16 3x3, relu, linear 128, relu', preset: null, width: 16 },
      { layers: 'conv 32 5x5, relu, maxpool 2, conv 32 3x3, relu, linear 128, relu', preset: null, width: 32 },
      { layers: PRESETS.lenet5.layers, preset: 'lenet5' },
    ]);
    assert.equal(expandTrials(spec).length, 4);
    assert.deepEqual(parseStudySpec('epochs: 1\nspace: { network: "linear {width}, relu", width: 20 }\n').space[0].networks, [{ layers: 'linear 20, relu', preset: null, width: 20 }]);
  });

  it('names the file, line and field of a bad network, with the layer problem', () => {
    const bad = specError(`epochs: 1
space:
  - hidden: [16]
  - network:
      - conv 16 5x5, relu, maxpol 2
`);
    assert.equal(bad.field, 'space[1].network[0]');
    assert.equal(bad.line, 5);
    assert.match(bad.message, /^bad\.yaml:5: space\[1\]\.network\[0\]: layer 3 \('maxpol 2'\): unknown layer 'maxpol': did you mean maxpool\?/);

    const preset = specError('epochs: 1\nspace:\n  - network: [cnn, lenet]\n');
    assert.equal(preset.field, 'space[0].network[1]');
    assert.equal(preset.line, 3);
    assert.match(preset.message, /a network is a preset \(lenet5, cnn, cnn-bn, best: did you mean lenet5\?\)/);

    const value = specError('epochs: 1\nspace:\n  - network: conv 0 5x5\n');
    assert.equal(value.field, 'space[0].network');
    assert.match(value.message, /layer 1 \('conv 0 5x5'\): the channel count '0' must be an integer ≥ 1/);

    const notText = specError('epochs: 1\nspace:\n  - network: [lenet5, 12]\n');
    assert.equal(notText.field, 'space[0].network[1]');
    assert.match(notText.message, /must be a preset \(lenet5, cnn, cnn-bn, best\) or a layer list/);
    assert.equal(specError('epochs: 1\nspace:\n  - network: []\n').field, 'space[0].network');
  });

  it('refuses network beside hidden, layers or nodes, activation with a network, and width without {width} or the reverse', () => {
    const both = specError('epochs: 1\nspace:\n  - network: lenet5\n    hidden: [800]\n');
    assert.equal(both.field, 'space[0].hidden');
    assert.equal(both.line, 4);
    assert.match(both.message, /give either network \(presets or layer lists\) or hidden \(an MLP\), not both/);
    const grid = specError('epochs: 1\nspace:\n  - layers: [1]\n    nodes: [8]\n    network: cnn\n');
    assert.equal(grid.field, 'space[0].layers');
    assert.match(grid.message, /or layers and nodes \(an MLP\), not both/);
    const activation = specError('epochs: 1\nspace:\n  - network: cnn\n    activation: tanh\n');
    assert.equal(activation.field, 'space[0].activation');
    assert.equal(activation.line, 4);
    assert.match(activation.message, /a network names its activations in its layer list/);

    const unused = specError('epochs: 1\nspace:\n  - network: [lenet5, "conv 8 5x5, relu"]\n    width: [8, 16]\n');
    assert.equal(unused.field, 'space[0].width');
    assert.equal(unused.line, 4);
    assert.match(unused.message, /no network of this grid has \{width\} for it to fill/);
    const missing = specError('epochs: 1\nspace:\n  - hidden: [8]\n  - network: ["conv {width} 5x5, relu"]\n');
    assert.equal(missing.field, 'space[1].network[0]');
    assert.equal(missing.line, 4);
    assert.match(missing.message, /\{width\} needs a width list in the same grid/);
    const alone = specError('epochs: 1\nspace:\n  - hidden: [8]\n    width: [8]\n');
    assert.equal(alone.field, 'space[0].width');
    assert.match(alone.message, /width fills \{width\} in a network's layer list: give network too/);
    const placeholder = specError('epochs: 1\nspace:\n  - network: conv {channels} 5x5\n    width: [8]\n');
    assert.equal(placeholder.field, 'space[0].network');
    assert.match(placeholder.message, /unknown placeholder \{channels\}: the only one is \{width\}/);
    assert.equal(specError('epochs: 1\nspace:\n  - network: "linear {width}"\n    width: [8, 0]\n').field, 'space[0].width[1]');
    assert.equal(specError('epochs: 1\nspace:\n  - network: "linear {width}"\n    width: [8, 8]\n').field, 'space[0].width');
    const filled = specError('epochs: 1\nspace:\n  - network: "conv {width} 5x5 pad {width}x, relu"\n    width: [2]\n');
    assert.match(filled.message, /space\[0\]\.network: with width 2: layer 1 \('conv 2 5x5 pad 2x'\)/);
  });

  it('checks, once the data is known, that every network fits its images, naming the design, file, line and field', () => {
    const spec = parseStudySpec('epochs: 1\nspace:\n  - hidden: [8]\n  - network:\n      - linear 16, relu\n      - lenet5\n', 'fit.yaml');
    checkNetworks(spec, [1, 28, 28], 10);
    assert.throws(
      () => checkNetworks(spec, [1, 8, 8], 10, 'idx:small'),
      (error: unknown) => {
        assert.ok(error instanceof StudySpecError);
        assert.equal(error.field, 'space[1].network[1]');
        assert.equal(error.line, 6);
        assert.match(error.message, /^fit\.yaml:6: space\[1\]\.network\[1\]: the network lenet5 \(conv 6 5x5 pad 2, .*\) does not fit the 8×8 images of idx:small: layer 4 \('conv 16 5x5'\): the 5x5 kernel does not fit the 4x4 input/);
        return true;
      },
    );
  });

  it('ships the CNN study and its quick version: lenet5, cnn, a conv width family and 784-800-10', () => {
    for (const file of ['cnn.yaml', 'cnn-quick.yaml']) {
      const spec = parseStudySpec(readFileSync(join(ROOT, 'studies', file), 'utf8'), file);
      checkNetworks(spec, [1, 28, 28], 10);
      const trials = expandTrials(spec).filter((t) => t.seed === spec.seeds[0]);
      assert.deepEqual(trials.map((t) => (t.network ? t.network.preset ?? t.network.layers : t.hidden.join('-'))), [
        'lenet5', 'cnn',
        'conv 8 5x5, relu, maxpool 2, linear 128, relu', 'conv 16 5x5, relu, maxpool 2, linear 128, relu', 'conv 32 5x5, relu, maxpool 2, linear 128, relu',
        '800',
      ]);
      assert.ok(trials.every((t) => t.optimizer === 'adam' && t.lr === 0.001));
    }
    const quick = parseStudySpec(readFileSync(join(ROOT, 'studies', 'cnn-quick.yaml'), 'utf8'));
    assert.equal(quick.seeds.length, 1);
    assert.ok(quick.trainSubset !== null && quick.epochs < parseStudySpec(readFileSync(join(ROOT, 'studies', 'cnn.yaml'), 'utf8')).epochs);
  });
});
