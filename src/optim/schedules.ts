/**
 * Learning-rate schedules of torch.optim.lr_scheduler. Each is a pure function of the epoch (stepped
 * once per epoch; 0 for the first epoch, which runs at the base lr) or, for one-cycle, of the batch
 * (stepped once per optimizer step; 0 for the first), written in closed form; PyTorch updates some
 * recursively, which agrees with these forms up to rounding.
 *
 *   constant:     γ_e = γ
 *   StepLR:       γ_e = γ · gamma^⌊e / stepSize⌋
 *   ExponentialLR: γ_e = γ · gamma^e
 *   CosineAnnealingLR: γ_e = η_min + (γ − η_min)(1 + cos(π e / T_max)) / 2
 *                 (past T_max it climbs back up, with period 2·T_max, as PyTorch's does)
 *   OneCycleLR (Smith & Topin, "Super-Convergence", 2017), per batch t of T = totalSteps:
 *                 from γ_max/divFactor up to γ_max over the first pctStart·T steps, then down to
 *                 γ_max/divFactor/finalDivFactor (threePhase: back to the start first, then down);
 *                 each phase anneals by cosine, a(s, e, x) = e + (s − e)(1 + cos πx)/2, or linearly,
 *                 with x = (t − phase start)/(phase end − phase start) and the phase ends at
 *                 pctStart·T − 1 (and 2·pctStart·T − 2) and T − 1, exactly as PyTorch places them.
 *                 The momentum (SGD's and RMSprop's momentum, Adam's β1) moves the other way, between
 *                 maxMomentum and baseMomentum, unless cycleMomentum is false.
 */
import type { Optimizer } from './optimizer.js';

export type ScheduleSpec =
  | { type: 'constant' }
  | { type: 'step'; stepSize: number; gamma?: number }
  | { type: 'exponential'; gamma: number }
  | { type: 'cosine'; tMax: number; etaMin?: number }
  | ({ type: 'onecycle' } & OneCycleOptions);

export type ScheduleName = ScheduleSpec['type'];

/** torch.optim.lr_scheduler.OneCycleLR's options (camelCase); every one has PyTorch's default. */
export interface OneCycleOptions {
  /** The peak lr; default: the optimizer's lr. */
  maxLr?: number;
  /** Optimizer steps the cycle spans; default: the run's epochs × batches per epoch. */
  totalSteps?: number;
  pctStart?: number;
  annealStrategy?: 'cos' | 'linear';
  cycleMomentum?: boolean;
  baseMomentum?: number;
  maxMomentum?: number;
  divFactor?: number;
  finalDivFactor?: number;
  threePhase?: boolean;
}

/** OneCycleLR's defaults. */
export const ONE_CYCLE_DEFAULTS = {
  pctStart: 0.3,
  annealStrategy: 'cos',
  cycleMomentum: true,
  baseMomentum: 0.85,
  maxMomentum: 0.95,
  divFactor: 25,
  finalDivFactor: 1e4,
  threePhase: false,
} as const satisfies Required<Omit<OneCycleOptions, 'maxLr' | 'totalSteps'>>;

export interface LrSchedule {
  /** The description, with every option resolved (a one-cycle spec has all its options). */
  readonly spec: ScheduleSpec;
  /** 'epoch': set before each epoch from the epoch number; 'batch': before each step from the step number. */
  readonly per: 'epoch' | 'batch';
  /** The learning rate of epoch (or step) 0. */
  readonly baseLr: number;
  /** The learning rate to use throughout epoch or step `t` (0-based). */
  lrAt(t: number): number;
  /**
   * The momentum (SGD, RMSprop) or β1 (Adam, AdamW) to use at `t`, or null when the schedule leaves
   * it alone (all but one-cycle with cycleMomentum).
   */
  momentumAt(t: number): number | null;
}

