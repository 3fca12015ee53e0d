import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { parseLayers, presetLayers } from '../../src/io/layer-text.js';
import { modelConfigToJson, type ModelConfig, type ModelConfigV1, type NamedTensor } from '../../src/io/model-config.js';
import {
  expectedTensorShapes,
  loadModel,
  ModelConfigError,
  ModelNotFoundError,
  ModelWeightsError,
  saveModel,
  validateModelConfig,
} from '../../src/io/model-files.js';
import { modelSpecToJson } from '../../src/io/model-spec-json.js';
import { buildModelSpec, describeModel, layer, type ModelSpec } from '../../src/io/model-spec.js';
import { decodeSafetensors, encodeSafetensors } from '../../src/io/safetensors.js';
import { modelV1Bytes, modelV1Tensors } from '../fixtures/io/make-model-v1.js';

const MLP = buildModelSpec([1, 4, 3], parseLayers('linear 8, relu, linear 6, relu'), 10);
const LENET = buildModelSpec([1, 28, 28], presetLayers('lenet5'), 10);
const BATCHNORM = buildModelSpec([1, 8, 8], parseLayers('conv 4 3, batchnorm, relu, maxpool 2, linear 16, batchnorm, relu'), 10);

function makeConfig(model: ModelSpec = MLP, overrides: Partial<ModelConfig> = {}): ModelConfig {
  const classes = (model.layers[model.layers.length - 1] as { out: number }).out;
  return {
    format: 'digitlab',
    version: 2,
    model,
    inputShape: [model.input[1], model.input[2]],
    classes,
    normalization: { pixelMax: 255 },
    labels: Array.from({ length: classes }, (_, i) => String(i)),
    training: { optimizer: 'adam', lr: 0.001, epochs: 3 },
    metrics: { testAccuracy: 0.97 },
    ...overrides,
  };
}

/** Deterministic weights for every tensor a config needs; I64 counters get small integers. */
function makeTensors(config: ModelConfig): NamedTensor[] {
  return expectedTensorShapes(config).map(({ name, shape, dtype }, t): NamedTensor => {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (dtype === 'I64') {
      data.fill(900 + t);
      return { name, shape, dtype, data };
    }
    for (let i = 0; i < data.length; i++) data[i] = Math.sin(1 + 7 * t + 0.37 * i);
    return { name, shape, data };
  });
}

/** The parsed header and the data section of a safetensors file. */
function fileParts(bytes: Buffer): { header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>; data: Buffer } {
  const length = Number(bytes.readBigUInt64LE(0));
  return { header: JSON.parse(bytes.subarray(8, 8 + length).toString('utf8')), data: bytes.subarray(8 + length) };
}

