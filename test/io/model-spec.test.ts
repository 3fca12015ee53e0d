/** Model specs: the layer grammar, shapes, parameter counts, tensor names, presets, version 1 and JSON. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createReferenceKernels } from '../../src/core/reference.js';
import { parseLayers, presetLayers, PRESETS, UnknownPresetError } from '../../src/io/layer-text.js';
import { modelConfigFromV1, type ModelConfigV1 } from '../../src/io/model-config.js';
import { expectedTensorShapes } from '../../src/io/model-files.js';
import { modelSpecFromJson, modelSpecToJson } from '../../src/io/model-spec-json.js';
import {
  buildModelSpec, classCount, describeModel, formatLayer, formatLayers, layer, LayerSpecError, mlpOf, modelSpecFromMlp,
  modelTensors, ModelSpecError, summarizeModel, type LayerSpec, type ModelSpec,
} from '../../src/io/model-spec.js';
import { Mlp } from '../../src/nn/mlp.js';

const MNIST: [number, number, number] = [1, 28, 28];

/** Asserts that `run` throws a LayerSpecError at `position` whose message matches every pattern. */
function refusesAt(run: () => unknown, position: number, ...patterns: RegExp[]): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof LayerSpecError, `expected a LayerSpecError, got ${String(error)}`);
    assert.equal(error.position, position, error.message);
    for (const pattern of patterns) assert.match(error.message, pattern);
    return true;
  });
}

function refusesField(run: () => unknown, field: string, pattern: RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof ModelSpecError, `expected a ModelSpecError, got ${String(error)}`);
    assert.equal(error.field, field, error.message);
    assert.match(error.message, pattern);
    return true;
  });
}

