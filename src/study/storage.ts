/**
 * Where a study lives, behind one asynchronous interface with two implementations:
 *
 *   a folder            SQLite (`study.sqlite` in the folder): the embedded default, one study per
 *                       folder, shared by the processes of one machine
 *   postgres://…        PostgreSQL: any number of studies in one database, shared by workers on any
 *                       number of machines; trial checkpoints are kept in the database so that any
 *                       machine can resume a trial another one started
 *
 * Both keep the same records: the study (its spec as written and as parsed, its state), one row per
 * trial (the design as data, its seed, status, final metrics, why it was pruned), every training
 * setting of a trial, every epoch, the successive-halving verdicts and where each trial's time went.
 * A trial is claimed under a lease that its owner's heartbeat renews; every write about a trial
 * names the owner, and a write by an owner that lost its claim is refused (LeaseLostError), so a
 * worker cut off for longer than its lease can never overwrite the work of the one that took over.
 */
import type { AugmentSpec } from '../data/augment.js';
import { parseLayers } from '../io/layer-text.js';
import type { EpochRecord } from '../train/trainer.js';
import type { StudyNetwork, StudySpec, TrialPlan } from './spec.js';

export type TrialStatus = 'pending' | 'running' | 'done' | 'pruned' | 'diverged' | 'failed';
/** Statuses a rerun keeps; the others are (re)started. */
export const FINISHED_STATUSES: readonly TrialStatus[] = ['done', 'pruned', 'diverged'];

/** The location is not a study, holds a different one, or cannot be used. */
export class StudyStorageError extends Error {
  override readonly name = 'StudyStorageError';
}

/** A write about a trial this owner no longer holds: another worker took it over after the lease ran out. */
export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
  constructor(readonly trialId: number) {
    super(`trial ${trialId} is no longer this worker's: its lease ran out and another worker took it over`);
  }
}

export interface TrialOutcome {
  status: TrialStatus;
  params: number | null;
  bytes: number | null;
  bestEpoch: number | null;
  testAccuracy: number | null;
  testLoss: number | null;
  convergedEpoch: number | null;
  secondsToConverge: number | null;
  seconds: number | null;
  confusion: number[][] | null;
  modelDir: string | null;
  prunedReason: string | null;
  error: string | null;
}

export interface TrialRow {
  id: number;
  number: number;
  key: string;
  status: TrialStatus;
  hidden: number[];
  /** The network of a network design; null for an MLP. */
  network: StudyNetwork | null;
  activation: string;
  optimizer: string;
  lr: number;
  options: Record<string, number | boolean>;
  schedule: string | null;
  /** The training images' distortions (null: none). */
  augment: AugmentSpec | null;
  seed: number;
  params: number | null;
  bytes: number | null;
  best_epoch: number | null;
  test_accuracy: number | null;
  test_loss: number | null;
  converged_epoch: number | null;
  seconds_to_converge: number | null;
  seconds: number | null;
  confusion: number[][] | null;
  model_dir: string | null;
  pruned_reason: string | null;
  error: string | null;
  started_at: string | null;
  finished_at: string | null;
}

export interface RungRow {
  trial_id: number;
  rung: number;
  epoch: number;
  metric: number;
  threshold: number;
  competitors: number;
  kept: boolean;
}

/** A successive-halving verdict: the rung's row, and why the trial was pruned (null when it continues). */
export interface RungDecision {
  row: RungRow;
  reason: string | null;
}

export interface StudyRow {
  name: string;
  spec: StudySpec;
  spec_text: string;
  created_at: string;
  updated_at: string;
  state: 'running' | 'stopped' | 'complete';
}

export type StoredEpoch = EpochRecord & { trial_id: number };

/** What `initialize` records of each trial besides its plan. */
export interface TrialExtras {
  /** Every training setting, as name/value pairs. */
  settings: Record<string, unknown>;
  /** The design as a layer list (canonical layer text), for MLPs and networks alike. */
  layers: string;
}

/** A trial as a sampled search learns from it: its draws and, once finished, its best validation accuracy. */
export interface DrawnTrial {
  number: number;
  status: TrialStatus;
  /** The search's draws (the `search_params` setting); null for a trial that was not drawn. */
  params: Record<string, number> | null;
  bestValAccuracy: number | null;
}

/** New trials a sampled search drew, with what `initialize` records of each. */
export type DrawTrials = (next: number, trials: DrawnTrial[]) => Array<{ plan: TrialPlan; extras: TrialExtras }>;

