import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeGrayscalePng } from '../../src/data/images.js';
import { loadData } from '../../src/data/source.js';
import { settingsFromOptions } from '../../src/cli/train.js';
import { digitlab, writeSmallIdx } from './helpers.js';

/** The options commander gives settingsFromOptions when only the network is chosen. */
const defaults = { optimizer: 'adam', epochs: 5, batchSize: 64, seed: 0, convergeTolerance: 0, convergePatience: 3 };
const pairs = (items: unknown[]) => Array.from({ length: items.length / 2 }, (_, i) => [items[2 * i], items[2 * i + 1]]);

/**
 * Convolutional networks through the command line: presets, --layers, the per-layer summary, a
 * version-2 model folder, and eval, predict and read on it.
 */
const dir = mkdtempSync(join(tmpdir(), 'digitlab-cli-cnn-'));
const data = `idx:${join(dir, 'small')}`;
after(() => rmSync(dir, { recursive: true, force: true }));
before(() => writeSmallIdx(join(dir, 'small'), 6000, 1000));

describe('digitlab with convolutional networks', () => {
  it('presets lists lenet5 and cnn with their parameter counts', () => {
    const result = digitlab(['presets', '--json']);
    assert.equal(result.status, 0, result.stderr);
    const list = JSON.parse(result.stdout) as { name: string; params: number; layers: string }[];
    assert.deepEqual(list.slice(0, 2).map((p) => [p.name, p.params]), [['lenet5', 61706], ['cnn', 215194]]);
    assert.match(digitlab(['presets']).stdout, /^lenet5: conv 6 5x5 pad 2, relu, maxpool 2/m);
    const best = list.find((p) => p.name === 'best') as unknown as Record<string, unknown>;
    assert.deepEqual([best.params, best.augment, best.epochs, best.batch_size], [431946, 'affine', 20, 128]);
    assert.match(digitlab(['presets']).stdout, /^ {2}and with --augment affine --epochs 20 --batch-size 128 unless given others$/m);
  });

  it('trains --preset lenet5, prints its layers, and saves a version-2 folder that eval, predict and read use', () => {
    const out = join(dir, 'lenet');
    const result = digitlab(['train', '--preset', 'lenet5', '--data', data, '--validation', '1000', '--epochs', '2', '--batch-size', '32', '--seed', '1', '--out', out, '--json']);
    assert.equal(result.status, 0, result.stderr);
    const json = JSON.parse(result.stdout);
    assert.equal(json.params, 61706);
    assert.ok(json.test_accuracy > 0.9, `test accuracy ${json.test_accuracy}`);
    // with Adam at its default rate, the preset brings its own schedule, and says so
    assert.deepEqual(json.settings.schedule, { type: 'onecycle', maxLr: 0.01 });
    assert.match(result.stderr, /adam, schedule onecycle:0\.01 \(lenet5's own; --schedule none for a constant rate\)/);
    // the per-layer summary: module, output shape, parameters, multiply-adds
    assert.match(result.stderr, /layers\.0\s+Conv2d\s+\[6, 28, 28\]\s+156\s+117,600/);
    assert.match(result.stderr, /layers\.6\s+Flatten\s+\[400\]/);
    assert.match(result.stderr, /total\s+61,706/);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    assert.equal(config.version, 2);
    assert.equal(config.model.layers.length, 12);
    assert.deepEqual(config.model.layers[0], { type: 'conv2d', out: 6, kernel: [5, 5], stride: [1, 1], padding: [2, 2] });

    const evaluated = digitlab(['eval', '--model', out, '--data', data, '--validation', '1000', '--json']);
    assert.equal(evaluated.status, 0, evaluated.stderr);
    assert.equal(JSON.parse(evaluated.stdout).accuracy, json.test_accuracy);

    const test = loadData(data, { validation: 1000 }).test;
    const png = join(dir, 'digit.png');
    const pixels = test.images.subarray(0, 784);
    writeFileBytes(png, encodeGrayscalePng(pixels instanceof Uint8Array ? pixels : Uint8Array.from(pixels), 28, 28));
    const predicted = digitlab(['predict', '--model', out, png, '--json']);
    assert.equal(predicted.status, 0, predicted.stderr);
    const prediction = JSON.parse(predicted.stdout);
    assert.equal(String((Array.isArray(prediction) ? prediction[0] : prediction).digit), String(test.labels[0]));
    const read = digitlab(['read', '--model', out, png, '--json']);
    assert.equal(read.status, 0, read.stderr);
  });

  it("takes a preset's schedule only when neither a schedule, a rate nor another optimizer is chosen", () => {
    const schedule = (...options: (string | number)[]) => settingsFromOptions({ ...defaults, preset: 'cnn', ...Object.fromEntries(pairs(options)) }).schedule;
    assert.deepEqual(schedule(), { type: 'onecycle', maxLr: 0.01 });
    assert.deepEqual(schedule('schedule', 'none'), { type: 'constant' });
    assert.deepEqual(schedule('schedule', 'step:2'), { type: 'step', stepSize: 2, gamma: 0.1 });
    assert.equal(schedule('lr', 0.002), null);
    assert.equal(schedule('optimizer', 'sgd'), null);
    assert.equal(settingsFromOptions({ ...defaults, preset: 'cnn-bn' }).schedule?.type, 'onecycle');
    assert.equal(settingsFromOptions({ ...defaults, hidden: '800' }).schedule, null);
  });

  it('takes a recipe preset\'s augmentation, epochs and batch size where none is given', () => {
    const bare = { ...defaults, epochs: undefined, batchSize: undefined };
    const best = settingsFromOptions({ ...bare, preset: 'best' });
    assert.deepEqual(best.augment, { affine: { rotate: 10, scale: 0.1, shear: 10, translate: 2 } });
    assert.deepEqual([best.epochs, best.batchSize, best.schedule], [20, 128, { type: 'onecycle', maxLr: 0.005 }]);
    const mine = settingsFromOptions({ ...bare, preset: 'best', augment: 'none', epochs: 3, batchSize: 32, affineRotate: undefined });
    assert.deepEqual([mine.augment, mine.epochs, mine.batchSize], [undefined, 3, 32]);
    assert.deepEqual(settingsFromOptions({ ...bare, preset: 'best', affineRotate: 5 }).augment, { affine: { rotate: 5, scale: 0.1, shear: 10, translate: 2 } });
    // a preset that is only a layer list, and an MLP, keep the plain defaults
    for (const opts of [{ preset: 'cnn-bn' }, { hidden: '800' }]) {
      const plain = settingsFromOptions({ ...bare, ...opts });
      assert.deepEqual([plain.augment, plain.epochs, plain.batchSize], [undefined, 5, 64]);
    }
  });

  it('trains any --layers list with batch norm and dropout', () => {
    const out = join(dir, 'custom');
    const result = digitlab(['train', '--layers', 'conv 8 3x3 pad 1, batchnorm, relu, maxpool 2, dropout 0.25, linear 32, relu', '--data', data,
      '--validation', '1000', '--epochs', '1', '--batch-size', '50', '--out', out, '--json']);
    assert.equal(result.status, 0, result.stderr);
    const json = JSON.parse(result.stdout);
    assert.ok(json.test_accuracy > 0.85, `test accuracy ${json.test_accuracy}`);
    const names = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).model.layers.map((l: { type: string }) => l.type);
    assert.deepEqual(names, ['conv2d', 'batchnorm', 'relu', 'maxpool2d', 'dropout', 'flatten', 'linear', 'relu', 'linear']);
  });

  it('still reads a version-1 model folder (hidden + activation)', () => {
    const png = join(dir, 'four.png');
    writeFileBytes(png, encodeGrayscalePng(Uint8Array.from({ length: 16 }, (_, i) => (i % 5 === 0 ? 255 : 0)), 4, 4));
    const v1 = join(import.meta.dirname, '..', 'fixtures', 'io', 'model-v1');
    const predicted = digitlab(['predict', '--model', v1, png, '--json']);
    assert.equal(predicted.status, 0, predicted.stderr);
    const prediction = JSON.parse(predicted.stdout);
    const first = Array.isArray(prediction) ? prediction[0] : prediction;
    assert.equal(first.probabilities.length, 2);
  });

  it('names the layer and the fix for a bad list, and refuses mixing --layers with --hidden', () => {
    const bad = digitlab(['train', '--layers', 'conv 6 5x5, relu, maxpol 2', '--data', data, '--epochs', '1']);
    assert.equal(bad.status, 2, bad.stderr);
    assert.match(bad.stderr, /--layers: layer 3 \('maxpol 2'\).*maxpool/);
    const big = digitlab(['train', '--layers', 'conv 6 29x29', '--data', data, '--epochs', '1']);
    assert.equal(big.status, 2, big.stderr);
    assert.match(big.stderr, /layer 1 \('conv 6 29x29'\): the 29x29 kernel does not fit the 28x28 input/);
    const mixed = digitlab(['train', '--preset', 'lenet5', '--hidden', '800', '--data', data, '--epochs', '1']);
    assert.equal(mixed.status, 2, mixed.stderr);
    assert.match(mixed.stderr, /--hidden describes an MLP and --preset the whole network/);
    const unknown = digitlab(['train', '--preset', 'lenet7', '--data', data, '--epochs', '1']);
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /unknown preset 'lenet7': the presets are lenet5, cnn/);
  });
});

function writeFileBytes(path: string, bytes: Uint8Array): void {
  writeFileSync(path, bytes);
}
