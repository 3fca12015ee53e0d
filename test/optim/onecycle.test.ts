/**
 * The one-cycle schedule against torch.optim.lr_scheduler.OneCycleLR (test/fixtures/make_onecycle_fixture.py):
 * lr and momentum (β1 for Adam) at every step, and whole optimizer trajectories with the schedule
 * applied before each step; its validation; the momentum an optimizer lets a schedule set.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { Kernels } from '../../src/core/kernels.js';
import { createReferenceKernels } from '../../src/core/reference.js';
import {
  Adam, applySchedule, createOptimizer, createSchedule, oneCycleLR, OptimizerOptionError, OptimizerStateError,
  SCHEDULE_OPTION_SPECS, ScheduleOptionError, SGD, type OptimizerName, type Param, type ScheduleSpec,
} from '../../src/optim/index.js';
import { compare, kernelBackends } from './helpers.js';

interface OneCycleCase {
  name: string;
  optimizer: OptimizerName;
  optimizer_options: Record<string, number | number[]>;
  schedule: Record<string, number | string | boolean>;
  total_steps: number;
  lr: number[];
  momentum: number[];
  lr_after_last: number;
  momentum_after_last: number;
  initial?: number[][];
  gradients?: number[][][];
  params?: number[][][];
}

const fixture = JSON.parse(readFileSync(new URL('../fixtures/optim/torch_onecycle.json', import.meta.url), 'utf8')) as {
  param_names: string[];
  cases: OneCycleCase[];
};

/** Our spec for torch's OneCycleLR keywords (through the option specs' torchName); epochs/steps_per_epoch go to the run. */
function ourSpec(torch: OneCycleCase['schedule']): ScheduleSpec {
  const spec: Record<string, unknown> = { type: 'onecycle' };
  for (const [key, value] of Object.entries(torch)) {
    if (key === 'epochs' || key === 'steps_per_epoch') continue;
    const option = SCHEDULE_OPTION_SPECS.onecycle.find((o) => o.torchName === key);
    if (!option) throw new Error(`no option of ours for OneCycleLR's ${key}`);
    spec[option.name] = value;
  }
  return spec as ScheduleSpec;
}

function ourOptimizerOptions(testCase: OneCycleCase): Record<string, number> {
  const { betas, ...rest } = testCase.optimizer_options;
  return { ...rest, ...(Array.isArray(betas) ? { beta1: betas[0], beta2: betas[1] } : {}) } as Record<string, number>;
}

const close = (got: number, want: number) => Math.abs(got - want) <= 1e-15 + 1e-12 * Math.abs(want);

test('every OneCycleLR option is exercised by some fixture case', () => {
  for (const option of SCHEDULE_OPTION_SPECS.onecycle) {
    const exercised = fixture.cases.some((c) => c.schedule[option.torchName] !== undefined && c.schedule[option.torchName] !== option.default);
    assert.ok(exercised || option.name === 'totalSteps', `no fixture case sets ${option.torchName}`);
  }
  assert.ok(fixture.cases.some((c) => c.schedule.epochs !== undefined), 'a case gives epochs and steps_per_epoch instead');
});

test('lr and momentum match torch\'s OneCycleLR at every step, and one step past the end', () => {
  for (const c of fixture.cases) {
    const run = c.schedule.epochs !== undefined
      ? { epochs: c.schedule.epochs as number, batchesPerEpoch: c.schedule.steps_per_epoch as number } : undefined;
    // the optimizer's lr is not the peak unless the spec leaves maxLr out: give it something else
    const schedule = createSchedule(ourSpec(c.schedule), 123, run);
    assert.equal(schedule.per, 'batch');
    assert.equal((schedule.spec as { totalSteps: number }).totalSteps, c.total_steps, c.name);
    assert.ok(close(schedule.baseLr, c.lr[0]));
    const cycles = c.schedule.cycle_momentum !== false;
    for (let t = 0; t <= c.total_steps; t++) {
      const wantLr = t < c.total_steps ? c.lr[t] : c.lr_after_last;
      const wantMomentum = t < c.total_steps ? c.momentum[t] : c.momentum_after_last;
      assert.ok(close(schedule.lrAt(t), wantLr), `${c.name} step ${t}: lr ${schedule.lrAt(t)}, torch has ${wantLr}`);
      const momentum = schedule.momentumAt(t);
      if (cycles) assert.ok(momentum !== null && close(momentum, wantMomentum), `${c.name} step ${t}: momentum ${momentum}, torch has ${wantMomentum}`);
      else assert.equal(momentum, null);
    }
  }
});

