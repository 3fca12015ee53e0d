import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { createKernels } from '../../src/core/index.js';
import type { Kernels } from '../../src/core/kernels.js';
import { panelIndex } from '../../src/core/panels.js';
import { Random } from '../../src/core/random.js';
import { parseLayers, presetLayers } from '../../src/io/layer-text.js';
import { buildModelSpec, type ModelSpec } from '../../src/io/model-spec.js';
import { BatchnormBatchError, InputShapeError, NoForwardPassError, TensorMismatchError } from '../../src/nn/errors.js';
import { Sequential } from '../../src/nn/sequential.js';

/**
 * Whole networks against torch.nn (test/fixtures/make_sequential_fixtures.py): the logits, the loss,
 * every parameter's gradient and the running statistics after a step, in training and evaluation
 * mode, on both kernel backends; and back-propagation against finite differences, dropout included.
 */
interface Tensor { shape: number[]; dtype: 'F32' | 'I64'; data: number[] }
interface Case {
  state_before: Record<string, Tensor>; input: number[]; labels: number[]; logits: number[]; loss: number;
  grads: Record<string, number[]>; state_after: Record<string, Tensor>;
}
interface Network { name: string; input: [number, number, number]; layers: string; classes: number; rows: number; modules: string[]; train: Case; eval: Case }

const fixture = JSON.parse(readFileSync(new URL('../fixtures/nn/torch_sequential.json', import.meta.url), 'utf8')) as { networks: Network[] };

async function backends(): Promise<Kernels[]> {
  return [await createKernels({ backend: 'reference' }), await createKernels({ backend: 'wasm' })];
}

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, tolerance = 1e-5): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const error = Math.abs(actual[i] - expected[i]);
    if (error > tolerance * Math.max(1, Math.abs(expected[i]))) {
      assert.fail(`${what}[${i}]: ${actual[i]} vs PyTorch's ${expected[i]} (difference ${error})`);
    }
  }
}

function loaded(kernels: Kernels, net: Network, state: Record<string, Tensor>): Sequential {
  const model = new Sequential(kernels, buildModelSpec(net.input, parseLayers(net.layers), net.classes));
  model.loadTensors(Object.entries(state).map(([name, t]) => ({ name, shape: t.shape, data: Float32Array.from(t.data) })));
  return model;
}

describe('Sequential against torch.nn', () => {
  for (const net of fixture.networks) {
    for (const mode of ['train', 'eval'] as const) {
      it(`${net.name} (${mode}): logits, loss, gradients and running statistics`, async () => {
        for (const kernels of await backends()) {
          const c = net[mode];
          const model = loaded(kernels, net, c.state_before);
          model.reserve(net.rows);
          const input = model.allocInput(net.rows);
          input.set(c.input);
          const labels = model.allocLabels(net.rows);
          labels.set(c.labels);
          close(model.forward(input, net.rows, mode === 'train'), c.logits, `${kernels.name} logits`);
          close([model.lossAndGradient(labels, net.rows)], [c.loss], `${kernels.name} loss`);
          model.backward(net.rows);
          const grads = new Map(model.params().map((p) => [p.name, p]));
          assert.deepEqual([...grads.keys()].sort(), Object.keys(c.grads).sort());
          for (const [name, expected] of Object.entries(c.grads)) {
            const p = grads.get(name);
            assert.ok(p, name);
            // a first linear layer keeps its weight [in, out] in panels: read its gradient back as [out, in]
            const [outs, ins] = p.inPanels ? [p.shape[1], p.shape[0]] : [0, 0];
            const grad = p.inPanels ? Array.from({ length: outs * ins }, (_, k) => p.grad[panelIndex(k % ins, Math.floor(k / ins), ins, outs)]) : p.grad;
            close(grad, expected, `${kernels.name} ${name} gradient`);
          }
          const after = new Map(model.toTensors().map((t) => [t.name, t]));
          assert.deepEqual([...after.keys()], Object.keys(c.state_after), 'state_dict names in PyTorch\'s order');
          for (const [name, t] of Object.entries(c.state_after)) {
            assert.deepEqual(after.get(name)?.shape, t.shape, `${name} shape`);
            close(after.get(name)?.data ?? [], t.data, `${kernels.name} ${name} after the step`);
          }
        }
      });
    }
  }

  it('numbers its tensors as nn.Sequential does: LeNet-5 is layers.0, 3, 7, 9, 11', async () => {
    const kernels = await createKernels({ backend: 'reference' });
    const model = Sequential.create(kernels, buildModelSpec([1, 28, 28], presetLayers('lenet5'), 10), 1);
    assert.deepEqual(model.toTensors().map((t) => `${t.name} [${t.shape.join(', ')}]`), [
      'layers.0.weight [6, 1, 5, 5]', 'layers.0.bias [6]', 'layers.3.weight [16, 6, 5, 5]', 'layers.3.bias [16]',
      'layers.7.weight [120, 400]', 'layers.7.bias [120]', 'layers.9.weight [84, 120]', 'layers.9.bias [84]',
      'layers.11.weight [10, 84]', 'layers.11.bias [10]',
    ]);
    assert.equal(model.parameterCount, 61706);
    assert.equal(Sequential.create(kernels, buildModelSpec([1, 28, 28], presetLayers('cnn'), 10), 1).parameterCount, 215194);
  });
});

