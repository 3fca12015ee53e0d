/**
 * A study's storage: one SQLite file (`study.sqlite`) in the study folder. Only the scheduler's
 * thread writes to it; every row is committed as soon as it is known, so a killed study loses at
 * most the epoch in flight, and a rerun knows exactly which trials are finished.
 *
 *   studies      the spec (as written and as parsed), when it started, its state
 *   trials       one row per trial: design, seed, status, final metrics, why it was pruned; a network
 *                design's `network` is JSON {layers, preset[, width]} (layers: the canonical layer text),
 *                NULL for an MLP (whose design is `hidden`). Databases written before the column existed
 *                get it (ALTER TABLE) when opened for writing, and read as all-MLP when read-only.
 *   trial_params every training setting of a trial as name/value pairs (for querying by hand)
 *   epochs       every epoch of every trial: losses, validation accuracy, seconds, learning rate
 *   rungs        successive-halving decisions: the metric, the threshold it was held to, the verdict
 *   timings      where each trial's wall time went (loading, training, testing, saving)
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { parseLayers } from '../io/layer-text.js';
import type { AugmentSpec } from '../data/augment.js';
import type { EpochRecord } from '../train/trainer.js';
import type { StudyNetwork, StudySpec, TrialPlan } from './spec.js';

export const STUDY_DATABASE = 'study.sqlite';
const SCHEMA_VERSION = 1;

export type TrialStatus = 'pending' | 'running' | 'done' | 'pruned' | 'diverged' | 'failed';
/** Statuses a rerun keeps; the others are (re)started. */
export const FINISHED_STATUSES: readonly TrialStatus[] = ['done', 'pruned', 'diverged'];