describe('the layer grammar', () => {
  it('reads LeNet-5 as written', () => {
    assert.deepEqual(parseLayers(PRESETS.lenet5.layers), [
      layer.conv2d(6, 5, { padding: 2 }), layer.relu(), layer.maxpool2d(2),
      layer.conv2d(16, 5), layer.relu(), layer.maxpool2d(2),
      layer.linear(120), layer.relu(), layer.linear(84), layer.relu(),
    ]);
    assert.deepEqual(parseLayers('conv 6 5x5 pad 2')[0],
      { type: 'conv2d', out: 6, kernel: [5, 5], stride: [1, 1], padding: [2, 2] });
  });

  it('reads the short and the long forms of every layer', () => {
    const cases: [string, LayerSpec][] = [
      ['conv 6 5', layer.conv2d(6, [5, 5])],
      ['Conv2d 8 3x2 stride 2 padding 1x0', layer.conv2d(8, [3, 2], { stride: 2, padding: [1, 0] })],
      ['conv 4 3 pad 1 stride 2x1', layer.conv2d(4, 3, { stride: [2, 1], padding: 1 })],
      ['maxpool 2', { type: 'maxpool2d', kernel: [2, 2], stride: [2, 2] }],
      ['maxpool 3 stride 2', layer.maxpool2d(3, 2)],
      ['avgpool 2', layer.avgpool2d(2)],
      ['avgpool2d 2x3', { type: 'avgpool2d', kernel: [2, 3], stride: [2, 3] }],
      ['dropout', layer.dropout(0.5)],
      ['dropout 0.25', { type: 'dropout', p: 0.25 }],
      ['batchnorm', { type: 'batchnorm', eps: 1e-5, momentum: 0.1 }],
      ['batchnorm eps 1e-3 momentum 0.01', layer.batchnorm({ eps: 1e-3, momentum: 0.01 })],
      ['flatten', layer.flatten()], ['relu', layer.relu()], ['tanh', layer.tanh()], ['sigmoid', layer.sigmoid()],
      ['linear 120', layer.linear(120)],
    ];
    for (const [text, want] of cases) assert.deepEqual(parseLayers(text), [want], text);
    assert.deepEqual(parseLayers('  linear 10 ,relu,  linear  5 '), [layer.linear(10), layer.relu(), layer.linear(5)]);
    assert.deepEqual(parseLayers(''), []);
    assert.deepEqual(parseLayers('none'), []);
  });

  it('writes a list back in the same grammar', () => {
    const texts = [
      PRESETS.lenet5.layers, PRESETS.cnn.layers,
      'conv 8 3x2 stride 2 pad 1x0, maxpool 3 stride 2, avgpool 2x3, dropout 0.25, batchnorm eps 0.001 momentum 0.01, flatten, tanh, sigmoid, identity',
    ];
    for (const text of texts) {
      assert.equal(formatLayers(parseLayers(text)), text);
      assert.deepEqual(parseLayers(formatLayers(parseLayers(text))), parseLayers(text));
    }
    assert.equal(formatLayer(layer.conv2d(6, 5)), 'conv 6 5x5');
    assert.equal(formatLayers([]), 'none');
  });

  it('names the item, its text and the fix when an item is wrong', () => {
    refusesAt(() => parseLayers('conv 6 5, covn 16 5, relu'), 2, /layer 2 \('covn 16 5'\)/, /unknown layer 'covn': did you mean conv\? The layers are linear, conv,/);
    refusesAt(() => parseLayers('linear 10, wobble'), 2, /unknown layer 'wobble': the layers are linear, conv, maxpool/);
    refusesAt(() => parseLayers('linear 10,, relu'), 2, /the item is empty: remove the extra comma/);
    refusesAt(() => parseLayers('linear 10, relu,'), 3, /empty/);
    refusesAt(() => parseLayers('linear'), 1, /missing a value; write it as linear OUT/);
    refusesAt(() => parseLayers('linear 0'), 1, /the output size '0' must be an integer ≥ 1/);
    refusesAt(() => parseLayers('linear 12.5'), 1, /must be an integer/);
    refusesAt(() => parseLayers('linear 10 20'), 1, /'20' is one value too many/);
    refusesAt(() => parseLayers('relu, conv 6'), 2, /missing values; write it as conv OUT KERNEL \[stride S\] \[pad P\]/);
    refusesAt(() => parseLayers('conv 6 5y5'), 1, /the kernel '5y5' must be an integer/);
    refusesAt(() => parseLayers('conv 6 5x5x5'), 1, /the kernel '5x5x5' must be N or HxW/);
    refusesAt(() => parseLayers('conv 6 5 pd 2'), 1, /'pd' is not understood; write it as conv/);
    refusesAt(() => parseLayers('conv 6 5 pad'), 1, /'pad' needs a value/);
    refusesAt(() => parseLayers('conv 6 5 pad 1 padding 2'), 1, /'pad' is given twice/);
    refusesAt(() => parseLayers('conv 6 5 stride 0'), 1, /the stride '0' must be an integer ≥ 1/);
    refusesAt(() => parseLayers('conv 6 5 pad 2 7'), 1, /'7' is not understood/);
    refusesAt(() => parseLayers('maxpool'), 1, /write it as maxpool KERNEL \[stride S\]/);
    refusesAt(() => parseLayers('dropout 1'), 1, /the probability '1' must be a number in \[0, 1\)/);
    refusesAt(() => parseLayers('dropout half'), 1, /'half' is not understood; write it as dropout \[P\]/);
    refusesAt(() => parseLayers('batchnorm momentum 2'), 1, /momentum '2' must be a number in \[0, 1\]/);
    refusesAt(() => parseLayers('relu 2'), 1, /'2' is one value too many; write it as relu/);
  });
});

