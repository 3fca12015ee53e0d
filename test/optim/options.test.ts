/** Defaults are PyTorch's, and every invalid option is refused with a message naming it and its range. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  Adagrad, Adam, AdamW, createOptimizer, describeRange, OPTIMIZER_NAMES, OPTIMIZER_OPTION_SPECS, OptimizerOptionError,
  RMSprop, SGD, type LooseOptimizerOptions, type OptimizerName,
} from '../../src/optim/index.js';
import { kernelBackends, makeParams } from './helpers.js';

const [kernels] = await kernelBackends();

test('defaults are PyTorch\'s', () => {
  const params = makeParams(kernels);
  const sgd = new SGD(kernels, params, { lr: 0.01 });
  assert.deepEqual([sgd.lr, sgd.momentum, sgd.dampening, sgd.weightDecay, sgd.nesterov], [0.01, 0, 0, 0, false]);
  const adam = new Adam(kernels, params);
  assert.deepEqual([adam.lr, adam.beta1, adam.beta2, adam.eps, adam.weightDecay, adam.amsgrad, adam.decoupled],
    [1e-3, 0.9, 0.999, 1e-8, 0, false, false]);
  const adamw = new AdamW(kernels, params);
  assert.deepEqual([adamw.kind, adamw.lr, adamw.beta1, adamw.beta2, adamw.eps, adamw.weightDecay, adamw.amsgrad, adamw.decoupled],
    ['adamw', 1e-3, 0.9, 0.999, 1e-8, 1e-2, false, true]);
  const adagrad = new Adagrad(kernels, params);
  assert.deepEqual([adagrad.lr, adagrad.lrDecay, adagrad.weightDecay, adagrad.initialAccumulatorValue, adagrad.eps],
    [1e-2, 0, 0, 0, 1e-10]);
  const rmsprop = new RMSprop(kernels, params);
  assert.deepEqual([rmsprop.lr, rmsprop.alpha, rmsprop.eps, rmsprop.weightDecay, rmsprop.momentum, rmsprop.centered],
    [1e-2, 0.99, 1e-8, 0, 0, false]);
});

test('createOptimizer builds each optimizer by name', () => {
  const expected = { sgd: SGD, adam: Adam, adamw: AdamW, adagrad: Adagrad, rmsprop: RMSprop };
  for (const name of OPTIMIZER_NAMES) {
    const options: LooseOptimizerOptions = name === 'sgd' ? { lr: 0.01 } : {};
    const optimizer = createOptimizer(name, kernels, makeParams(kernels), options);
    assert.ok(optimizer instanceof expected[name], name);
    assert.equal(optimizer.kind, name);
  }
  assert.throws(() => createOptimizer('lbfgs' as OptimizerName, kernels, makeParams(kernels), {}),
    /unknown optimizer 'lbfgs'; the optimizers are sgd, adam, adamw, adagrad, rmsprop/);
});

test('option metadata lists every option with PyTorch\'s name, a default and a description', () => {
  const torchNames: Record<OptimizerName, string[]> = {
    sgd: ['lr', 'momentum', 'dampening', 'weight_decay', 'nesterov'],
    adam: ['lr', 'betas[0]', 'betas[1]', 'eps', 'weight_decay', 'amsgrad'],
    adamw: ['lr', 'betas[0]', 'betas[1]', 'eps', 'weight_decay', 'amsgrad'],
    adagrad: ['lr', 'lr_decay', 'weight_decay', 'initial_accumulator_value', 'eps'],
    rmsprop: ['lr', 'alpha', 'eps', 'weight_decay', 'momentum', 'centered'],
  };
  for (const name of OPTIMIZER_NAMES) {
    const specs = OPTIMIZER_OPTION_SPECS[name];
    assert.deepEqual(specs.map((spec) => spec.torchName), torchNames[name], name);
    for (const spec of specs) {
      assert.ok(spec.description.length > 0);
      assert.ok(spec.default !== undefined || spec.suggested !== undefined, `${name}.${spec.name} has no value to offer`);
    }
  }
  const sgdLr = OPTIMIZER_OPTION_SPECS.sgd[0];
  assert.equal(sgdLr.default, undefined, 'PyTorch requires SGD\'s lr');
  assert.equal(sgdLr.suggested, 0.01);
  assert.equal(describeRange(OPTIMIZER_OPTION_SPECS.adam[1]), '[0, 1)');
  assert.equal(describeRange(OPTIMIZER_OPTION_SPECS.adam[0]), '[0, ∞)');
  assert.equal(describeRange(OPTIMIZER_OPTION_SPECS.rmsprop[1]), '[0, 1]');
});

/** [optimizer, options, what the message must say] */
const invalid: [OptimizerName, Record<string, unknown>, RegExp][] = [
  ['sgd', {}, /option 'lr' is required \(a number in \[0, ∞\)\)/],
  ['sgd', { lr: -0.1 }, /option 'lr' must be a number in \[0, ∞\), got -0\.1/],
  ['sgd', { lr: Number.NaN }, /option 'lr' must be a number in \[0, ∞\), got NaN/],
  ['sgd', { lr: Number.POSITIVE_INFINITY }, /option 'lr' must be a number/],
  ['sgd', { lr: '0.1' }, /option 'lr' must be a number in \[0, ∞\), got 0\.1/],
  ['sgd', { lr: 0.1, momentum: -0.5 }, /option 'momentum' must be a number in \[0, ∞\)/],
  ['sgd', { lr: 0.1, dampening: 1.5 }, /option 'dampening' must be a number in \[0, 1\]/],
  ['sgd', { lr: 0.1, weightDecay: -1 }, /option 'weightDecay' must be a number in \[0, ∞\)/],
  ['sgd', { lr: 0.1, nesterov: true }, /nesterov needs momentum > 0 and dampening 0, got momentum 0 and dampening 0/],
  ['sgd', { lr: 0.1, nesterov: true, momentum: 0.9, dampening: 0.1 }, /nesterov needs momentum > 0 and dampening 0/],
  ['sgd', { lr: 0.1, nesterov: 1 }, /option 'nesterov' must be true or false, got 1/],
  ['sgd', { lr: 0.1, weigthDecay: 0.1 }, /unknown option 'weigthDecay'; the options are lr, momentum, dampening, weightDecay, nesterov/],
  ['adam', { beta1: 1 }, /option 'beta1' must be a number in \[0, 1\), got 1/],
  ['adam', { beta2: -0.1 }, /option 'beta2' must be a number in \[0, 1\), got -0\.1/],
  ['adam', { eps: -1e-8 }, /option 'eps' must be a number in \[0, ∞\)/],
  ['adam', { momentum: 0.9 }, /unknown option 'momentum'/],
  ['adamw', { weightDecay: -0.01 }, /adamw: option 'weightDecay' must be a number in \[0, ∞\)/],
  ['adamw', { amsgrad: 'yes' }, /option 'amsgrad' must be true or false/],
  ['adagrad', { lrDecay: -1 }, /option 'lrDecay' must be a number in \[0, ∞\)/],
  ['adagrad', { initialAccumulatorValue: -0.1 }, /option 'initialAccumulatorValue' must be a number in \[0, ∞\)/],
  ['adagrad', { eps: -1 }, /option 'eps' must be a number in \[0, ∞\)/],
  ['rmsprop', { alpha: 1.01 }, /option 'alpha' must be a number in \[0, 1\], got 1\.01/],
  ['rmsprop', { momentum: -0.9 }, /option 'momentum' must be a number in \[0, ∞\)/],
  ['rmsprop', { centered: 0 }, /option 'centered' must be true or false/],
];

