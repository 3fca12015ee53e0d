/**
 * Model specs against the nn.Sequential modules PyTorch built for the same layer lists
 * (test/fixtures/make_conv_fixtures.py): module classes, output shapes, multiply-adds, parameter
 * counts, and the state_dict's names, shapes and dtypes, in order.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseLayers, PRESETS } from '../../src/io/layer-text.js';
import { buildModelSpec, modelTensors, summarizeModel } from '../../src/io/model-spec.js';

interface TorchModel {
  name: string;
  layers: string;
  input: [number, number, number];
  classes: number;
  sequential_input: number[];
  modules: string[];
  outputs: number[][];
  multiply_adds: number[];
  params: number;
  state_dict: { name: string; shape: number[]; dtype: string }[];
}

const fixture = JSON.parse(readFileSync(new URL('../fixtures/nn/torch_layers.json', import.meta.url), 'utf8')) as { models: TorchModel[] };

test('the fixture has the presets as they are defined', () => {
  const byName = new Map(fixture.models.map((m) => [m.name, m]));
  assert.equal(byName.get('lenet5')?.layers, PRESETS.lenet5.layers);
  assert.equal(byName.get('cnn')?.layers, PRESETS.cnn.layers);
  assert.equal(byName.get('lenet5')?.params, 61706);
  assert.equal(byName.get('cnn')?.params, 215194);
});

for (const model of fixture.models) {
  test(`${model.name}: the same modules, shapes, parameters and state_dict as torch's nn.Sequential`, () => {
    const spec = buildModelSpec(model.input, parseLayers(model.layers), model.classes);
    const summary = summarizeModel(spec);
    assert.deepEqual(summary.input, model.sequential_input);
    assert.deepEqual(summary.layers.map((l) => l.module), model.modules);
    assert.deepEqual(summary.layers.map((l) => l.output), model.outputs);
    assert.deepEqual(summary.layers.map((l) => l.multiplyAdds), model.multiply_adds);
    assert.equal(summary.params, model.params);
    assert.deepEqual(modelTensors(spec).map(({ name, shape, dtype }) => ({ name, shape, dtype })), model.state_dict);
  });
}
