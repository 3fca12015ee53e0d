import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ModelConfig, NamedTensor } from '../../src/io/model-config.js';
import {
  expectedTensorShapes,
  loadModel,
  ModelConfigError,
  ModelNotFoundError,
  ModelWeightsError,
  saveModel,
  validateModelConfig,
} from '../../src/io/model-files.js';
import { decodeSafetensors, encodeSafetensors } from '../../src/io/safetensors.js';

function makeConfig(overrides: Partial<ModelConfig> = {}): ModelConfig {
  return {
    format: 'digitlab-mlp',
    version: 1,
    inputShape: [4, 3],
    classes: 10,
    hidden: [8, 6],
    activation: 'relu',
    normalization: { pixelMax: 255 },
    labels: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    training: { optimizer: 'adam', lr: 0.001, epochs: 3 },
    metrics: { testAccuracy: 0.97 },
    ...overrides,
  };
}

/** Deterministic weights for every tensor a config needs. */
function makeTensors(config: ModelConfig): NamedTensor[] {
  return expectedTensorShapes(config).map(({ name, shape }, t) => {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = Math.sin(1 + 7 * t + 0.37 * i);
    return { name, shape, data };
  });
}

describe('expectedTensorShapes', () => {
  it('names Linear layers at even indices of `layers`, weights [out, in]', () => {
    assert.deepEqual(expectedTensorShapes({ inputShape: [28, 28], hidden: [100, 50], classes: 10 }), [
      { name: 'layers.0.weight', shape: [100, 784] },
      { name: 'layers.0.bias', shape: [100] },
      { name: 'layers.2.weight', shape: [50, 100] },
      { name: 'layers.2.bias', shape: [50] },
      { name: 'layers.4.weight', shape: [10, 50] },
      { name: 'layers.4.bias', shape: [10] },
    ]);
  });

  it('has only layers.0 for a linear classifier', () => {
    assert.deepEqual(expectedTensorShapes({ inputShape: [28, 28], hidden: [], classes: 10 }), [
      { name: 'layers.0.weight', shape: [10, 784] },
      { name: 'layers.0.bias', shape: [10] },
    ]);
  });
});

describe('saveModel / loadModel', () => {
  let root = '';
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'digitlab-model-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('round-trips config and weights, creating the folder', async () => {
    const dir = join(root, 'nested', 'model-a');
    const config = makeConfig();
    const tensors = makeTensors(config);
    // Given out of order: the file and the loaded list are in layer order regardless.
    await saveModel(dir, config, [...tensors].reverse());
    assert.deepEqual((await readdir(dir)).sort(), ['config.json', 'model.safetensors']);
    const loaded = await loadModel(dir);
    assert.deepEqual(loaded.config, config);
    assert.deepEqual(loaded.tensors, tensors);

    const file = decodeSafetensors(await readFile(join(dir, 'model.safetensors')), 'model.safetensors');
    assert.deepEqual(file.metadata, { format: 'pt' });
    assert.deepEqual([...file.tensors.keys()], tensors.map((t) => t.name));
  });

  it('round-trips a model without hidden layers and overwrites an existing one', async () => {
    const dir = join(root, 'model-b');
    await saveModel(dir, makeConfig(), makeTensors(makeConfig()));
    const config = makeConfig({ hidden: [], activation: 'identity', labels: undefined });
    delete config.labels;
    await saveModel(dir, config, makeTensors(config));
    const loaded = await loadModel(dir);
    assert.deepEqual(loaded.config, config);
    assert.deepEqual(loaded.tensors.map((t) => t.name), ['layers.0.weight', 'layers.0.bias']);
  });

  it('says where to get a model when the folder or a file is missing', async () => {
    const dir = join(root, 'nothing-here');
    await assert.rejects(loadModel(dir), (error: unknown) => {
      assert.ok(error instanceof ModelNotFoundError);
      assert.equal(
        error.message,
        `no model at ${dir}: expected config.json and model.safetensors; train one with \`digitlab train --out ${dir}\``,
      );
      return true;
    });
    const half = join(root, 'half');
    await mkdir(half);
    await writeFile(join(half, 'config.json'), JSON.stringify(makeConfig()));
    await assert.rejects(loadModel(half), /no model at .*half: .*\(model\.safetensors is missing\)/);
  });

  it('names config.json when it is not JSON', async () => {
    const dir = join(root, 'bad-json');
    await saveModel(dir, makeConfig(), makeTensors(makeConfig()));
    await writeFile(join(dir, 'config.json'), '{"format": "digitlab-mlp",');
    await assert.rejects(loadModel(dir), (error: unknown) => {
      assert.ok(error instanceof ModelConfigError);
      assert.match(error.message, /invalid model config .*bad-json[/\\]config\.json: not valid JSON/);
      return true;
    });
  });

  it('names the tensor and both shapes when the weights do not fit the config', async () => {
    const dir = join(root, 'mismatch');
    await saveModel(dir, makeConfig(), makeTensors(makeConfig()));
    await writeFile(join(dir, 'config.json'), JSON.stringify(makeConfig({ hidden: [8, 5] })));
    await assert.rejects(loadModel(dir), (error: unknown) => {
      assert.ok(error instanceof ModelWeightsError);
      assert.match(error.message, /model\.safetensors/);
      assert.match(error.message, /tensor "layers\.2\.weight" has shape \[6, 8\] but the config expects \[5, 8\]/);
      assert.match(error.message, /tensor "layers\.2\.bias" has shape \[6\] but the config expects \[5\]/);
      assert.match(error.message, /tensor "layers\.4\.weight" has shape \[10, 6\] but the config expects \[10, 5\]/);
      assert.match(error.message, /hidden \[8, 5\]/);
      return true;
    });
  });

  it('rejects missing and unexpected tensors', async () => {
    const dir = join(root, 'names');
    await saveModel(dir, makeConfig(), makeTensors(makeConfig()));
    const tensors = makeTensors(makeConfig());
    tensors[1] = { name: 'layers.1.bias', shape: [8], data: new Float32Array(8) };
    await writeFile(join(dir, 'model.safetensors'), encodeSafetensors(tensors, { format: 'pt' }));
    await assert.rejects(loadModel(dir), /tensor "layers\.0\.bias" \[8\] is missing; unexpected tensor "layers\.1\.bias"/);
  });

  it('reports a corrupt weights file as such', async () => {
    const dir = join(root, 'corrupt');
    await saveModel(dir, makeConfig(), makeTensors(makeConfig()));
    const path = join(dir, 'model.safetensors');
    const bytes = await readFile(path);
    await writeFile(path, bytes.subarray(0, bytes.length - 4));
    await assert.rejects(loadModel(dir), { name: 'SafetensorsFormatError', message: /model\.safetensors.*truncated/ });
  });

  it('refuses to save tensors that do not fit the config, leaving the old model in place', async () => {
    const dir = join(root, 'keep');
    const config = makeConfig();
    await saveModel(dir, config, makeTensors(config));
    const wrong = makeTensors(makeConfig({ hidden: [8, 7] }));
    await assert.rejects(saveModel(dir, config, wrong), ModelWeightsError);
    await assert.rejects(saveModel(dir, config, [...makeTensors(config), makeTensors(config)[0]]), /given twice/);
    await assert.rejects(saveModel(dir, makeConfig({ hidden: [8, -1] }), makeTensors(config)), ModelConfigError);
    assert.deepEqual((await loadModel(dir)).tensors, makeTensors(config));
    assert.deepEqual((await readdir(dir)).sort(), ['config.json', 'model.safetensors']);
  });
});

