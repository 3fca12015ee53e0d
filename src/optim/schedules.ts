/**
 * Learning-rate schedules of torch.optim.lr_scheduler, stepped once per epoch. Each is a pure function
 * of the epoch (0 for the first epoch, which runs at the base lr), written in closed form; PyTorch
 * updates the lr recursively, which agrees with these forms up to rounding.
 *
 *   constant:     γ_e = γ
 *   StepLR:       γ_e = γ · gamma^⌊e / stepSize⌋
 *   ExponentialLR: γ_e = γ · gamma^e
 *   CosineAnnealingLR: γ_e = η_min + (γ − η_min)(1 + cos(π e / T_max)) / 2
 *                 (past T_max it climbs back up, with period 2·T_max, as PyTorch's does)
 */
import type { Optimizer } from './optimizer.js';

export type ScheduleSpec =
  | { type: 'constant' }
  | { type: 'step'; stepSize: number; gamma?: number }
  | { type: 'exponential'; gamma: number }
  | { type: 'cosine'; tMax: number; etaMin?: number };

export type ScheduleName = ScheduleSpec['type'];

export interface LrSchedule {
  readonly spec: ScheduleSpec;
  /** The learning rate of epoch 0. */
  readonly baseLr: number;
  /** The learning rate to use throughout `epoch` (0-based). */
  lrAt(epoch: number): number;
}

export class ScheduleOptionError extends Error {
  constructor(readonly schedule: ScheduleName, readonly option: string, message: string) {
    super(`${schedule} schedule: ${message}`);
    this.name = 'ScheduleOptionError';
  }
}

export interface ScheduleOptionSpec {
  readonly name: string;
  readonly torchName: string;
  /** PyTorch's default; undefined when it must be given. */
  readonly default: number | undefined;
  readonly description: string;
}

/** The options of each schedule, so that faces can list them. */
export const SCHEDULE_OPTION_SPECS: Record<ScheduleName, readonly ScheduleOptionSpec[]> = {
  constant: [],
  step: [
    { name: 'stepSize', torchName: 'step_size', default: undefined, description: 'epochs between two decays (an integer ≥ 1)' },
    { name: 'gamma', torchName: 'gamma', default: 0.1, description: 'factor applied every stepSize epochs (> 0)' },
  ],
  exponential: [
    { name: 'gamma', torchName: 'gamma', default: undefined, description: 'factor applied every epoch (> 0)' },
  ],
  cosine: [
    { name: 'tMax', torchName: 'T_max', default: undefined, description: 'epochs from the base lr down to etaMin (> 0)' },
    { name: 'etaMin', torchName: 'eta_min', default: 0, description: 'the lowest learning rate (≥ 0)' },
  ],
};

function requirePositive(schedule: ScheduleName, option: string, value: number, integer = false): void {
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new ScheduleOptionError(schedule, option,
      `option '${option}' must be ${integer ? 'an integer ≥ 1' : 'a number in (0, ∞)'}, got ${value}`);
  }
}

function checkEpoch(epoch: number): void {
  if (!Number.isInteger(epoch) || epoch < 0) {
    throw new RangeError(`schedule: epoch must be a non-negative integer, got ${epoch}`);
  }
}

function checkBaseLr(schedule: ScheduleName, baseLr: number): void {
  if (!Number.isFinite(baseLr) || baseLr < 0) {
    throw new ScheduleOptionError(schedule, 'baseLr', `the base learning rate must be a number in [0, ∞), got ${baseLr}`);
  }
}

export function constantLR(baseLr: number): LrSchedule {
  checkBaseLr('constant', baseLr);
  return {
    spec: { type: 'constant' }, baseLr,
    lrAt(epoch) {
      checkEpoch(epoch);
      return baseLr;
    },
  };
}

/** torch.optim.lr_scheduler.StepLR. */
export function stepLR(baseLr: number, stepSize: number, gamma = 0.1): LrSchedule {
  checkBaseLr('step', baseLr);
  requirePositive('step', 'stepSize', stepSize, true);
  requirePositive('step', 'gamma', gamma);
  return {
    spec: { type: 'step', stepSize, gamma }, baseLr,
    lrAt(epoch) {
      checkEpoch(epoch);
      return baseLr * gamma ** Math.floor(epoch / stepSize);
    },
  };
}

/** torch.optim.lr_scheduler.ExponentialLR. */
export function exponentialLR(baseLr: number, gamma: number): LrSchedule {
  checkBaseLr('exponential', baseLr);
  requirePositive('exponential', 'gamma', gamma);
  return {
    spec: { type: 'exponential', gamma }, baseLr,
    lrAt(epoch) {
      checkEpoch(epoch);
      return baseLr * gamma ** epoch;
    },
  };
}

/** torch.optim.lr_scheduler.CosineAnnealingLR (without restarts). */
export function cosineAnnealingLR(baseLr: number, tMax: number, etaMin = 0): LrSchedule {
  checkBaseLr('cosine', baseLr);
  requirePositive('cosine', 'tMax', tMax);
  if (!Number.isFinite(etaMin) || etaMin < 0) {
    throw new ScheduleOptionError('cosine', 'etaMin', `option 'etaMin' must be a number in [0, ∞), got ${etaMin}`);
  }
  return {
    spec: { type: 'cosine', tMax, etaMin }, baseLr,
    lrAt(epoch) {
      checkEpoch(epoch);
      return etaMin + (baseLr - etaMin) * (1 + Math.cos(Math.PI * epoch / tMax)) / 2;
    },
  };
}

/** Builds a schedule from its serializable description (as found in a training config). */
export function createSchedule(spec: ScheduleSpec, baseLr: number): LrSchedule {
  switch (spec.type) {
    case 'constant': return constantLR(baseLr);
    case 'step': return stepLR(baseLr, spec.stepSize, spec.gamma);
    case 'exponential': return exponentialLR(baseLr, spec.gamma);
    case 'cosine': return cosineAnnealingLR(baseLr, spec.tMax, spec.etaMin);
    default: {
      const unknown: never = spec;
      throw new Error(`unknown schedule ${JSON.stringify(unknown)}; the schedules are ${Object.keys(SCHEDULE_OPTION_SPECS).join(', ')}`);
    }
  }
}

/** Sets the optimizer's lr for `epoch` (call before the epoch's first step) and returns it. */
export function applySchedule(optimizer: Pick<Optimizer, 'lr'>, schedule: LrSchedule, epoch: number): number {
  const lr = schedule.lrAt(epoch);
  optimizer.lr = lr;
  return lr;
}