/** What a per-batch schedule needs to know of the run when its spec leaves totalSteps out. */
export interface ScheduleRun {
  epochs: number;
  batchesPerEpoch: number;
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
  /** PyTorch's default; undefined when it must be given (or, for one-cycle, comes from the run). */
  readonly default: number | boolean | string | undefined;
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
  onecycle: [
    { name: 'maxLr', torchName: 'max_lr', default: undefined, description: 'the peak learning rate (default: the optimizer\'s lr)' },
    { name: 'totalSteps', torchName: 'total_steps', default: undefined, description: 'optimizer steps in the cycle (default: epochs × batches per epoch)' },
    { name: 'pctStart', torchName: 'pct_start', default: ONE_CYCLE_DEFAULTS.pctStart, description: 'fraction of the steps spent raising the lr (in [0, 1])' },
    { name: 'annealStrategy', torchName: 'anneal_strategy', default: ONE_CYCLE_DEFAULTS.annealStrategy, description: 'cos or linear' },
    { name: 'cycleMomentum', torchName: 'cycle_momentum', default: ONE_CYCLE_DEFAULTS.cycleMomentum, description: 'move the momentum (β1 for Adam) against the lr' },
    { name: 'baseMomentum', torchName: 'base_momentum', default: ONE_CYCLE_DEFAULTS.baseMomentum, description: 'the momentum at the peak lr' },
    { name: 'maxMomentum', torchName: 'max_momentum', default: ONE_CYCLE_DEFAULTS.maxMomentum, description: 'the momentum at the start and the end' },
    { name: 'divFactor', torchName: 'div_factor', default: ONE_CYCLE_DEFAULTS.divFactor, description: 'the starting lr is maxLr / divFactor (> 0)' },
    { name: 'finalDivFactor', torchName: 'final_div_factor', default: ONE_CYCLE_DEFAULTS.finalDivFactor, description: 'the final lr is the starting lr / finalDivFactor (> 0)' },
    { name: 'threePhase', torchName: 'three_phase', default: ONE_CYCLE_DEFAULTS.threePhase, description: 'come back to the starting lr before the final descent' },
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
    spec: { type: 'constant' }, per: 'epoch', baseLr, momentumAt: () => null,
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
    spec: { type: 'step', stepSize, gamma }, per: 'epoch', baseLr, momentumAt: () => null,
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
    spec: { type: 'exponential', gamma }, per: 'epoch', baseLr, momentumAt: () => null,
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
    spec: { type: 'cosine', tMax, etaMin }, per: 'epoch', baseLr, momentumAt: () => null,
    lrAt(epoch) {
      checkEpoch(epoch);
      return etaMin + (baseLr - etaMin) * (1 + Math.cos(Math.PI * epoch / tMax)) / 2;
    },
  };
}

/**
 * torch.optim.lr_scheduler.OneCycleLR, stepped once per optimizer step: `lrAt(t)` and `momentumAt(t)`
 * for t = 0 … totalSteps (PyTorch allows the one step past the end that a loop's last
 * scheduler.step() computes; with linear annealing its lr may be below zero, and no step uses it).
 */