describe('validateModelConfig', () => {
  it('accepts a complete config and one without the optional fields', () => {
    assert.deepEqual(validateModelConfig(makeConfig(), 'config.json'), makeConfig());
    const minimal = { format: 'digitlab-mlp', version: 1, inputShape: [28, 28], classes: 10, hidden: [], activation: 'tanh', normalization: { pixelMax: 1 } };
    assert.deepEqual(validateModelConfig(minimal, 'config.json'), minimal);
  });

  const cases: [string, unknown, RegExp][] = [
    ['not an object', [1], /expected a JSON object/],
    ['wrong format', { ...makeConfig(), format: 'keras' }, /format is "keras", expected "digitlab-mlp"/],
    ['newer version', { ...makeConfig(), version: 2 }, /version is 2, expected 1 \(written by a newer digitlab: upgrade/],
    ['missing version', { ...makeConfig(), version: undefined }, /version is missing/],
    ['zero in hidden', { ...makeConfig(), hidden: [8, 0] }, /hidden is \[8,0\], expected a list of positive integers/],
    ['hidden not a list', { ...makeConfig(), hidden: 8 }, /hidden is 8/],
    ['unknown activation', { ...makeConfig(), activation: 'gelu' }, /activation is "gelu", expected one of relu, sigmoid, tanh, identity/],
    ['bad inputShape', { ...makeConfig(), inputShape: [28] }, /inputShape is \[28\], expected \[height, width\]/],
    ['fractional classes', { ...makeConfig(), classes: 2.5 }, /classes is 2\.5, expected a positive integer/],
    ['missing classes', { ...makeConfig(), classes: undefined }, /classes is missing/],
    ['bad normalization', { ...makeConfig(), normalization: { pixelMax: 0 } }, /normalization is \{"pixelMax":0\}/],
    ['labels of the wrong length', { ...makeConfig(), labels: ['a', 'b'] }, /labels has 2 names but classes is 10/],
    ['training not an object', { ...makeConfig(), training: 'adam' }, /training is "adam", expected an object/],
  ];
  for (const [title, value, pattern] of cases) {
    it(`rejects ${title}`, () => {
      assert.throws(() => validateModelConfig(value, 'runs/x/config.json'), (error: unknown) => {
        assert.ok(error instanceof ModelConfigError);
        assert.match(error.message, /^invalid model config runs\/x\/config\.json: /);
        assert.match(error.message, pattern);
        return true;
      });
    });
  }

  it('lists every problem at once', () => {
    assert.throws(
      () => validateModelConfig({ ...makeConfig(), activation: 'gelu', hidden: [0] }, 'config.json'),
      (error: unknown) => error instanceof ModelConfigError && error.problems.length === 2,
    );
  });
});