describe('expectedTensorShapes', () => {
  it('names Linear layers at even indices of `layers`, weights [out, in], all F32', () => {
    const model = buildModelSpec([1, 28, 28], parseLayers('linear 100, relu, linear 50, relu'), 10);
    assert.deepEqual(expectedTensorShapes(makeConfig(model)), [
      { name: 'layers.0.weight', shape: [100, 784], dtype: 'F32' },
      { name: 'layers.0.bias', shape: [100], dtype: 'F32' },
      { name: 'layers.2.weight', shape: [50, 100], dtype: 'F32' },
      { name: 'layers.2.bias', shape: [50], dtype: 'F32' },
      { name: 'layers.4.weight', shape: [10, 50], dtype: 'F32' },
      { name: 'layers.4.bias', shape: [10], dtype: 'F32' },
    ]);
  });

  it('has only layers.0 for a linear classifier', () => {
    assert.deepEqual(expectedTensorShapes({ model: buildModelSpec([1, 28, 28], [], 10) }), [
      { name: 'layers.0.weight', shape: [10, 784], dtype: 'F32' },
      { name: 'layers.0.bias', shape: [10], dtype: 'F32' },
    ]);
  });

  it('gives batch normalization its running statistics and the I64 counter', () => {
    assert.deepEqual(expectedTensorShapes({ model: BATCHNORM }).slice(2, 7), [
      { name: 'layers.1.weight', shape: [4], dtype: 'F32' },
      { name: 'layers.1.bias', shape: [4], dtype: 'F32' },
      { name: 'layers.1.running_mean', shape: [4], dtype: 'F32' },
      { name: 'layers.1.running_var', shape: [4], dtype: 'F32' },
      { name: 'layers.1.num_batches_tracked', shape: [], dtype: 'I64' },
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

  it('round-trips an MLP, creating the folder, with config.json as version 2', async () => {
    const dir = join(root, 'nested', 'model-a');
    const config = makeConfig();
    const tensors = makeTensors(config);
    // Given out of order: the file and the loaded list are in layer order regardless.
    await saveModel(dir, config, [...tensors].reverse());
    assert.deepEqual((await readdir(dir)).sort(), ['config.json', 'model.safetensors']);
    const loaded = await loadModel(dir);
    assert.deepEqual(loaded.config, config);
    assert.deepEqual(loaded.tensors, tensors);

    const onDisk = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    assert.deepEqual(Object.keys(onDisk), ['format', 'version', 'model', 'inputShape', 'classes', 'normalization', 'labels', 'training', 'metrics']);
    assert.equal(onDisk.format, 'digitlab');
    assert.equal(onDisk.version, 2);
    assert.deepEqual(onDisk.model, modelSpecToJson(MLP));
    assert.deepEqual(onDisk.model.layers[0], { type: 'linear', out: 8 });

    const file = decodeSafetensors(await readFile(join(dir, 'model.safetensors')), 'model.safetensors');
    assert.deepEqual(file.metadata, { format: 'pt' });
    assert.deepEqual([...file.tensors.keys()], tensors.map((t) => t.name));
  });

  it('round-trips LeNet-5', async () => {
    const dir = join(root, 'lenet');
    const config = makeConfig(LENET);
    const tensors = makeTensors(config);
    await saveModel(dir, config, tensors);
    const loaded = await loadModel(dir);
    assert.deepEqual(loaded.config, config);
    assert.deepEqual(loaded.tensors, tensors);
    assert.deepEqual(loaded.tensors.map((t) => t.name).slice(0, 4), ['layers.0.weight', 'layers.0.bias', 'layers.3.weight', 'layers.3.bias']);
    assert.deepEqual(loaded.tensors[0].shape, [6, 1, 5, 5]);
    const onDisk = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    assert.deepEqual(onDisk.model.layers[0], { type: 'conv2d', out: 6, kernel: [5, 5], stride: [1, 1], padding: [2, 2] });
    assert.deepEqual(onDisk.model.layers[6], { type: 'flatten' });
  });

  it('round-trips batch normalization, num_batches_tracked stored as an 8-byte I64', async () => {
    const dir = join(root, 'batchnorm');
    const config = makeConfig(BATCHNORM);
    const tensors = makeTensors(config);
    await saveModel(dir, config, tensors);
    const loaded = await loadModel(dir);
    assert.deepEqual(loaded.config, config);
    assert.deepEqual(loaded.tensors, tensors);
    const counters = loaded.tensors.filter((t) => t.dtype === 'I64');
    assert.deepEqual(counters.map((t) => t.name), ['layers.1.num_batches_tracked', 'layers.6.num_batches_tracked']);
    assert.ok(loaded.tensors.filter((t) => t.dtype !== 'I64').every((t) => !('dtype' in t)), 'F32 tensors come back without a dtype');

    const { header, data } = fileParts(await readFile(join(dir, 'model.safetensors')));
    for (const counter of counters) {
      const entry = header[counter.name];
      assert.equal(entry.dtype, 'I64');
      assert.deepEqual(entry.shape, []);
      const [begin, end] = entry.data_offsets;
      assert.equal(end - begin, 8);
      assert.equal(data.readBigInt64LE(begin), BigInt(counter.data[0]));
    }
    assert.equal(header['layers.1.running_var'].dtype, 'F32');
  });

  it('round-trips a model without hidden layers and overwrites an existing one', async () => {
    const dir = join(root, 'model-b');
    await saveModel(dir, makeConfig(), makeTensors(makeConfig()));
    const config = makeConfig(buildModelSpec([1, 4, 3], [], 10));
    delete config.labels;
    await saveModel(dir, config, makeTensors(config));
    const loaded = await loadModel(dir);
    assert.deepEqual(loaded.config, config);
    assert.deepEqual(loaded.tensors.map((t) => t.name), ['layers.0.weight', 'layers.0.bias']);
    assert.ok(!('labels' in JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'))));
  });

  it('loads the committed version-1 folder as version 2, with the same tensors', async () => {
    const fixture = new URL('../fixtures/io/model-v1/', import.meta.url);
    assert.deepEqual(await readFile(new URL('model.safetensors', fixture)), modelV1Bytes(), 'the fixture is what make-model-v1.ts writes');
    const v1 = JSON.parse(await readFile(new URL('config.json', fixture), 'utf8')) as ModelConfigV1;
    assert.equal(v1.format, 'digitlab-mlp');

    const loaded = await loadModel(fileURLToPath(fixture));
    const expected: ModelConfig = {
      format: 'digitlab',
      version: 2,
      model: { input: [1, 4, 4], layers: [layer.linear(3), layer.relu(), layer.linear(2)] },
      inputShape: [4, 4],
      classes: 2,
      normalization: { pixelMax: 255 },
      labels: ['blank', 'mark'],
      training: { optimizer: 'sgd', lr: 0.1, epochs: 2, best_epoch: 2 },
      metrics: { test_accuracy: 0.75 },
    };
    assert.deepEqual(loaded.config, expected);
    assert.deepEqual(loaded.tensors, modelV1Tensors());
    assert.equal(describeModel(loaded.config.model), '16-3-2');

    // Saved again it is a version-2 folder with the same weights file.
    const dir = join(root, 'from-v1');
    await saveModel(dir, loaded.config, loaded.tensors);
    assert.equal(JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')).version, 2);
    assert.deepEqual(await readFile(join(dir, 'model.safetensors')), modelV1Bytes());
    assert.deepEqual(await loadModel(dir), loaded);
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
    await writeFile(join(half, 'config.json'), JSON.stringify(modelConfigToJson(makeConfig())));
    await assert.rejects(loadModel(half), /no model at .*half: .*\(model\.safetensors is missing\)/);
  });

  it('names config.json when it is not JSON, or not a config digitlab reads', async () => {
    const dir = join(root, 'bad-json');
    await saveModel(dir, makeConfig(), makeTensors(makeConfig()));
    await writeFile(join(dir, 'config.json'), '{"format": "digitlab",');
    await assert.rejects(loadModel(dir), (error: unknown) => {
      assert.ok(error instanceof ModelConfigError);
      assert.match(error.message, /invalid model config .*bad-json[/\\]config\.json: not valid JSON/);
      return true;
    });
    const json = modelConfigToJson(makeConfig(LENET));
    (json.model as { layers: Record<string, unknown>[] }).layers[3].kernel = [5, 0];
    await writeFile(join(dir, 'config.json'), JSON.stringify(json));
    await assert.rejects(loadModel(dir), /config\.json: model\.layers\[3\]\.kernel is \[5,0\], expected \[height, width\] of integers ≥ 1/);
  });

  describe('the weights check', () => {
    /** A saved model of `config` whose weights file is then replaced by `tensors`. */
    async function folderWith(name: string, config: ModelConfig, tensors: NamedTensor[]): Promise<string> {
      const dir = join(root, name);
      await saveModel(dir, config, makeTensors(config));
      await writeFile(join(dir, 'model.safetensors'), encodeSafetensors(tensors, { format: 'pt' }));
      return dir;
    }

    it('names the tensor and both shapes when the weights do not fit the config', async () => {
      const dir = join(root, 'mismatch');
      await saveModel(dir, makeConfig(), makeTensors(makeConfig()));
      const narrower = makeConfig(buildModelSpec([1, 4, 3], parseLayers('linear 8, relu, linear 5, relu'), 10));
      await writeFile(join(dir, 'config.json'), JSON.stringify(modelConfigToJson(narrower)));
      await assert.rejects(loadModel(dir), (error: unknown) => {
        assert.ok(error instanceof ModelWeightsError);
        assert.match(error.message, /model\.safetensors/);
        assert.match(error.message, /tensor "layers\.2\.weight" has shape \[6, 8\] but the config expects \[5, 8\]/);
        assert.match(error.message, /tensor "layers\.2\.bias" has shape \[6\] but the config expects \[5\]/);
        assert.match(error.message, /tensor "layers\.4\.weight" has shape \[10, 6\] but the config expects \[10, 5\]/);
        assert.match(error.message, /\(the config describes 12-8-5-10 on input \[1, 4, 3\], 10 classes\)/);
        return true;
      });
    });

    it('names a missing tensor and an unexpected one', async () => {
      const tensors = makeTensors(makeConfig());
      tensors[1] = { name: 'layers.1.bias', shape: [8], data: new Float32Array(8) };
      const dir = await folderWith('names', makeConfig(), tensors);
      await assert.rejects(loadModel(dir), /tensor "layers\.0\.bias" \[8\] F32 is missing; unexpected tensor "layers\.1\.bias"/);
    });

    it('names a tensor of the wrong dtype, either way', async () => {
      const config = makeConfig(BATCHNORM);
      const tensors = makeTensors(config).map((t): NamedTensor => {
        if (t.name === 'layers.1.num_batches_tracked') return { name: t.name, shape: t.shape, data: t.data };
        if (t.name === 'layers.6.bias') return { ...t, dtype: 'I64', data: new Float32Array(t.data.length).fill(1) };
        return t;
      });
      const dir = await folderWith('dtypes', config, tensors);
      await assert.rejects(loadModel(dir), (error: unknown) => {
        assert.ok(error instanceof ModelWeightsError);
        assert.equal(error.problems.length, 2, error.message);
        assert.match(error.message, /tensor "layers\.1\.num_batches_tracked" is F32 but the config expects I64/);
        assert.match(error.message, /tensor "layers\.6\.bias" is I64 but the config expects F32/);
        return true;
      });
    });

    it('accepts F16, BF16 and F64 weights where the model keeps F32, as PyTorch writes them', async () => {
      const config = makeConfig(buildModelSpec([1, 2, 2], [], 2));
      const dir = await folderWith('f64', config, makeTensors(config));
      const header = JSON.stringify({
        'layers.0.weight': { dtype: 'F64', shape: [2, 4], data_offsets: [0, 64] },
        'layers.0.bias': { dtype: 'F16', shape: [2], data_offsets: [64, 68] },
      });
      const padded = header + ' '.repeat((8 - (header.length % 8)) % 8);
      const bytes = Buffer.alloc(8 + padded.length + 68);
      bytes.writeBigUInt64LE(BigInt(padded.length));
      bytes.write(padded, 8);
      for (let i = 0; i < 8; i++) bytes.writeDoubleLE(i / 4, 8 + padded.length + 8 * i);
      bytes.writeUInt16LE(0x3c00, 8 + padded.length + 64); // 1.0 in half precision
      await writeFile(join(dir, 'model.safetensors'), bytes);
      const loaded = await loadModel(dir);
      assert.deepEqual([...loaded.tensors[0].data], [0, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75]);
      assert.deepEqual([...loaded.tensors[1].data], [1, 0]);
    });

    it('lists the first few problems and says how many there are', async () => {
      const config = makeConfig(LENET);
      const dir = await folderWith('many', config, [{ name: 'stray', shape: [1], data: new Float32Array(1) }]);
      await assert.rejects(loadModel(dir), (error: unknown) => {
        assert.ok(error instanceof ModelWeightsError);
        assert.equal(error.problems.length, 11);
        assert.match(error.message, /tensor "layers\.0\.weight" \[6, 1, 5, 5\] F32 is missing; /);
        assert.match(error.message, /; … and 5 more \(11 problems\) \(the config describes conv 6 5x5 pad 2, relu, maxpool 2, /);
        assert.doesNotMatch(error.message, /stray/);
        assert.match(error.problems[10], /unexpected tensor "stray"/);
        return true;
      });
    });
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
    const wrong = makeTensors(makeConfig(buildModelSpec([1, 4, 3], parseLayers('linear 8, relu, linear 7, relu'), 10)));
    await assert.rejects(saveModel(dir, config, wrong), ModelWeightsError);
    await assert.rejects(saveModel(dir, config, [...makeTensors(config), makeTensors(config)[0]]), /given twice/);
    await assert.rejects(saveModel(dir, makeConfig(MLP, { classes: 9, labels: undefined }), makeTensors(config)), ModelConfigError);
    const untyped = makeTensors(makeConfig(BATCHNORM)).map(({ name, shape, data }) => ({ name, shape, data }));
    await assert.rejects(
      saveModel(dir, makeConfig(BATCHNORM), untyped),
      /tensor "layers\.1\.num_batches_tracked" is F32 but the config expects I64/,
    );
    assert.deepEqual((await loadModel(dir)).tensors, makeTensors(config));
    assert.deepEqual((await readdir(dir)).sort(), ['config.json', 'model.safetensors']);
  });
});

describe('validateModelConfig', () => {
  const v2 = () => JSON.parse(JSON.stringify(modelConfigToJson(makeConfig()))) as Record<string, unknown>;
  const lenet = () => JSON.parse(JSON.stringify(modelConfigToJson(makeConfig(LENET)))) as Record<string, unknown> & {
    model: { input: unknown; layers: Record<string, unknown>[] };
  };
  const v1 = (): Record<string, unknown> => ({
    format: 'digitlab-mlp', version: 1, inputShape: [4, 3], classes: 10, hidden: [8, 6], activation: 'relu',
    normalization: { pixelMax: 255 }, labels: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
  });
  const edited = <T extends Record<string, unknown>>(value: T, edit: (value: T) => void): T => {
    edit(value);
    return value;
  };

  it('accepts a complete config and one without the optional fields', () => {
    assert.deepEqual(validateModelConfig(makeConfig(), 'config.json'), makeConfig());
    assert.deepEqual(validateModelConfig(v2(), 'config.json'), makeConfig());
    const minimal = { format: 'digitlab', version: 2, model: modelSpecToJson(LENET), inputShape: [28, 28], classes: 10, normalization: { pixelMax: 1 } };
    assert.deepEqual(validateModelConfig(minimal, 'config.json'), { ...minimal, model: LENET });
  });

  it('reads the model with single numbers and left-out defaults', () => {
    const config = validateModelConfig({
      format: 'digitlab', version: 2, inputShape: [8, 8], classes: 3, normalization: { pixelMax: 255 },
      model: { input: [1, 8, 8], layers: [{ type: 'conv2d', out: 2, kernel: 3 }, { type: 'maxpool2d', kernel: 2 }, { type: 'flatten' }, { type: 'linear', out: 3 }] },
    }, 'config.json');
    assert.deepEqual(config.model.layers.slice(0, 2), [layer.conv2d(2, 3), layer.maxpool2d(2)]);
  });

  it('converts version 1 to version 2 with the same tensors', () => {
    const config = validateModelConfig(v1(), 'config.json');
    assert.equal(config.format, 'digitlab');
    assert.equal(config.version, 2);
    assert.deepEqual(config.model, MLP);
    assert.deepEqual(config.inputShape, [4, 3]);
    assert.ok(!('hidden' in config) && !('activation' in config));
    assert.deepEqual(expectedTensorShapes(config).map((t) => t.name),
      ['layers.0.weight', 'layers.0.bias', 'layers.2.weight', 'layers.2.bias', 'layers.4.weight', 'layers.4.bias']);
    const identity = validateModelConfig({ ...v1(), hidden: [5], activation: 'identity' }, 'config.json');
    assert.deepEqual(identity.model.layers, [layer.linear(5), layer.identity(), layer.linear(10)]);
  });

  const cases: [string, unknown, RegExp][] = [
    ['not an object', [1], /expected a JSON object/],
    ['wrong format', { ...v2(), format: 'keras' }, /format is "keras", expected "digitlab" \(version 2\) or "digitlab-mlp" \(version 1\)/],
    ['newer version', { ...v2(), version: 3 }, /version is 3; this digitlab reads versions 1 and 2 \(written by a newer digitlab: upgrade/],
    ['missing version', { ...v2(), version: undefined }, /version is missing; this digitlab reads versions 1 and 2/],
    ['version 1 format with version 2', { ...v2(), format: 'digitlab-mlp' }, /format is "digitlab-mlp" but version is 2: version 2 files say "digitlab"/],
    ['missing model', { ...v2(), model: undefined }, /model is missing, expected \{"input": \[channels, height, width\], "layers"/],
    ['model not an object', { ...v2(), model: [] }, /model is \[\], expected an object with input and layers/],
    ['bad model.input', edited(lenet(), (c) => { c.model.input = [28, 28]; }), /model\.input is \[28,28\], expected \[channels, height, width\]/],
    ['bad kernel', edited(lenet(), (c) => { c.model.layers[3].kernel = [0, 5]; }), /model\.layers\[3\]\.kernel is \[0,5\], expected \[height, width\] of integers ≥ 1/],
    ['unknown layer type', edited(lenet(), (c) => { c.model.layers[1].type = 'gelu'; }), /model\.layers\[1\]\.type is "gelu", expected one of linear, conv2d/],
    ['unknown layer field', edited(lenet(), (c) => { c.model.layers[9].size = 3; }), /model\.layers\[9\]\.size is not a field of linear; its fields are out/],
    ['a layer that does not fit', edited(lenet(), (c) => { c.model.layers[3].kernel = [30, 30]; }), /model\.layers\[3\]: conv 16 30x30: the 30x30 kernel does not fit the 14x14 input/],
    ['no output linear', edited(v2(), (c) => { (c.model as { layers: unknown[] }).layers.push({ type: 'relu' }); }), /model\.layers\[5\] is relu; the last layer must be the output linear/],
    ['inputShape not the model input', { ...v2(), inputShape: [4, 4] }, /inputShape is \[4, 4\] but model\.input is \[1, 4, 3\]: inputShape must be model\.input's \[height, width\], \[4, 3\]/],
    ['bad inputShape', { ...v2(), inputShape: [28] }, /inputShape is \[28\], expected \[height, width\]/],
    ['classes not the output size', { ...v2(), classes: 9, labels: undefined }, /classes is 9 but the output layer model\.layers\[4\] has 10 outputs/],
    ['fractional classes', { ...v2(), classes: 2.5 }, /classes is 2\.5, expected a positive integer/],
    ['missing classes', { ...v2(), classes: undefined }, /classes is missing/],
    ['a version-1 field in version 2', { ...v2(), hidden: [8, 6] }, /hidden is a version-1 field; a version-2 config describes the layers in model/],
    ['an unknown field', { ...v2(), notes: 'x' }, /notes is not a field of a version-2 config \(the fields are format, version, model, .*free-form facts go under training or metrics\)/],
    ['bad normalization', { ...v2(), normalization: { pixelMax: 0 } }, /normalization is \{"pixelMax":0\}/],
    ['labels of the wrong length', { ...v2(), labels: ['a', 'b'] }, /labels has 2 names but classes is 10/],
    ['training not an object', { ...v2(), training: 'adam' }, /training is "adam", expected an object/],
    ['metrics not an object', { ...v2(), metrics: [0.9] }, /metrics is \[0\.9\], expected an object/],
    ['version 1: zero in hidden', { ...v1(), hidden: [8, 0] }, /hidden is \[8,0\], expected a list of positive integers/],
    ['version 1: hidden not a list', { ...v1(), hidden: 8 }, /hidden is 8/],
    ['version 1: unknown activation', { ...v1(), activation: 'gelu' }, /activation is "gelu", expected one of relu, sigmoid, tanh, identity/],
    ['version 1: bad inputShape', { ...v1(), inputShape: [28] }, /inputShape is \[28\], expected \[height, width\]/],
    ['version 1: one class', { ...v1(), classes: 1, labels: undefined }, /the version-1 model does not convert to a layer list: .*class count must be an integer ≥ 2/],
    ['version 1 format with version 1 newer', { ...v1(), version: 2 }, /format is "digitlab-mlp" but version is 2/],
  ];
  for (const [title, value, pattern] of cases) {
    it(`rejects ${title}`, () => {
      assert.throws(() => validateModelConfig(value, 'runs/x/config.json'), (error: unknown) => {
        assert.ok(error instanceof ModelConfigError);
        assert.match(error.message, /^invalid model config runs\/x\/config\.json: /);
        assert.match(error.message, pattern);
        assert.match(error.message, /Fix the file by hand, or save the model again with digitlab\.$/);
        return true;
      });
    });
  }

  it('lists every problem at once', () => {
    assert.throws(
      () => validateModelConfig({ ...v2(), inputShape: [4, 4], classes: 9, labels: undefined, training: 1 }, 'config.json'),
      (error: unknown) => error instanceof ModelConfigError && error.problems.length === 3,
    );
    assert.throws(
      () => validateModelConfig({ ...v1(), activation: 'gelu', hidden: [0] }, 'config.json'),
      (error: unknown) => error instanceof ModelConfigError && error.problems.length === 2,
    );
  });
});
