/** Learning-rate schedules against the values torch.optim.lr_scheduler produced, and their validation. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  applySchedule, constantLR, cosineAnnealingLR, createSchedule, exponentialLR, formatSchedule, parseSchedule, ScheduleOptionError, ScheduleSpecError, stepLR,
  type ScheduleSpec,
} from '../../src/optim/index.js';
import { fixture, type TorchSchedule } from './helpers.js';

function ourSpec(torch: TorchSchedule['spec']): ScheduleSpec {
  switch (torch.kind) {
    case 'step': return { type: 'step', stepSize: torch.step_size as number, gamma: torch.gamma };
    case 'exponential': return { type: 'exponential', gamma: torch.gamma as number };
    case 'cosine': return { type: 'cosine', tMax: torch.t_max as number, etaMin: torch.eta_min };
  }
}

test('schedules match torch.optim.lr_scheduler epoch by epoch', () => {
  assert.ok(fixture.schedules.length >= 5);
  for (const recorded of fixture.schedules) {
    const schedule = createSchedule(ourSpec(recorded.spec), recorded.base_lr);
    recorded.lr_per_epoch.forEach((want, epoch) => {
      // PyTorch updates recursively (cosine) or by repeated multiplication; the closed forms agree up to rounding.
      const got = schedule.lrAt(epoch);
      assert.ok(Math.abs(got - want) <= 1e-12 + 1e-10 * Math.abs(want),
        `${JSON.stringify(recorded.spec)} epoch ${epoch}: ${got}, torch has ${want}`);
    });
  }
});

test('the closed forms', () => {
  assert.equal(stepLR(0.1, 3).lrAt(2), 0.1);
  assert.ok(Math.abs(stepLR(0.1, 3).lrAt(3) - 0.01) < 1e-15);
  assert.ok(Math.abs(stepLR(1, 2, 0.5).lrAt(5) - 0.25) < 1e-15);
  assert.ok(Math.abs(exponentialLR(1, 0.5).lrAt(3) - 0.125) < 1e-15);
  const cosine = cosineAnnealingLR(0.1, 10, 0.001);
  assert.equal(cosine.lrAt(0), 0.1);
  assert.ok(Math.abs(cosine.lrAt(5) - 0.0505) < 1e-15);
  assert.ok(Math.abs(cosine.lrAt(10) - 0.001) < 1e-15);
  assert.ok(Math.abs(cosine.lrAt(20) - 0.1) < 1e-15, 'past T_max the cosine climbs back');
  assert.equal(constantLR(0.3).lrAt(100), 0.3);
  assert.deepEqual(stepLR(0.1, 3).spec, { type: 'step', stepSize: 3, gamma: 0.1 });
  assert.deepEqual(cosineAnnealingLR(0.1, 4).spec, { type: 'cosine', tMax: 4, etaMin: 0 });
});

test('applySchedule sets the optimizer\'s lr for the epoch', () => {
  const optimizer = { lr: 0.1 };
  const schedule = createSchedule({ type: 'exponential', gamma: 0.5 }, optimizer.lr);
  assert.equal(applySchedule(optimizer, schedule, 2), 0.025);
  assert.equal(optimizer.lr, 0.025);
  assert.equal(applySchedule(optimizer, schedule, 0), 0.1, 'the base lr is the schedule\'s, not the optimizer\'s current one');
});

test('invalid schedules and epochs are refused', () => {
  const refuse = (make: () => unknown, pattern: RegExp) =>
    assert.throws(make, (error: unknown) => error instanceof ScheduleOptionError && pattern.test(error.message));
  refuse(() => stepLR(0.1, 0), /step schedule: option 'stepSize' must be an integer ≥ 1, got 0/);
  refuse(() => stepLR(0.1, 2.5), /option 'stepSize' must be an integer ≥ 1, got 2\.5/);
  refuse(() => stepLR(0.1, 2, -0.1), /option 'gamma' must be a number in \(0, ∞\), got -0\.1/);
  refuse(() => exponentialLR(0.1, 0), /exponential schedule: option 'gamma' must be a number in \(0, ∞\)/);
  refuse(() => cosineAnnealingLR(0.1, 0), /cosine schedule: option 'tMax' must be a number in \(0, ∞\)/);
  refuse(() => cosineAnnealingLR(0.1, 10, -1), /option 'etaMin' must be a number in \[0, ∞\)/);
  refuse(() => constantLR(-1), /the base learning rate must be a number in \[0, ∞\), got -1/);
  assert.throws(() => stepLR(0.1, 3).lrAt(-1), /epoch must be a non-negative integer, got -1/);
  assert.throws(() => createSchedule({ type: 'linear' } as unknown as ScheduleSpec, 0.1), /unknown schedule .*linear/);
});

test('parseSchedule reads every text form, and names the forms when it cannot', () => {
  assert.deepEqual(parseSchedule('step:3', 10), { type: 'step', stepSize: 3, gamma: 0.1 });
  assert.deepEqual(parseSchedule('step:3:0.5', 10), { type: 'step', stepSize: 3, gamma: 0.5 });
  assert.deepEqual(parseSchedule('exp:0.9', 10), { type: 'exponential', gamma: 0.9 });
  assert.deepEqual(parseSchedule('cosine', 10), { type: 'cosine', tMax: 10, etaMin: 0 });
  assert.deepEqual(parseSchedule('cosine:4:0.001', 10), { type: 'cosine', tMax: 4, etaMin: 0.001 });
  assert.deepEqual(parseSchedule('onecycle', 10), { type: 'onecycle' });
  assert.deepEqual(parseSchedule('onecycle:0.01', 10), { type: 'onecycle', maxLr: 0.01 });
  assert.deepEqual(parseSchedule('onecycle:0.01:0.25', 10), { type: 'onecycle', maxLr: 0.01, pctStart: 0.25 });
  assert.deepEqual(parseSchedule('none', 10), { type: 'constant' });
  // formatSchedule writes what parseSchedule reads back
  for (const text of ['none', 'step:3:0.5', 'exp:0.9', 'cosine:4:0.001', 'onecycle', 'onecycle:0.01', 'onecycle:0.01:0.25']) {
    assert.equal(formatSchedule(parseSchedule(text, 10)), text);
  }
  for (const bad of ['linear:3', 'step', 'step:0', 'step:1.5', 'exp', 'exp:-1', 'cosine:a', 'onecycle:0', 'onecycle:0.1:1', 'step::2']) {
    assert.throws(() => parseSchedule(bad, 10), (e: Error) => e instanceof ScheduleSpecError && e.message.includes(`'${bad}'`) && e.message.includes('onecycle[:MAX_LR[:PCT_START]]'), bad);
  }
});