test('maxLr defaults to the optimizer\'s lr and totalSteps to the run\'s epochs × batches', () => {
  const schedule = createSchedule({ type: 'onecycle' }, 0.1, { epochs: 4, batchesPerEpoch: 10 });
  const want = fixture.cases.find((c) => c.name === 'sgd defaults');
  assert.ok(want && want.total_steps === 40 && want.schedule.max_lr === 0.1);
  assert.deepEqual(schedule.spec, {
    type: 'onecycle', maxLr: 0.1, totalSteps: 40, pctStart: 0.3, annealStrategy: 'cos', cycleMomentum: true,
    baseMomentum: 0.85, maxMomentum: 0.95, divFactor: 25, finalDivFactor: 1e4, threePhase: false,
  });
  want.lr.forEach((lr, t) => assert.ok(close(schedule.lrAt(t), lr)));
  // the resolved spec builds the same schedule again, without a run
  const again = createSchedule(schedule.spec, 5);
  for (let t = 0; t <= 40; t++) assert.equal(again.lrAt(t), schedule.lrAt(t));
  assert.equal(createSchedule({ type: 'cosine', tMax: 3 }, 0.1).per, 'epoch');
  assert.equal(createSchedule({ type: 'cosine', tMax: 3 }, 0.1).momentumAt(1), null);
});

for (const kernels of await kernelBackends()) {
  test(`optimizers follow torch with the schedule applied before each step (${kernels.name})`, () => {
    const recorded = fixture.cases.filter((c) => c.params);
    assert.deepEqual(recorded.map((c) => c.optimizer).sort(), ['adam', 'sgd']);
    for (const c of recorded) {
      const params: Param[] = fixture.param_names.map((name, i) => {
        const value = kernels.allocF32(c.initial![i].length);
        value.set(c.initial![i]);
        return { name, value, grad: kernels.allocF32(value.length) };
      });
      const optimizer = createOptimizer(c.optimizer, kernels, params, ourOptimizerOptions(c));
      const schedule = createSchedule(ourSpec(c.schedule), optimizer.lr);
      for (let t = 0; t < c.total_steps; t++) {
        applySchedule(optimizer, schedule, t);
        params.forEach((p, i) => p.grad.set(c.gradients![t][i]));
        optimizer.step();
        const result = compare(`${c.name} step ${t + 1}`, params, c.params![t]);
        assert.equal(result.failure, null, result.failure ?? '');
      }
    }
  });
}

