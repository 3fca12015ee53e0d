/**
 * Checkpoint semantics: state() then loadState() into a fresh optimizer continues bit for bit as if the
 * run had never stopped, and a state that does not fit is refused without touching the optimizer.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  Adam, createOptimizer, OptimizerStateError, SGD, type Optimizer, type OptimizerState, type Param,
} from '../../src/optim/index.js';
import { fixture, kernelBackends, makeParams, ourOptions, setGradients } from './helpers.js';

/** What a checkpoint file does to a state: JSON for the scalars, the buffers copied as raw float32. */
function throughCheckpoint(state: OptimizerState): OptimizerState {
  const { buffers, ...scalars } = state;
  const copied: Record<string, Float32Array> = {};
  for (const [name, array] of Object.entries(buffers)) copied[name] = new Float32Array(array);
  return { ...(JSON.parse(JSON.stringify(scalars)) as Omit<OptimizerState, 'buffers'>), buffers: copied };
}

function values(params: Param[]): Float32Array[] {
  return params.map((param) => Float32Array.from(param.value));
}

for (const kernels of await kernelBackends()) {
  test(`3 steps, save, load into a fresh optimizer, 3 more steps = 6 straight steps (${kernels.name})`, async (t) => {
    for (const testCase of fixture.cases) {
      await t.test(testCase.name, () => {
        const run = (optimizer: Optimizer, params: Param[], from: number, to: number) => {
          for (let step = from; step < to; step++) {
            if (testCase.lr_per_step) optimizer.lr = testCase.lr_per_step[step];
            setGradients(params, step);
            optimizer.step();
          }
        };
        const straightParams = makeParams(kernels);
        const straight = createOptimizer(testCase.optimizer, kernels, straightParams, ourOptions(testCase));
        run(straight, straightParams, 0, 6);

        const firstParams = makeParams(kernels);
        const first = createOptimizer(testCase.optimizer, kernels, firstParams, ourOptions(testCase));
        run(first, firstParams, 0, 3);
        const saved = throughCheckpoint(first.state());
        assert.equal(saved.step, 3);

        // The parameters travel separately (the model's own checkpoint); copy them across.
        const resumedParams = makeParams(kernels);
        resumedParams.forEach((param, i) => param.value.set(firstParams[i].value));
        const resumed = createOptimizer(testCase.optimizer, kernels, resumedParams, ourOptions(testCase));
        resumed.loadState(saved);
        assert.equal(resumed.stepCount, 3);
        assert.equal(resumed.lr, first.lr);
        run(resumed, resumedParams, 3, 6);

        assert.deepEqual(values(resumedParams), values(straightParams));
        assert.deepEqual(resumed.state(), straight.state());
      });
    }
  });

  test(`state() is a copy: later steps do not change it (${kernels.name})`, () => {
    const params = makeParams(kernels);
    const optimizer = new Adam(kernels, params);
    setGradients(params, 0);
    optimizer.step();
    const saved = optimizer.state();
    const before = Float32Array.from(saved.buffers['layers.0.weight.exp_avg']);
    setGradients(params, 1);
    optimizer.step();
    assert.deepEqual(saved.buffers['layers.0.weight.exp_avg'], before);
    assert.equal(saved.step, 1);
  });

  test(`state() names buffers as PyTorch does and carries the options (${kernels.name})`, () => {
    const params = makeParams(kernels);
    const amsgrad = new Adam(kernels, params, { amsgrad: true }).state();
    assert.deepEqual(Object.keys(amsgrad.buffers).filter((name) => name.startsWith('layers.0.bias.')),
      ['layers.0.bias.exp_avg', 'layers.0.bias.exp_avg_sq', 'layers.0.bias.max_exp_avg_sq']);
    assert.deepEqual(amsgrad.options, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, amsgrad: true });
    assert.equal(amsgrad.optimizer, 'adam');
    const plain = new SGD(kernels, makeParams(kernels), { lr: 0.1 }).state();
    assert.deepEqual(plain.buffers, {}, 'SGD without momentum keeps no buffer');
    const adagrad = createOptimizer('adagrad', kernels, makeParams(kernels), { initialAccumulatorValue: 0.25 }).state();
    assert.ok(adagrad.buffers['layers.2.bias.sum'].every((v) => v === 0.25));
  });

  test(`a state that does not fit is refused and leaves the optimizer as it was (${kernels.name})`, () => {
    const params = makeParams(kernels);
    const optimizer = new SGD(kernels, params, { lr: 0.1, momentum: 0.9 });
    setGradients(params, 0);
    optimizer.step();
    const good = optimizer.state();
    const before = optimizer.state();

    const refuse = (state: OptimizerState, pattern: RegExp) =>
      assert.throws(() => optimizer.loadState(state), (error: unknown) =>
        error instanceof OptimizerStateError && pattern.test(error.message));
    refuse({ ...good, optimizer: 'adam' }, /saved by adam/);
    refuse({ ...good, options: { ...good.options, momentum: 0.5 } }, /momentum = 0\.5 but this optimizer has 0\.9/);
    refuse({ ...good, step: -1 }, /step must be a non-negative integer/);
    refuse({ ...good, step: 1.5 }, /step must be a non-negative integer/);
    refuse({ ...good, lr: Number.NaN }, /lr must be/);
    const fewer = { ...good.buffers };
    delete fewer['layers.0.bias.momentum_buffer'];
    refuse({ ...good, buffers: fewer }, /buffer 'layers\.0\.bias\.momentum_buffer' is missing/);
    refuse({ ...good, buffers: { ...good.buffers, 'layers.9.weight.momentum_buffer': new Float32Array(3) } },
      /'layers\.9\.weight\.momentum_buffer' that this optimizer does not/);
    refuse({ ...good, buffers: { ...good.buffers, 'layers.0.bias.momentum_buffer': new Float32Array(2) } },
      /has 2 values, expected 4/);
    assert.deepEqual(optimizer.state(), before);
  });

  test(`loadState restores the step count, so bias corrections continue (${kernels.name})`, () => {
    const params = makeParams(kernels);
    const optimizer = new Adam(kernels, params, { lr: 0.01 });
    const fresh = optimizer.state();
    for (let step = 0; step < 3; step++) {
      setGradients(params, step);
      optimizer.step();
    }
    optimizer.loadState(fresh);
    assert.equal(optimizer.stepCount, 0);
    assert.ok(Object.values(optimizer.state().buffers).every((array) => array.every((v) => v === 0)));
  });
}