export function oneCycleLR(maxLr: number, totalSteps: number, options: Omit<OneCycleOptions, 'maxLr' | 'totalSteps'> = {}): LrSchedule {
  const fail = (option: string, message: string) => new ScheduleOptionError('onecycle', option, message);
  checkBaseLr('onecycle', maxLr);
  requirePositive('onecycle', 'totalSteps', totalSteps, true);
  const spec = {
    type: 'onecycle' as const, maxLr, totalSteps,
    pctStart: options.pctStart ?? ONE_CYCLE_DEFAULTS.pctStart,
    annealStrategy: options.annealStrategy ?? ONE_CYCLE_DEFAULTS.annealStrategy,
    cycleMomentum: options.cycleMomentum ?? ONE_CYCLE_DEFAULTS.cycleMomentum,
    baseMomentum: options.baseMomentum ?? ONE_CYCLE_DEFAULTS.baseMomentum,
    maxMomentum: options.maxMomentum ?? ONE_CYCLE_DEFAULTS.maxMomentum,
    divFactor: options.divFactor ?? ONE_CYCLE_DEFAULTS.divFactor,
    finalDivFactor: options.finalDivFactor ?? ONE_CYCLE_DEFAULTS.finalDivFactor,
    threePhase: options.threePhase ?? ONE_CYCLE_DEFAULTS.threePhase,
  };
  if (!(spec.pctStart >= 0 && spec.pctStart <= 1)) throw fail('pctStart', `option 'pctStart' must be a number in [0, 1], got ${spec.pctStart}`);
  if (spec.annealStrategy !== 'cos' && spec.annealStrategy !== 'linear') {
    throw fail('annealStrategy', `option 'annealStrategy' must be cos or linear, got ${String(spec.annealStrategy)}`);
  }
  if (typeof spec.cycleMomentum !== 'boolean') throw fail('cycleMomentum', `option 'cycleMomentum' must be true or false, got ${String(spec.cycleMomentum)}`);
  if (typeof spec.threePhase !== 'boolean') throw fail('threePhase', `option 'threePhase' must be true or false, got ${String(spec.threePhase)}`);
  for (const option of ['baseMomentum', 'maxMomentum'] as const) {
    if (!(Number.isFinite(spec[option]) && spec[option] >= 0)) throw fail(option, `option '${option}' must be a number in [0, ∞), got ${spec[option]}`);
  }
  requirePositive('onecycle', 'divFactor', spec.divFactor);
  requirePositive('onecycle', 'finalDivFactor', spec.finalDivFactor);

  const initialLr = maxLr / spec.divFactor;
  const minLr = initialLr / spec.finalDivFactor;
  const { baseMomentum: low, maxMomentum: high } = spec;
  const T = totalSteps;
  // [end step, start lr, end lr, start momentum, end momentum], as PyTorch's _schedule_phases
  const phases: [number, number, number, number, number][] = spec.threePhase
    ? [[spec.pctStart * T - 1, initialLr, maxLr, high, low], [2 * spec.pctStart * T - 2, maxLr, initialLr, low, high], [T - 1, initialLr, minLr, high, high]]
    : [[spec.pctStart * T - 1, initialLr, maxLr, high, low], [T - 1, maxLr, minLr, low, high]];
  let phaseStart = 0;
  for (const [end] of phases) {
    if (end === phaseStart) {
      throw fail('totalSteps', `${T} steps with pctStart ${spec.pctStart} leave a phase with no steps (PyTorch divides by zero there); ` +
        'use more steps or another pctStart');
    }
    phaseStart = end;
  }
  const anneal = spec.annealStrategy === 'cos'
    ? (start: number, end: number, x: number) => end + (start - end) / 2 * (Math.cos(Math.PI * x) + 1)
    : (start: number, end: number, x: number) => (end - start) * x + start;
  /** The phase step t falls in and how far into it: the last phase also takes the step past the end. */
  const locate = (t: number): { phase: [number, number, number, number, number]; x: number } => {
    if (!Number.isInteger(t) || t < 0 || t > T) {
      throw new RangeError(`onecycle schedule: step must be an integer in [0, ${T}] (the schedule spans ${T} steps), got ${t}`);
    }
    let start = 0;
    for (let i = 0; i < phases.length; i++) {
      const end = phases[i][0];
      if (t <= end || i === phases.length - 1) return { phase: phases[i], x: (t - start) / (end - start) };
      start = end;
    }
    throw new Error('unreachable');
  };
  const lrAt = (t: number) => {
    const { phase, x } = locate(t);
    return anneal(phase[1], phase[2], x);
  };
  return {
    // maxLr / divFactor, unless the cycle is so short that step 0 is already in the last phase
    spec, per: 'batch', baseLr: lrAt(0), lrAt,
    momentumAt(t) {
      const { phase, x } = locate(t);
      return spec.cycleMomentum ? anneal(phase[3], phase[4], x) : null;
    },
  };
}

/**
 * Builds a schedule from its serializable description (as found in a training config). A one-cycle
 * spec takes its peak from `baseLr` (the optimizer's lr) and its length from `run` unless it gives them.
 */
export function createSchedule(spec: ScheduleSpec, baseLr: number, run?: ScheduleRun): LrSchedule {
  switch (spec.type) {
    case 'constant': return constantLR(baseLr);
    case 'step': return stepLR(baseLr, spec.stepSize, spec.gamma);
    case 'exponential': return exponentialLR(baseLr, spec.gamma);
    case 'cosine': return cosineAnnealingLR(baseLr, spec.tMax, spec.etaMin);
    case 'onecycle': {
      const steps = spec.totalSteps ?? (run ? run.epochs * run.batchesPerEpoch : undefined);
      if (steps === undefined) {
        throw new ScheduleOptionError('onecycle', 'totalSteps', "option 'totalSteps' is required when the run's epochs and batches are not given");
      }
      return oneCycleLR(spec.maxLr ?? baseLr, steps, {
        pctStart: spec.pctStart, annealStrategy: spec.annealStrategy, cycleMomentum: spec.cycleMomentum,
        baseMomentum: spec.baseMomentum, maxMomentum: spec.maxMomentum, divFactor: spec.divFactor,
        finalDivFactor: spec.finalDivFactor, threePhase: spec.threePhase,
      });
    }
    default: {
      const unknown: never = spec;
      throw new Error(`unknown schedule ${JSON.stringify(unknown)}; the schedules are ${Object.keys(SCHEDULE_OPTION_SPECS).join(', ')}`);
    }
  }
}