export interface StudyStorage {
  /** The folder, or the database URL without its password. */
  readonly location: string;
  readonly kind: 'sqlite' | 'postgres';
  /**
   * Whether trial checkpoints are kept in the storage (where every machine reads them) rather than
   * only in the trial folders of the machine that trains.
   */
  readonly keepsCheckpoints: boolean;
  close(): Promise<void>;
  study(): Promise<StudyRow | null>;
  /**
   * Records the study and its trials the first time; on a rerun (or a second process) checks that the
   * spec is the same (a different spec would mix incomparable trials) and returns false.
   */
  initialize(spec: StudySpec, specText: string, plans: TrialPlan[], extras: (plan: TrialPlan) => TrialExtras): Promise<boolean>;
  setStudyState(state: StudyRow['state']): Promise<void>;
  trials(): Promise<TrialRow[]>;
  trial(id: number): Promise<TrialRow | null>;
  epochs(trialId?: number): Promise<StoredEpoch[]>;
  rungs(): Promise<RungRow[]>;
  timings(): Promise<Array<{ trial_id: number; phase: string; seconds: number }>>;
  params(trialId: number): Promise<Record<string, unknown>>;
  /** One setting of every trial that recorded it, by trial id. */
  paramOfAll(name: string): Promise<Map<number, unknown>>;

  /**
   * Claims the first trial (by number) that no one trains, for `owner` until `leaseMs` from now: a
   * pending one, or a running one whose lease ran out or whose owner `isGone` says has died. Two
   * workers never claim the same trial. An owner holds one trial at a time: a claim by an owner that
   * already holds one returns that trial (so a claim retried after a lost connection claims nothing
   * twice). Null when every trial is finished, failed or someone else's.
   */
  claimNext(owner: string, leaseMs: number, isGone: (owner: string) => boolean): Promise<TrialRow | null>;
  /**
   * Draws the next trials of a sampled search, under the study's write lock so that numbers are never
   * given twice: a pending trial (another seed of a design drawn before) is claimed for `owner` as it
   * is; else, while fewer than `limit` trials exist, `draw` makes trials numbered from the next
   * number, they are recorded, and the first is claimed. Null when the study has its `limit` trials.
   */
  drawTrials(owner: string, leaseMs: number, limit: number, draw: DrawTrials): Promise<TrialRow | null>;
  /**
   * Extends the leases of the trials these owners train (a process's heartbeat, one owner per lane);
   * returns the ids they still hold.
   */
  renewLeases(owners: readonly string[], leaseMs: number): Promise<number[]>;
  /** Whether anyone but these owners holds a live lease on a running trial. */
  othersAtWork(owners: readonly string[]): Promise<boolean>;
  /**
   * Whether a trial not held by these owners is still to be finished: pending, or running under
   * anyone's lease, live or run out (a dead worker's trial another claimer has locked for a moment).
   */
  othersLeft(owners: readonly string[]): Promise<boolean>;
  /** Puts failed trials back in the queue, to be tried again. */
  requeueFailed(): Promise<void>;
  /** Puts an interrupted trial back in the queue; its checkpoint and recorded epochs stay. */
  markInterrupted(trialId: number, owner: string): Promise<void>;
  /** A resumed trial's epochs are those of its checkpoint: later ones (and their rungs) are forgotten. */
  resumeEpochs(trialId: number, owner: string, history: EpochRecord[]): Promise<void>;
  recordEpoch(trialId: number, owner: string, epoch: EpochRecord): Promise<void>;
  /**
   * The successive-halving verdict for a trial at a rung, against the values the trials numbered
   * before it recorded at that rung (by any worker), taken and recorded in one transaction (a pruned
   * trial is finished in it, `pruned` giving its row).
   */
  decideRung(
    trialId: number, owner: string, rung: { index: number; epoch: number; metric: number; reduction: number },
    pruned: (reason: string) => TrialOutcome,
  ): Promise<RungDecision>;
  /**
   * Whether a trial numbered before this one is still on its way to rung `rung`: running under a live
   * lease, with no verdict at that rung yet. Its verdict waits for them, so that it is the verdict a
   * single worker taking the trials in order would have given.
   */
  earlierAtWork(trialId: number, rung: number): Promise<boolean>;
  recordTimings(trialId: number, timings: Record<string, number>): Promise<void>;
  finish(trialId: number, owner: string | null, outcome: TrialOutcome): Promise<void>;
  /** Keeps a trial's latest checkpoint (a no-op where checkpoints stay in the trial folder). */
  saveCheckpoint(trialId: number, owner: string, epoch: number, bytes: Uint8Array): Promise<void>;
  /** The trial's latest kept checkpoint (null: none, or kept only in the trial folder). */
  loadCheckpoint(trialId: number): Promise<{ epoch: number; bytes: Buffer } | null>;
}

/** The layers with weights (conv and linear) before the output layer: a network's `layers` column. */
export function weightedLayers(layerText: string): number {
  return parseLayers(layerText).filter((l) => l.type === 'conv2d' || l.type === 'linear').length;
}

/** NaN and infinities are stored as NULL; a diverged epoch's loss reads back as NaN. */
export function finiteOrNull(value: number | null): number | null {
  return value !== null && Number.isFinite(value) ? value : null;
}

/** Whether a `--storage` value names a PostgreSQL database rather than a folder. */
export function isDatabaseUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

/** A database URL fit to print: the password replaced. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url.replace(/:[^:@/]*@/, ':***@');
  }
}

export interface OpenOptions {
  /** Create the storage when it does not exist yet (a study run). */
  create?: boolean;
  /** Only read (the faces: show, report, the server). */
  readonly?: boolean;
  /** The study, in a database that may hold several (PostgreSQL); a folder holds one. */
  study?: string;
}
