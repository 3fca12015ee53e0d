import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createKernels } from '../../src/core/index.js';
import type { Activation, Kernels } from '../../src/core/kernels.js';
import { Random } from '../../src/core/random.js';
import { Mlp } from '../../src/nn/mlp.js';

/**
 * Back-propagation checked against central finite differences of the loss, for every layer's
 * weights and biases and every activation, on both kernel backends.
 */
async function backends(): Promise<Kernels[]> {
  return [await createKernels({ backend: 'reference' }), await createKernels({ backend: 'wasm' })];
}

function setup(kernels: Kernels, activation: Activation, hidden: number[]) {
  const rows = 5;
  const model = Mlp.create(kernels, { inputs: 7, hidden, classes: 4, activation }, 3);
  model.reserve(rows);
  const input = model.allocInput(rows);
  const random = new Random(11);
  for (let i = 0; i < input.length; i++) input[i] = random.uniform(-1, 1);
  const labels = model.allocLabels(rows);
  for (let r = 0; r < rows; r++) labels[r] = random.int(4);
  const loss = () => {
    model.forward(input, rows);
    return model.lossAndGradient(labels, rows);
  };
  return { model, input, rows, loss };
}

for (const activation of ['relu', 'sigmoid', 'tanh'] as const) {
  for (const hidden of [[], [6], [6, 5]]) {
    describe(`MLP gradients, ${activation}, hidden [${hidden}]`, () => {
      it('match central finite differences for every parameter', async () => {
        for (const kernels of await backends()) {
          const { model, rows, loss } = setup(kernels, activation, hidden);
          loss();
          model.backward(rows);
          const analytic = model.params().map((p) => Float32Array.from(p.grad));
          const eps = 1e-2;
          let checked = 0;
          model.params().forEach((p, pi) => {
            for (let i = 0; i < p.value.length; i++) {
              const saved = p.value[i];
              p.value[i] = saved + eps;
              const up = loss();
              p.value[i] = saved - eps;
              const down = loss();
              p.value[i] = saved;
              const numeric = (up - down) / (2 * eps);
              const got = analytic[pi][i];
              assert.ok(
                Math.abs(got - numeric) <= 2e-3 + 2e-2 * Math.abs(numeric),
                `${kernels.name} ${p.name}[${i}]: backprop ${got}, finite difference ${numeric}`,
              );
              checked++;
            }
          });
          assert.equal(checked, model.parameterCount);
        }
      });
    });
  }
}

describe('softmax cross-entropy', () => {
  it('is finite and exact for extreme logits', async () => {
    for (const kernels of await backends()) {
      const logits = kernels.allocF32(6);
      logits.set([1e4, -1e4, 0, -3e4, 3e4, 3e4 - 2]);
      const labels = kernels.allocI32(2);
      labels.set([1, 0]);
      const grad = kernels.allocF32(6);
      const loss = kernels.softmaxCrossEntropy(logits, labels, 2, 3, grad);
      // Row 0: logsumexp = 1e4, loss = 1e4 − (−1e4) = 2e4. Row 1: logsumexp ≈ 3e4 + log(1 + e^-2), loss ≈ 6e4 + 0.127.
      const expected = (2e4 + (3e4 + Math.log1p(Math.exp(-2)) + 3e4)) / 2;
      assert.ok(Number.isFinite(loss), `${kernels.name}: loss ${loss}`);
      assert.ok(Math.abs(loss - expected) / expected < 1e-6, `${kernels.name}: loss ${loss}, expected ${expected}`);
      for (const g of grad) assert.ok(Number.isFinite(g));
    }
  });
});

describe('initialization', () => {
  it('follows nn.Linear: weights and biases uniform in ±1/√fan_in, seeded', async () => {
    const kernels = await createKernels({ backend: 'reference' });
    const a = Mlp.create(kernels, { inputs: 784, hidden: [100], classes: 10, activation: 'relu' }, 7);
    const b = Mlp.create(kernels, { inputs: 784, hidden: [100], classes: 10, activation: 'relu' }, 7);
    const c = Mlp.create(kernels, { inputs: 784, hidden: [100], classes: 10, activation: 'relu' }, 8);
    assert.deepEqual(a.params()[0].value, b.params()[0].value);
    assert.notDeepEqual(a.params()[0].value, c.params()[0].value);
    for (const [layer, fanIn] of [[a.layers[0], 784], [a.layers[1], 100]] as const) {
      const bound = 1 / Math.sqrt(fanIn);
      for (const values of layer.params.map((p) => p.value)) {
        let max = 0;
        let sum = 0;
        for (const v of values) {
          max = Math.max(max, Math.abs(v));
          sum += v;
        }
        assert.ok(max <= bound && max > 0.9 * bound, `max |w| ${max} vs bound ${bound}`);
        if (values.length > 1000) assert.ok(Math.abs(sum / values.length) < 0.05 * bound, 'mean near zero');
      }
    }
    assert.equal(a.parameterCount, 784 * 100 + 100 + 100 * 10 + 10);
    assert.equal(a.byteSize, a.parameterCount * 4);
    assert.deepEqual(a.params().map((p) => p.name), ['layers.0.weight', 'layers.0.bias', 'layers.2.weight', 'layers.2.bias']);
  });
});