/**
 * Sets the optimizer's lr (and momentum, if the schedule cycles it) for epoch or step `t` (call before
 * the epoch's first step, or before each step for a per-batch schedule) and returns the lr.
 */
export function applySchedule(
  optimizer: Pick<Optimizer, 'lr'> & Partial<Pick<Optimizer, 'kind' | 'scheduledMomentum' | 'setScheduledMomentum'>>,
  schedule: LrSchedule, t: number,
): number {
  const lr = schedule.lrAt(t);
  const momentum = schedule.momentumAt(t);
  if (momentum !== null) {
    if (!optimizer.scheduledMomentum || !optimizer.setScheduledMomentum) {
      throw new ScheduleOptionError(schedule.spec.type, 'cycleMomentum',
        `${optimizer.kind ?? 'this optimizer'} has no momentum to cycle: set cycleMomentum false, or use sgd, rmsprop, adam or adamw`);
    }
    optimizer.setScheduledMomentum(momentum);
  }
  optimizer.lr = lr;
  return lr;
}

/** A schedule written as text (`--schedule`, a study's `schedule:`) that does not describe one. */
export class ScheduleSpecError extends RangeError {
  override readonly name = 'ScheduleSpecError';
  constructor(readonly text: string) {
    super(`schedule '${text}' is not understood: use ${SCHEDULE_FORMS}`);
  }
}

/** The text forms `parseSchedule` reads. */
export const SCHEDULE_FORMS =
  'none (a constant rate), step:STEP[:GAMMA], exp:GAMMA, cosine[:T_MAX[:ETA_MIN]] (stepped per epoch) or onecycle[:MAX_LR[:PCT_START]] (per batch)';

/** The text form of a schedule, as parseSchedule reads it (options without a text form are left out). */
export function formatSchedule(spec: ScheduleSpec): string {
  switch (spec.type) {
    case 'constant': return 'none';
    case 'step': return `step:${spec.stepSize}:${spec.gamma ?? 0.1}`;
    case 'exponential': return `exp:${spec.gamma}`;
    case 'cosine': return `cosine:${spec.tMax}:${spec.etaMin ?? 0}`;
    case 'onecycle': return ['onecycle', ...(spec.maxLr !== undefined ? [spec.maxLr, ...(spec.pctStart !== undefined ? [spec.pctStart] : [])] : [])].join(':');
  }
}

/**
 * A schedule from its text form: `none` (the optimizer's rate throughout), `step:STEP[:GAMMA]` (StepLR, γ 0.1), `exp:GAMMA` (ExponentialLR),
 * `cosine[:T_MAX[:ETA_MIN]]` (CosineAnnealingLR, T_max the run's epochs), `onecycle[:MAX_LR[:PCT_START]]`
 * (OneCycleLR over the whole run; max_lr the optimizer's lr unless given).
 */
export function parseSchedule(text: string, epochs: number): ScheduleSpec {
  if (text === 'none') return { type: 'constant' };
  const [kind, ...rest] = text.split(':');
  const nums = rest.map((r) => (r.trim() === '' ? NaN : Number(r)));
  if (nums.some((n) => !Number.isFinite(n))) throw new ScheduleSpecError(text);
  if (kind === 'step' && nums.length >= 1 && nums.length <= 2 && Number.isInteger(nums[0]) && nums[0] > 0) {
    return { type: 'step', stepSize: nums[0], gamma: nums[1] ?? 0.1 };
  }
  if (kind === 'exp' && nums.length === 1 && nums[0] > 0) return { type: 'exponential', gamma: nums[0] };
  if (kind === 'cosine' && nums.length <= 2) return { type: 'cosine', tMax: nums[0] ?? epochs, etaMin: nums[1] ?? 0 };
  if (kind === 'onecycle' && nums.length <= 2 && (nums[0] === undefined || nums[0] > 0) && (nums[1] === undefined || (nums[1] > 0 && nums[1] < 1))) {
    return { type: 'onecycle', ...(nums[0] !== undefined ? { maxLr: nums[0] } : {}), ...(nums[1] !== undefined ? { pctStart: nums[1] } : {}) };
  }
  throw new ScheduleSpecError(text);
}