/** The folder is not a study, or holds a different one. */
export class StudyStorageError extends Error {
  override readonly name = 'StudyStorageError';
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

export interface StudyRow {
  name: string;
  spec: StudySpec;
  spec_text: string;
  created_at: string;
  updated_at: string;
  state: 'running' | 'stopped' | 'complete';
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS studies (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  spec_json TEXT NOT NULL,
  spec_text TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  state TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS trials (
  id INTEGER PRIMARY KEY,
  study_id INTEGER NOT NULL REFERENCES studies(id),
  number INTEGER NOT NULL,
  key TEXT NOT NULL,
  status TEXT NOT NULL,
  hidden TEXT NOT NULL,
  layers INTEGER NOT NULL,
  activation TEXT NOT NULL,
  optimizer TEXT NOT NULL,
  lr REAL NOT NULL,
  options TEXT NOT NULL,
  schedule TEXT,
  seed INTEGER NOT NULL,
  params INTEGER,
  bytes INTEGER,
  best_epoch INTEGER,
  test_accuracy REAL,
  test_loss REAL,
  converged_epoch INTEGER,
  seconds_to_converge REAL,
  seconds REAL,
  confusion TEXT,
  model_dir TEXT,
  pruned_reason TEXT,
  error TEXT,
  started_at TEXT,
  finished_at TEXT,
  network TEXT,
  augment TEXT,
  UNIQUE (study_id, number)
);
CREATE TABLE IF NOT EXISTS trial_params (
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  name TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (trial_id, name)
);
CREATE TABLE IF NOT EXISTS epochs (
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  epoch INTEGER NOT NULL,
  train_loss REAL,
  val_loss REAL,
  val_accuracy REAL NOT NULL,
  seconds REAL NOT NULL,
  lr REAL NOT NULL,
  PRIMARY KEY (trial_id, epoch)
);
CREATE TABLE IF NOT EXISTS rungs (
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  rung INTEGER NOT NULL,
  epoch INTEGER NOT NULL,
  metric REAL NOT NULL,
  threshold REAL NOT NULL,
  competitors INTEGER NOT NULL,
  kept INTEGER NOT NULL,
  PRIMARY KEY (trial_id, rung)
);
CREATE TABLE IF NOT EXISTS timings (
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  phase TEXT NOT NULL,
  seconds REAL NOT NULL,
  PRIMARY KEY (trial_id, phase)
);
`;

/** The layers with weights (conv and linear) before the output layer: a network's `layers` column. */
export function weightedLayers(layerText: string): number {
  return parseLayers(layerText).filter((l) => l.type === 'conv2d' || l.type === 'linear').length;
}

/** SQLite stores NaN as NULL; a diverged epoch's loss reads back as NaN. */
function finiteOrNull(value: number | null): number | null {
  return value !== null && Number.isFinite(value) ? value : null;
}

export class StudyStore {
  private constructor(
    readonly path: string,
    private readonly db: Database.Database,
  ) {}

  /** Opens (and with `create`, creates) the study database in `dir`. */
  static open(dir: string, options: { create?: boolean; readonly?: boolean } = {}): StudyStore {
    const path = join(dir, STUDY_DATABASE);
    if (!existsSync(path)) {
      if (!options.create) throw new StudyStorageError(`${dir} is not a study folder (no ${STUDY_DATABASE}); run one with \`digitlab study run SPEC --out ${dir}\``);
      mkdirSync(dir, { recursive: true });
    }
    const db = new Database(path, { readonly: Boolean(options.readonly), fileMustExist: !options.create });
    if (!options.readonly) {
      // WAL: readers (`study show`, the server) never block the running study, and a kill mid-write
      // leaves the last committed state intact.
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.exec(SCHEMA);
      // A study started before network designs existed: the same table without the network column.
      const columns = db.prepare('PRAGMA table_info(trials)').all() as Array<{ name: string }>;
      if (!columns.some((column) => column.name === 'network')) db.exec('ALTER TABLE trials ADD COLUMN network TEXT');
      // … or before augmentation did
      if (!columns.some((column) => column.name === 'augment')) db.exec('ALTER TABLE trials ADD COLUMN augment TEXT');
      // … or before several processes could share one: who trains a trial, and until when it is theirs
      if (!columns.some((column) => column.name === 'owner')) db.exec('ALTER TABLE trials ADD COLUMN owner TEXT');
      if (!columns.some((column) => column.name === 'lease_until')) db.exec('ALTER TABLE trials ADD COLUMN lease_until REAL');
      const version = db.prepare('SELECT value FROM meta WHERE key = ?').get('schema_version') as { value: string } | undefined;
      if (!version) db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('schema_version', String(SCHEMA_VERSION));
      else if (Number(version.value) !== SCHEMA_VERSION) {
        db.close();
        throw new StudyStorageError(`${path} has storage version ${version.value}; this digitlab reads version ${SCHEMA_VERSION}`);
      }
    }
    return new StudyStore(path, db);
  }

  close(): void {
    this.db.close();
  }

  study(): StudyRow | null {
    const row = this.db.prepare('SELECT * FROM studies WHERE id = 1').get() as
      | { name: string; spec_json: string; spec_text: string; created_at: string; updated_at: string; state: StudyRow['state'] }
      | undefined;
    if (!row) return null;
    return { name: row.name, spec: JSON.parse(row.spec_json), spec_text: row.spec_text, created_at: row.created_at, updated_at: row.updated_at, state: row.state };
  }

  /**
   * Records the study and its trials the first time; on a rerun checks that the spec is the same
   * (a different spec in the same folder would mix incomparable trials) and returns false.
   */
  initialize(spec: StudySpec, specText: string, plans: TrialPlan[], settingsOf: (plan: TrialPlan) => Record<string, unknown>): boolean {
    // under the write lock from the first read: two processes starting one study record it once
    return this.db.transaction(() => this.initializeLocked(spec, specText, plans, settingsOf)).immediate();
  }

  private initializeLocked(spec: StudySpec, specText: string, plans: TrialPlan[], settingsOf: (plan: TrialPlan) => Record<string, unknown>): boolean {
    const existing = this.study();
    const specJson = JSON.stringify(spec);
    if (existing) {
      if (JSON.stringify(existing.spec) !== specJson) {
        throw new StudyStorageError(
          `${this.path} holds study '${existing.name}' from a different spec; give another --out folder, or rerun with the spec it was started with`,
        );
      }
      return false;
    }
    const now = new Date().toISOString();
    const insertTrial = this.db.prepare(
      `INSERT INTO trials (id, study_id, number, key, status, hidden, network, layers, activation, optimizer, lr, options, schedule, augment, seed)
       VALUES (?, 1, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const insertParam = this.db.prepare('INSERT INTO trial_params (trial_id, name, value) VALUES (?, ?, ?)');
    this.db.transaction(() => {
      this.db.prepare('INSERT INTO studies (id, name, spec_json, spec_text, created_at, updated_at, state) VALUES (1, ?, ?, ?, ?, ?, ?)')
        .run(spec.name, specJson, specText, now, now, 'running');
      for (const plan of plans) {
        insertTrial.run(
          plan.number, plan.number, plan.key, JSON.stringify(plan.hidden), plan.network ? JSON.stringify(plan.network) : null,
          plan.network ? weightedLayers(plan.network.layers) : plan.hidden.length, plan.activation, plan.optimizer, plan.lr,
          JSON.stringify(plan.options), plan.schedule ? JSON.stringify(plan.schedule) : null,
          plan.augment ? JSON.stringify(plan.augment) : null, plan.seed,
        );
        for (const [name, value] of Object.entries(settingsOf(plan))) insertParam.run(plan.number, name, JSON.stringify(value));
      }
    })();
    return true;
  }

  setStudyState(state: StudyRow['state']): void {
    this.db.prepare('UPDATE studies SET state = ?, updated_at = ? WHERE id = 1').run(state, new Date().toISOString());
  }

  trials(): TrialRow[] {
    const rows = this.db.prepare('SELECT * FROM trials ORDER BY number').all() as Array<Record<string, unknown>>;
    return rows.map((row) => ({
      ...(row as unknown as TrialRow),
      hidden: JSON.parse(row.hidden as string),
      network: typeof row.network === 'string' ? (JSON.parse(row.network) as StudyNetwork) : null,
      options: JSON.parse(row.options as string),
      // a study stored before augmentation has no such column when opened read-only
      augment: typeof row.augment === 'string' ? (JSON.parse(row.augment) as AugmentSpec) : null,
      confusion: row.confusion ? JSON.parse(row.confusion as string) : null,
    }));
  }

  epochs(trialId?: number): Array<EpochRecord & { trial_id: number }> {
    const sql = 'SELECT * FROM epochs' + (trialId === undefined ? '' : ' WHERE trial_id = ?') + ' ORDER BY trial_id, epoch';
    const rows = (trialId === undefined ? this.db.prepare(sql).all() : this.db.prepare(sql).all(trialId)) as Array<EpochRecord & { trial_id: number }>;
    return rows.map((row) => ({ ...row, train_loss: row.train_loss ?? NaN, val_loss: row.val_loss ?? NaN }));
  }

  rungs(): RungRow[] {
    return (this.db.prepare('SELECT * FROM rungs ORDER BY rung, trial_id').all() as Array<Omit<RungRow, 'kept'> & { kept: number }>).map((row) => ({ ...row, kept: Boolean(row.kept) }));
  }

  timings(): Array<{ trial_id: number; phase: string; seconds: number }> {
    return this.db.prepare('SELECT * FROM timings ORDER BY trial_id, phase').all() as Array<{ trial_id: number; phase: string; seconds: number }>;
  }

  params(trialId: number): Record<string, unknown> {
    const rows = this.db.prepare('SELECT name, value FROM trial_params WHERE trial_id = ?').all(trialId) as Array<{ name: string; value: string }>;
    return Object.fromEntries(rows.map((row) => [row.name, JSON.parse(row.value)]));
  }

  /** One setting of every trial that recorded it, by trial id. */
  paramOfAll(name: string): Map<number, unknown> {
    const rows = this.db.prepare('SELECT trial_id, value FROM trial_params WHERE name = ?').all(name) as Array<{ trial_id: number; value: string }>;
    return new Map(rows.map((row) => [row.trial_id, JSON.parse(row.value)]));
  }

  /**
   * Claims the first trial (by number) that no one is training, for `owner` until `leaseMs` from now:
   * a pending one, or a running one whose lease has run out or whose owner `isGone` says has died.
   * One transaction under the write lock, so two processes never claim the same trial. Null when
   * every trial is finished, failed or someone else's.
   */
  claimNext(owner: string, leaseMs: number, isGone: (owner: string) => boolean): TrialRow | null {
    const claim = this.db.transaction((): number | null => {
      const now = Date.now();
      const open = this.db.prepare("SELECT id, status, owner, lease_until FROM trials WHERE status IN ('pending', 'running') ORDER BY number").all() as Array<{
        id: number; status: TrialStatus; owner: string | null; lease_until: number | null;
      }>;
      const free = open.find((t) => t.status === 'pending' || t.owner === null || t.lease_until === null || t.lease_until < now || isGone(t.owner));
      if (!free) return null;
      this.db
        .prepare("UPDATE trials SET status = 'running', owner = ?, lease_until = ?, started_at = COALESCE(started_at, ?) WHERE id = ?")
        .run(owner, now + leaseMs, new Date(now).toISOString(), free.id);
      return free.id;
    });
    const id = claim.immediate();
    return id === null ? null : (this.trials().find((t) => t.id === id) ?? null);
  }

  /** Extends the leases of the trials `owner` is training (its heartbeat). */
  renewLeases(owner: string, leaseMs: number): void {
    this.db.prepare("UPDATE trials SET lease_until = ? WHERE owner = ? AND status = 'running'").run(Date.now() + leaseMs, owner);
  }

  /** Whether anyone but `owner` holds a live lease on a running trial. */
  othersAtWork(owner: string): boolean {
    return this.db.prepare("SELECT 1 FROM trials WHERE status = 'running' AND owner IS NOT NULL AND owner != ? AND lease_until >= ? LIMIT 1").get(owner, Date.now()) !== undefined;
  }

  /** Puts failed trials back in the queue, to be tried again. */
  requeueFailed(): void {
    this.db.prepare("UPDATE trials SET status = 'pending', owner = NULL, lease_until = NULL WHERE status = 'failed'").run();
  }

  /** Runs `work` in a transaction under the write lock (a pruning verdict against every process's rungs). */
  exclusive<T>(work: () => T): T {
    return this.db.transaction(work).immediate();
  }

  /** Puts an interrupted trial back in the queue; its checkpoint and recorded epochs stay. */
  markInterrupted(trialId: number): void {
    this.db.prepare("UPDATE trials SET status = 'pending', owner = NULL, lease_until = NULL WHERE id = ?").run(trialId);
  }

  /** Forgets epochs after `epoch` (a resumed trial redoes them from its checkpoint). */
  truncateEpochs(trialId: number, epoch: number): void {
    this.db.prepare('DELETE FROM epochs WHERE trial_id = ? AND epoch > ?').run(trialId, epoch);
    this.db.prepare('DELETE FROM rungs WHERE trial_id = ? AND epoch > ?').run(trialId, epoch);
  }

  recordEpoch(trialId: number, e: EpochRecord): void {
    // a study's spec always holds out validation images (its trials are ranked on them)
    if (e.val_accuracy === null) throw new Error(`trial ${trialId}: epoch ${e.epoch} has no validation accuracy; a study's trials must hold out validation images`);
    this.db
      .prepare('INSERT OR REPLACE INTO epochs (trial_id, epoch, train_loss, val_loss, val_accuracy, seconds, lr) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(trialId, e.epoch, finiteOrNull(e.train_loss), finiteOrNull(e.val_loss), e.val_accuracy, e.seconds, e.lr);
  }

  recordRung(row: RungRow): void {
    this.db
      .prepare('INSERT OR REPLACE INTO rungs (trial_id, rung, epoch, metric, threshold, competitors, kept) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(row.trial_id, row.rung, row.epoch, row.metric, row.threshold, row.competitors, row.kept ? 1 : 0);
  }

  recordTiming(trialId: number, phase: string, seconds: number): void {
    this.db.prepare('INSERT OR REPLACE INTO timings (trial_id, phase, seconds) VALUES (?, ?, ?)').run(trialId, phase, seconds);
  }

  finish(trialId: number, outcome: TrialOutcome): void {
    this.db
      .prepare(
        `UPDATE trials SET status = ?, params = ?, bytes = ?, best_epoch = ?, test_accuracy = ?, test_loss = ?, converged_epoch = ?,
         seconds_to_converge = ?, seconds = ?, confusion = ?, model_dir = ?, pruned_reason = ?, error = ?, finished_at = ?, lease_until = NULL WHERE id = ?`,
      )
      .run(
        outcome.status, outcome.params, outcome.bytes, outcome.bestEpoch, outcome.testAccuracy,
        outcome.testLoss === null ? null : finiteOrNull(outcome.testLoss), outcome.convergedEpoch, outcome.secondsToConverge,
        outcome.seconds, outcome.confusion ? JSON.stringify(outcome.confusion) : null, outcome.modelDir, outcome.prunedReason,
        outcome.error, new Date().toISOString(), trialId,
      );
  }
}