test('invalid options are refused with the option and its accepted range', () => {
  for (const [name, options, message] of invalid) {
    assert.throws(() => createOptimizer(name, kernels, makeParams(kernels), options as LooseOptimizerOptions),
      (error: unknown) => {
        assert.ok(error instanceof OptimizerOptionError, `${name} ${JSON.stringify(options)}: ${String(error)}`);
        assert.match(error.message, message);
        assert.match(error.message, new RegExp(`^${name}: `));
        return true;
      }, `${name} ${JSON.stringify(options)}`);
  }
});

test('options given as undefined take their defaults (as from an optional CLI flag)', () => {
  const adam = createOptimizer('adam', kernels, makeParams(kernels), { lr: undefined, amsgrad: undefined }) as Adam;
  assert.equal(adam.lr, 1e-3);
  assert.equal(adam.amsgrad, false);
});

test('lr can be set between steps, but not to a negative number', () => {
  const optimizer = new Adam(kernels, makeParams(kernels));
  optimizer.lr = 0.5;
  assert.equal(optimizer.lr, 0.5);
  assert.throws(() => { optimizer.lr = -1; }, /adam: option 'lr' must be a number in \[0, ∞\), got -1/);
  assert.equal(optimizer.lr, 0.5);
});

test('parameters must have unique names and gradients of their size', () => {
  const params = makeParams(kernels);
  assert.throws(() => new SGD(kernels, [params[0], { ...params[1], name: params[0].name }], { lr: 0.1 }),
    /two parameters are named 'layers\.0\.weight'/);
  assert.throws(() => new SGD(kernels, [{ ...params[0], grad: kernels.allocF32(3) }], { lr: 0.1 }),
    /parameter 'layers\.0\.weight' has 20 values but 3 gradients/);
});