/** A small network of every kind of layer, for finite differences. */
function everyLayer(): ModelSpec {
  return buildModelSpec([2, 7, 6], parseLayers(
    // overlapping max pools and a ReLU after a batch norm of four rows put many parameters at kinks:
    // the torch.nn fixtures check those; this network keeps the loss smooth
    'conv 3 3x2 stride 1x2 pad 1, batchnorm, tanh, maxpool 2, conv 4 2x2, sigmoid, avgpool 2x1 stride 1, linear 5, batchnorm, tanh, dropout 0.3, linear 4, relu',
  ), 3);
}

describe('Sequential back-propagation', () => {
  it('matches central finite differences for every parameter of every kind of layer', async () => {
    for (const kernels of await backends()) {
      for (const training of [true, false]) {
        const rows = 4;
        const model = Sequential.create(kernels, everyLayer(), 5);
        model.reserve(rows);
        const random = new Random(3);
        const input = model.allocInput(rows);
        for (let i = 0; i < input.length; i++) input[i] = random.uniform(-1, 1);
        const labels = model.allocLabels(rows);
        for (let r = 0; r < rows; r++) labels[r] = random.int(3);
        // the same dropout mask and batch statistics for every evaluation of the loss
        const start = model.randomState;
        const saved = model.snapshot();
        const loss = () => {
          model.randomState = start;
          model.copyWeightsFrom(saved.map((a, i) => (i < model.params().length ? model.params()[i].value : a)));
          model.forward(input, rows, training);
          return model.lossAndGradient(labels, rows);
        };
        loss();
        model.backward(rows);
        const params = model.params();
        const analytic = params.map((p) => Float64Array.from(p.grad));
        const h = 3e-3;
        const base = loss();
        let checked = 0;
        let kinks = 0;
        params.forEach((p, pi) => {
          for (let i = 0; i < p.value.length; i++) {
            const original = p.value[i];
            p.value[i] = original + h;
            const plus = loss();
            p.value[i] = original - h;
            const minus = loss();
            p.value[i] = original;
            // where a max pool's argmax or a ReLU flips within ±h the loss has a kink: the one-sided
            // slopes disagree and the central difference means nothing there
            if (Math.abs((plus - base) - (base - minus)) / h > 0.05 + 0.1 * Math.abs(analytic[pi][i])) {
              kinks++;
              continue;
            }
            checked++;
            const numeric = (plus - minus) / (2 * h);
            const error = Math.abs(numeric - analytic[pi][i]);
            assert.ok(error < 2e-3 + 0.02 * Math.abs(numeric),
              `${kernels.name} ${training ? 'train' : 'eval'} ${p.name}[${i}]: backward ${analytic[pi][i]}, finite difference ${numeric}`);
          }
        });
        assert.ok(kinks < 0.1 * (checked + kinks), `${kinks} of ${checked + kinks} parameters sit at a kink: the check says little`);
      }
    }
  });

  it('drops values only while training, from a seeded generator whose state can be carried', async () => {
    const kernels = await createKernels({ backend: 'wasm' });
    const spec = buildModelSpec([1, 4, 4], parseLayers('linear 50, relu, dropout 0.5'), 3);
    const a = Sequential.create(kernels, spec, 9);
    const input = a.allocInput(2);
    input.fill(0.5);
    const evalLogits = Float32Array.from(a.forward(input, 2, false));
    assert.deepEqual(Float32Array.from(a.forward(input, 2, false)), evalLogits, 'evaluation is deterministic');
    const state = a.randomState;
    const first = Float32Array.from(a.forward(input, 2, true));
    assert.notDeepEqual(first, evalLogits, 'training drops values');
    const second = Float32Array.from(a.forward(input, 2, true));
    assert.notDeepEqual(first, second, 'each batch draws a new mask');
    a.randomState = state;
    assert.deepEqual(Float32Array.from(a.forward(input, 2, true)), first, 'the generator state replays the mask');
  });
});

describe('Sequential errors', () => {
  it('names what is wrong', async () => {
    const kernels = await createKernels({ backend: 'reference' });
    const spec = buildModelSpec([1, 6, 6], parseLayers('conv 2 3x3, relu, linear 4, batchnorm'), 3);
    const model = Sequential.create(kernels, spec, 1);
    assert.throws(() => model.forward(new Float32Array(10), 1), InputShapeError);
    assert.throws(() => model.backward(2), NoForwardPassError);
    const input = model.allocInput(1);
    assert.throws(() => model.forward(input, 1, true), (e: unknown) => e instanceof BatchnormBatchError && /layers\.4.*larger batch size/.test(e.message));
    const tensors = model.toTensors();
    assert.throws(() => model.loadTensors(tensors.slice(1)), (e: unknown) => e instanceof TensorMismatchError && /layers\.0\.weight.*missing/.test(e.message));
    assert.throws(() => model.loadTensors([...tensors, { name: 'layers.9.weight', shape: [1], data: new Float32Array(1) }]),
      (e: unknown) => e instanceof TensorMismatchError && /layers\.9\.weight.*not part of this model/.test(e.message));
    const wrong = tensors.map((t) => (t.name === 'layers.4.running_mean' ? { ...t, shape: [3] } : t));
    assert.throws(() => model.loadTensors(wrong), /layers\.4\.running_mean' has shape \[3\], the network expects \[4\]/);
  });
});