test('one-cycle options are checked', () => {
  const refuse = (make: () => unknown, option: string, pattern: RegExp) =>
    assert.throws(make, (error: unknown) => error instanceof ScheduleOptionError && error.option === option && pattern.test(error.message));
  refuse(() => oneCycleLR(0.1, 0), 'totalSteps', /onecycle schedule: option 'totalSteps' must be an integer ≥ 1, got 0/);
  refuse(() => oneCycleLR(0.1, 10.5), 'totalSteps', /must be an integer ≥ 1/);
  refuse(() => oneCycleLR(-1, 10), 'baseLr', /the base learning rate must be a number in \[0, ∞\)/);
  refuse(() => oneCycleLR(0.1, 10, { pctStart: 1.5 }), 'pctStart', /option 'pctStart' must be a number in \[0, 1\], got 1\.5/);
  refuse(() => oneCycleLR(0.1, 10, { annealStrategy: 'exp' as 'cos' }), 'annealStrategy', /must be cos or linear, got exp/);
  refuse(() => oneCycleLR(0.1, 10, { divFactor: 0 }), 'divFactor', /option 'divFactor' must be a number in \(0, ∞\)/);
  refuse(() => oneCycleLR(0.1, 10, { baseMomentum: -0.1 }), 'baseMomentum', /must be a number in \[0, ∞\)/);
  // 0.1 · 10 − 1 = 0: the first phase would have no steps (PyTorch divides by zero)
  refuse(() => oneCycleLR(0.1, 10, { pctStart: 0.1 }), 'totalSteps', /10 steps with pctStart 0\.1 leave a phase with no steps \(PyTorch divides by zero there\); use more steps/);
  refuse(() => createSchedule({ type: 'onecycle' }, 0.1), 'totalSteps', /'totalSteps' is required when the run's epochs and batches are not given/);
  const schedule = oneCycleLR(0.1, 10);
  assert.throws(() => schedule.lrAt(11), /onecycle schedule: step must be an integer in \[0, 10\] \(the schedule spans 10 steps\), got 11/);
  assert.throws(() => schedule.momentumAt(-1), RangeError);
});

test('a schedule cycles the momentum only of optimizers that have one, and needs SGD\'s buffers', () => {
  const kernels: Kernels = createReferenceKernels();
  const params = (): Param[] => [{ name: 'w', value: new Float32Array(3), grad: new Float32Array(3) }];
  const schedule = oneCycleLR(0.1, 10);
  const adagrad = createOptimizer('adagrad', kernels, params(), {});
  assert.equal(adagrad.scheduledMomentum, null);
  assert.throws(() => applySchedule(adagrad, schedule, 0), (error: unknown) => error instanceof ScheduleOptionError &&
    /adagrad has no momentum to cycle: set cycleMomentum false, or use sgd, rmsprop, adam or adamw/.test(error.message));
  assert.ok(close(applySchedule(adagrad, oneCycleLR(0.1, 10, { cycleMomentum: false }), 0), 0.004));
  assert.throws(() => adagrad.setScheduledMomentum(0.9), /adagrad has no momentum for a schedule to set/);

  const plain = new SGD(kernels, params(), { lr: 0.1 });
  assert.throws(() => applySchedule(plain, schedule, 0), (error: unknown) => error instanceof OptimizerOptionError &&
    /sgd: it was made with momentum 0 and so has no momentum buffers; make it with a momentum > 0/.test(error.message));
  assert.equal(plain.lr, 0.1, 'a refused schedule leaves the lr alone');
  const sgd = new SGD(kernels, params(), { lr: 0.1, momentum: 0.9 });
  applySchedule(sgd, schedule, 0);
  assert.equal(sgd.state().scheduledMomentum, 0.95);
  assert.equal(sgd.momentum, 0.9, 'the option as given stays what the optimizer was made with');
  assert.throws(() => sgd.setScheduledMomentum(-1), /momentum must be a number in \[0, ∞\), got -1/);
  const rmsprop = createOptimizer('rmsprop', kernels, params(), { momentum: 0.5 });
  assert.equal(rmsprop.scheduledMomentum, 'momentum');
  applySchedule(rmsprop, schedule, 3);
  assert.equal(rmsprop.state().scheduledMomentum, schedule.momentumAt(3));
  const adam = new Adam(kernels, params());
  assert.equal(adam.scheduledMomentum, 'beta1');
  assert.throws(() => adam.setScheduledMomentum(1), /beta1 must be a number in \[0, 1\), got 1/);
});

test('the state carries the scheduled momentum, and a resumed optimizer continues with it', () => {
  const kernels = createReferenceKernels();
  const make = () => {
    const params: Param[] = [{ name: 'w', value: Float32Array.from([1, -2, 3]), grad: new Float32Array(3) }];
    return { params, adam: new Adam(kernels, params, { lr: 0.01 }) };
  };
  const first = make();
  first.params[0].grad.set([0.5, -0.25, 1]);
  first.adam.setScheduledMomentum(0.8);
  first.adam.step();
  const saved = first.adam.state();
  const savedValues = Float32Array.from(first.params[0].value);
  assert.equal(saved.scheduledMomentum, 0.8);
  assert.equal(saved.options.beta1, 0.9, 'the options keep the value the optimizer was made with');
  first.params[0].grad.set([-1, 0.75, 0.1]);
  first.adam.step();

  const second = make();
  second.adam.setScheduledMomentum(0.3);
  second.params[0].grad.set([2, 2, 2]);
  second.adam.step(); // another history, which the load replaces
  second.adam.loadState(saved);
  second.params[0].value.set(savedValues);
  second.params[0].grad.set([-1, 0.75, 0.1]);
  second.adam.step();
  assert.deepEqual(second.params[0].value, first.params[0].value, 'the second step used β1 0.8 in both');

  // a state without it (saved before schedules could set it) means the value the optimizer was made with
  const older = { ...saved };
  delete older.scheduledMomentum;
  second.adam.loadState(older);
  assert.equal(second.adam.state().scheduledMomentum, 0.9);
  assert.throws(() => second.adam.loadState({ ...saved, scheduledMomentum: 1.5 }), (error: unknown) =>
    error instanceof OptimizerStateError && /scheduled beta1: beta1 must be a number in \[0, 1\), got 1\.5/.test(error.message));
  assert.equal(second.adam.state().scheduledMomentum, 0.9, 'a refused state changes nothing');
  const adagrad = createOptimizer('adagrad', kernels, [{ name: 'w', value: new Float32Array(3), grad: new Float32Array(3) }], {});
  assert.throws(() => adagrad.loadState({ ...adagrad.state(), scheduledMomentum: 0.9 }), /has a scheduled momentum \(0\.9\) but adagrad has none/);
});