describe('building a model from a layer list', () => {
  it('LeNet-5 on MNIST: the implied flatten, PyTorch\'s indices and shapes, 61,706 parameters', () => {
    const spec = buildModelSpec(MNIST, presetLayers('lenet5'), 10);
    assert.equal(spec.layers.length, 12);
    assert.deepEqual(spec.layers[6], layer.flatten());
    assert.deepEqual(spec.layers[11], layer.linear(10));
    const summary = summarizeModel(spec);
    assert.equal(summary.params, 61706);
    assert.deepEqual(summary.layers.map((l) => l.module), [
      'Conv2d', 'ReLU', 'MaxPool2d', 'Conv2d', 'ReLU', 'MaxPool2d', 'Flatten', 'Linear', 'ReLU', 'Linear', 'ReLU', 'Linear',
    ]);
    assert.deepEqual(summary.layers.map((l) => l.output), [
      [6, 28, 28], [6, 28, 28], [6, 14, 14], [16, 10, 10], [16, 10, 10], [16, 5, 5], [400], [120], [120], [84], [84], [10],
    ]);
    assert.deepEqual(summary.input, [1, 28, 28]);
    assert.deepEqual(summary.output, [10]);
    assert.deepEqual(summary.layers.map((l) => l.multiplyAdds), [117600, 0, 0, 240000, 0, 0, 0, 48000, 0, 10080, 0, 840]);
    assert.equal(summary.multiplyAdds, 416520);
    assert.deepEqual(modelTensors(spec).map((t) => [t.name, t.shape]), [
      ['layers.0.weight', [6, 1, 5, 5]], ['layers.0.bias', [6]],
      ['layers.3.weight', [16, 6, 5, 5]], ['layers.3.bias', [16]],
      ['layers.7.weight', [120, 400]], ['layers.7.bias', [120]],
      ['layers.9.weight', [84, 120]], ['layers.9.bias', [84]],
      ['layers.11.weight', [10, 84]], ['layers.11.bias', [10]],
    ]);
    assert.equal(classCount(spec), 10);
  });

  it('the cnn preset: 215,194 parameters', () => {
    const spec = buildModelSpec(MNIST, presetLayers('cnn'), 10);
    assert.equal(summarizeModel(spec).params, 215194);
    assert.deepEqual(modelTensors(spec).map((t) => t.name), [
      'layers.0.weight', 'layers.0.bias', 'layers.3.weight', 'layers.3.bias',
      'layers.7.weight', 'layers.7.bias', 'layers.9.weight', 'layers.9.bias',
    ]);
    assert.deepEqual(modelTensors(spec)[4].shape, [256, 800]);
  });

  it('unknown presets are refused with the list', () => {
    assert.throws(() => presetLayers('alexnet'), (error: unknown) =>
      error instanceof UnknownPresetError && /unknown preset 'alexnet': the presets are lenet5, cnn/.test(error.message));
    assert.throws(() => presetLayers('toString'), UnknownPresetError);
  });

  it('stride, padding and non-square kernels give PyTorch\'s output sizes (floor)', () => {
    const text = 'conv 4 3x2 stride 2 pad 1x0, maxpool 2x1 stride 1x2, avgpool 2 stride 2x1';
    const shapes = summarizeModel(buildModelSpec([3, 11, 9], parseLayers(text), 5)).layers.map((l) => l.output);
    // conv: ⌊(11 + 2 − 3)/2⌋ + 1 = 6, ⌊(9 − 2)/2⌋ + 1 = 4; maxpool: 5, ⌊(4 − 1)/2⌋ + 1 = 2; avgpool: 2, 1
    assert.deepEqual(shapes.slice(0, 3), [[4, 6, 4], [4, 5, 2], [4, 2, 1]]);
    refusesAt(() => buildModelSpec([3, 11, 9], parseLayers(`${text}, avgpool 2`), 5),
      4, /layer 4 \('avgpool 2'\): the 2x2 pooling window does not fit the 2x1 input/);
  });

  it('a kernel that does not fit names its item and the fix', () => {
    refusesAt(() => buildModelSpec(MNIST, parseLayers('conv 6 5, maxpool 2, conv 16 5, maxpool 2, conv 32 5'), 10),
      5, /layer 5 \('conv 32 5x5'\): the 5x5 kernel does not fit the 4x4 input: use a smaller kernel, more padding/);
    refusesAt(() => buildModelSpec([1, 3, 3], parseLayers('conv 2 6 pad 1'), 10), 1, /the 6x6 kernel does not fit the 3x3 input padded to 5x5/);
    buildModelSpec([1, 3, 3], parseLayers('conv 2 5 pad 1'), 10); // 3 + 2 = 5: fits exactly, 1x1 out
    refusesAt(() => buildModelSpec(MNIST, parseLayers('linear 100, conv 6 5'), 10), 2,
      /conv2d needs a \[channels, height, width\] input but gets \[100\]: spatial layers go before the flatten/);
    refusesAt(() => buildModelSpec(MNIST, parseLayers('conv 6 5, flatten, maxpool 2'), 10), 3, /maxpool2d needs a \[channels/);
    refusesAt(() => buildModelSpec(MNIST, [layer.linear(0)], 10), 1, /layer 1 \('linear 0'\): out is 0, expected an integer ≥ 1/);
    assert.throws(() => buildModelSpec(MNIST, [], 1), /class count must be an integer ≥ 2, got 1/);
    assert.throws(() => buildModelSpec([1, 0, 28], [], 10), /input shape is \[1,0,28\], expected \[channels, height, width\]/);
  });

  it('implies a flatten only where a linear follows spatial layers, and before the output layer', () => {
    const types = (text: string, input: [number, number, number] = MNIST) =>
      buildModelSpec(input, parseLayers(text), 10).layers.map((l) => l.type).join(' ');
    assert.equal(types('conv 4 3, relu'), 'conv2d relu flatten linear');
    assert.equal(types('conv 4 3, flatten, linear 20'), 'conv2d flatten linear linear');
    assert.equal(types('conv 4 3, batchnorm, dropout 0.2, linear 20, batchnorm'), 'conv2d batchnorm dropout flatten linear batchnorm linear');
    // an MLP reads the image flattened: no flatten module, layers.0 is the first linear (as in version 1)
    assert.equal(types('linear 800, relu'), 'linear relu linear');
    assert.equal(types(''), 'linear');
    const inputDropout = summarizeModel(buildModelSpec(MNIST, parseLayers('dropout 0.2, batchnorm, linear 50'), 10));
    assert.deepEqual(inputDropout.input, [784]);
    assert.deepEqual(inputDropout.layers.map((l) => l.module), ['Dropout', 'BatchNorm1d', 'Linear', 'Linear']);
    assert.deepEqual(summarizeModel(buildModelSpec([3, 8, 8], parseLayers('flatten, linear 5'), 10)).input, [3, 8, 8]);
  });

  it('batch normalization: 1d after flat layers, 2d after spatial ones, with its running statistics', () => {
    const spec = buildModelSpec([3, 8, 8], parseLayers('conv 4 3, batchnorm, relu, linear 16, batchnorm'), 10);
    const summary = summarizeModel(spec);
    assert.equal(summary.layers[1].module, 'BatchNorm2d');
    assert.equal(summary.layers[1].params, 8);
    assert.equal(summary.layers[1].multiplyAdds, 4 * 6 * 6);
    assert.equal(summary.layers[5].module, 'BatchNorm1d');
    assert.deepEqual(summary.layers[1].tensors, [
      { name: 'layers.1.weight', shape: [4], dtype: 'F32', trainable: true },
      { name: 'layers.1.bias', shape: [4], dtype: 'F32', trainable: true },
      { name: 'layers.1.running_mean', shape: [4], dtype: 'F32', trainable: false },
      { name: 'layers.1.running_var', shape: [4], dtype: 'F32', trainable: false },
      { name: 'layers.1.num_batches_tracked', shape: [], dtype: 'I64', trainable: false },
    ]);
    assert.deepEqual(summary.layers[5].tensors.map((t) => [t.name, t.shape]), [
      ['layers.5.weight', [16]], ['layers.5.bias', [16]], ['layers.5.running_mean', [16]], ['layers.5.running_var', [16]],
      ['layers.5.num_batches_tracked', []],
    ]);
    // conv 4·3·3·3 + 4 = 112, bn 8, linear 144·16 + 16 = 2320, bn 32, output 16·10 + 10 = 170
    assert.equal(summary.params, 112 + 8 + 2320 + 32 + 170);
  });
});

describe('version-1 MLPs as layer lists', () => {
  const config = (hidden: number[], activation: ModelConfigV1['activation']): ModelConfigV1 => ({
    format: 'digitlab-mlp', version: 1, inputShape: [28, 28], classes: 10, hidden, activation,
    normalization: { pixelMax: 255 },
  });

  it('give exactly the tensor names and shapes of today\'s MLP', () => {
    const kernels = createReferenceKernels();
    for (const [hidden, activation] of [[[800], 'relu'], [[512, 256], 'tanh'], [[], 'relu'], [[30, 20, 10], 'sigmoid'], [[16, 8], 'identity']] as const) {
      const v1 = config([...hidden], activation);
      const spec = modelSpecFromMlp({ inputShape: v1.inputShape, hidden: v1.hidden, activation: v1.activation, classes: v1.classes });
      const tensors = modelTensors(spec).map((t) => ({ name: t.name, shape: t.shape }));
      const upgraded = modelConfigFromV1(v1);
      assert.deepEqual(upgraded.model, spec);
      assert.deepEqual(expectedTensorShapes(upgraded), tensors.map((t) => ({ ...t, dtype: 'F32' })), `${hidden.join(',')} ${activation}`);
      assert.deepEqual(tensors, [...hidden, 10].flatMap((out, i) => [
        { name: `layers.${2 * i}.weight`, shape: [out, i === 0 ? 784 : hidden[i - 1]] }, { name: `layers.${2 * i}.bias`, shape: [out] },
      ]));
      const mlp = new Mlp(kernels, { inputs: 784, hidden: [...hidden], classes: 10, activation });
      assert.deepEqual(tensors, mlp.toTensors().map((t) => ({ name: t.name, shape: t.shape })));
      assert.equal(summarizeModel(spec).params, mlp.parameterCount);
      assert.deepEqual(mlpOf(spec), { hidden: [...hidden], activation: hidden.length === 0 ? 'relu' : activation });
    }
  });

  it('mlpOf recognizes only plain MLPs', () => {
    assert.equal(mlpOf(buildModelSpec(MNIST, presetLayers('lenet5'), 10)), null);
    assert.equal(mlpOf(buildModelSpec(MNIST, parseLayers('linear 10, relu, linear 5, tanh'), 10)), null);
    assert.equal(mlpOf(buildModelSpec(MNIST, parseLayers('linear 10, dropout 0.5'), 10)), null);
    assert.equal(mlpOf(buildModelSpec(MNIST, parseLayers('linear 10'), 10)), null);
    assert.equal(mlpOf(buildModelSpec([3, 28, 28], parseLayers('linear 10, relu'), 10)), null);
  });
});

describe('describeModel', () => {
  it('writes a version-1-shaped MLP as its sizes, as version 1 showed it', () => {
    assert.equal(describeModel(modelSpecFromMlp({ inputShape: [28, 28], hidden: [800], activation: 'relu', classes: 10 })), '784-800-10');
    assert.equal(describeModel(modelSpecFromMlp({ inputShape: [28, 28], hidden: [512, 256], activation: 'tanh', classes: 10 })), '784-512-256-10');
    assert.equal(describeModel(modelSpecFromMlp({ inputShape: [4, 3], hidden: [], activation: 'identity', classes: 2 })), '12-2');
  });

  it('writes anything else as layer text, without the implied flattens and the output linear', () => {
    assert.equal(describeModel(buildModelSpec(MNIST, presetLayers('lenet5'), 10)), PRESETS.lenet5.layers);
    assert.equal(describeModel(buildModelSpec(MNIST, parseLayers('linear 100, dropout 0.2'), 10)), 'linear 100, dropout 0.2');
    assert.equal(describeModel(buildModelSpec([3, 28, 28], parseLayers('linear 10, relu'), 10)), 'linear 10, relu');
    assert.equal(describeModel(buildModelSpec([3, 28, 28], [], 10)), 'none');
  });

  it('gives text that builds the same model again', () => {
    for (const [input, text] of [
      [MNIST, PRESETS.lenet5.layers], [MNIST, PRESETS.cnn.layers],
      [MNIST, 'conv 4 3, batchnorm, relu, maxpool 2, linear 16, batchnorm, relu, dropout 0.1'],
      [MNIST, 'conv 4 3, flatten, dropout 0.5'], // the flatten is not right before a linear: written
      [[3, 8, 8], 'flatten, linear 5'], // no spatial layer before it: the image would enter flattened without it
      [MNIST, 'batchnorm, linear 20, tanh'],
    ] as [[number, number, number], string][]) {
      const spec = buildModelSpec(input, parseLayers(text), 10);
      assert.deepEqual(buildModelSpec(input, parseLayers(describeModel(spec)), 10), spec, text);
    }
    assert.equal(describeModel(buildModelSpec([3, 8, 8], parseLayers('flatten, linear 5'), 10)), 'flatten, linear 5');
  });
});

describe('model specs as JSON', () => {
  const lenet = buildModelSpec(MNIST, presetLayers('lenet5'), 10);

  it('round-trips through JSON text with every field written', () => {
    const everything = buildModelSpec([3, 12, 10],
      parseLayers('conv 4 3x2 stride 2 pad 1x0, batchnorm eps 0.001, relu, maxpool 2, avgpool 1x2, dropout 0.3, linear 7, sigmoid, tanh, identity'), 4);
    for (const spec of [lenet, everything]) {
      const text = JSON.stringify(modelSpecToJson(spec));
      assert.deepEqual(modelSpecFromJson(JSON.parse(text)), spec);
    }
    assert.deepEqual(modelSpecToJson(lenet).layers[0], { type: 'conv2d', out: 6, kernel: [5, 5], stride: [1, 1], padding: [2, 2] });
    const json = modelSpecToJson(lenet);
    (json.layers[0].kernel as number[])[0] = 3;
    assert.deepEqual((lenet.layers[0] as { kernel: number[] }).kernel, [5, 5], 'the JSON is a copy');
  });

  it('accepts single numbers and left-out defaults', () => {
    const spec = modelSpecFromJson({
      input: [1, 8, 8],
      layers: [{ type: 'conv2d', out: 2, kernel: 3 }, { type: 'maxpool2d', kernel: 2 }, { type: 'dropout' }, { type: 'batchnorm' },
        { type: 'flatten' }, { type: 'linear', out: 3 }],
    });
    assert.deepEqual(spec.layers.slice(0, 4), [layer.conv2d(2, 3), layer.maxpool2d(2), layer.dropout(), layer.batchnorm()]);
  });

  it('names the field that is wrong', () => {
    const good = modelSpecToJson(lenet);
    const withLayer = (i: number, change: Record<string, unknown>) =>
      ({ ...good, layers: good.layers.map((l, j) => (j === i ? { ...l, ...change } : l)) });
    refusesField(() => modelSpecFromJson(null, 'model'), 'model', /expected an object with input and layers/);
    refusesField(() => modelSpecFromJson({ ...good, input: [28, 28] }, 'model'), 'model.input', /expected \[channels, height, width\]/);
    refusesField(() => modelSpecFromJson({ ...good, hidden: [] }), 'hidden', /not a field of a model spec/);
    refusesField(() => modelSpecFromJson({ ...good, layers: 'conv' }), 'layers', /expected a list of layers/);
    refusesField(() => modelSpecFromJson({ ...good, layers: [] }), 'layers', /non-empty list/);
    refusesField(() => modelSpecFromJson(withLayer(3, { type: 'conv3d' }), 'model'), 'model.layers[3].type', /expected one of linear, conv2d/);
    refusesField(() => modelSpecFromJson(withLayer(3, { strid: [2, 2] })), 'layers[3].strid', /not a field of conv2d; its fields are out, kernel, stride, padding/);
    refusesField(() => modelSpecFromJson(withLayer(1, { p: 0.5 })), 'layers[1].p', /not a field of relu; it has no fields/);
    refusesField(() => modelSpecFromJson(withLayer(3, { kernel: [5, 0] })), 'layers[3].kernel', /expected \[height, width\] of integers ≥ 1/);
    refusesField(() => modelSpecFromJson(withLayer(3, { kernel: '5x5' })), 'layers[3].kernel', /is "5x5"/);
    refusesField(() => modelSpecFromJson(withLayer(0, { padding: -1 })), 'layers[0].padding', /integers ≥ 0/);
    refusesField(() => modelSpecFromJson(withLayer(7, { out: 1.5 })), 'layers[7].out', /expected an integer ≥ 1/);
    refusesField(() => modelSpecFromJson(withLayer(3, { kernel: [15, 15] })), 'layers[3]', /conv 16 15x15: the 15x15 kernel does not fit the 14x14 input/);
    // the explicit form: a linear after spatial layers needs its flatten
    const noFlatten = { ...good, layers: good.layers.filter((l) => l.type !== 'flatten') };
    refusesField(() => modelSpecFromJson(noFlatten), 'layers[6]', /linear needs flat features but gets \[16, 5, 5\]: put a flatten before it/);
    refusesField(() => modelSpecFromJson({ ...good, layers: good.layers.slice(0, 6) }), 'layers', /the output is \[16, 5, 5\]; the last layer must be the output linear/);
  });

  it('summarizeModel checks specs built in code', () => {
    const bad: ModelSpec = { input: [1, 28, 28], layers: [layer.dropout(1.5), layer.linear(10)] };
    refusesField(() => summarizeModel(bad), 'layers[0].p', /expected a probability in \[0, 1\)/);
  });
});
