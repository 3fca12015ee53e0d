/**
 * Replays every torch.optim fixture case (same initial parameters, same gradients, same options) through
 * our optimizers on each kernel backend, and checks the parameters after every step.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createOptimizer, OPTIMIZER_NAMES, OPTIMIZER_OPTION_SPECS } from '../../src/optim/index.js';
import { compare, fixture, kernelBackends, makeParams, ourOptions, setGradients } from './helpers.js';

test('the fixture was recorded in float32 for at least 6 steps of every optimizer', () => {
  assert.equal(fixture.dtype, 'float32');
  assert.ok(fixture.steps >= 6);
  for (const name of OPTIMIZER_NAMES) assert.ok(fixture.cases.some((c) => c.optimizer === name), name);
});

test('every option of every optimizer is exercised away from its default by some fixture case', () => {
  for (const name of OPTIMIZER_NAMES) {
    for (const spec of OPTIMIZER_OPTION_SPECS[name]) {
      const exercised = fixture.cases.some((testCase) => {
        if (testCase.optimizer !== name) return false;
        const value = ourOptions(testCase)[spec.name];
        return value !== undefined && value !== spec.default;
      });
      assert.ok(exercised, `${name}: no fixture case sets ${spec.name}`);
    }
  }
});

for (const kernels of await kernelBackends()) {
  test(`torch.optim trajectories on the ${kernels.name} kernels`, async (t) => {
    let worstRelative = 0;
    let worstAbsolute = 0;
    for (const testCase of fixture.cases) {
      await t.test(testCase.name, () => {
        const params = makeParams(kernels);
        const optimizer = createOptimizer(testCase.optimizer, kernels, params, ourOptions(testCase));
        for (let step = 0; step < fixture.steps; step++) {
          if (testCase.lr_per_step) optimizer.lr = testCase.lr_per_step[step];
          setGradients(params, step);
          optimizer.step();
          const result = compare(`step ${step + 1}`, params, testCase.params[step]);
          worstRelative = Math.max(worstRelative, result.maxRelative);
          worstAbsolute = Math.max(worstAbsolute, result.maxAbsolute);
          assert.equal(result.failure, null, result.failure ?? '');
        }
        assert.equal(optimizer.stepCount, fixture.steps);
      });
    }
    t.diagnostic(`${kernels.name}: ${fixture.cases.length} cases × ${fixture.steps} steps against torch ${fixture.torch_package ?? fixture.torch_version}: ` +
      `max relative error ${worstRelative.toExponential(2)}, max absolute ${worstAbsolute.toExponential(2)}`);
  });
}
