/**
 * A study in a folder: one SQLite file (`study.sqlite`), the embedded default. WAL mode: readers
 * (`study show`, the server) never block the processes training, and a kill mid-write leaves the last
 * committed state intact. Several processes of one machine may share the folder: claims, rung
 * verdicts and the study's first record are taken under SQLite's write lock (BEGIN IMMEDIATE).
 *
 *   studies      the spec (as written and as parsed), when it started, its state (one row, id 1)
 *   trials       one row per trial: design, seed, status, final metrics, why it was pruned, who
 *                trains it and until when; a network design's `network` is JSON {layers, preset[, width]}
 *                (layers: the canonical layer text), NULL for an MLP (whose design is `hidden`).
 *                Databases written before a column existed get it (ALTER TABLE) when opened for
 *                writing, and read as before when read-only.
 *   trial_params every training setting of a trial as name/value pairs, its layer list among them
 *   epochs       every epoch of every trial: losses, validation accuracy, seconds, learning rate
 *   rungs        successive-halving decisions: the metric, the threshold it was held to, the verdict
 *   timings      where each trial's wall time went (loading, training, testing, saving)
 *
 * Checkpoints stay in the trial folders next to the database.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { AugmentSpec } from '../data/augment.js';
import type { EpochRecord } from '../train/trainer.js';
import { RungBook } from './pruning.js';
import type { StudyNetwork, StudySpec, TrialPlan } from './spec.js';
import {
  finiteOrNull, LeaseLostError, StudyStorageError, weightedLayers,
  type DrawTrials, type OpenOptions, type RungDecision, type RungRow, type StoredEpoch, type StudyRow, type StudyStorage, type TrialExtras, type TrialOutcome, type TrialRow, type TrialStatus,
} from './storage.js';

export const STUDY_DATABASE = 'study.sqlite';
const SCHEMA_VERSION = 1;
/** How long a process waits for another one holding the write lock (a claim, a rung verdict). */
const BUSY_TIMEOUT_MS = 10_000;

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

function trialOf(row: Record<string, unknown>): TrialRow {
  return {
    ...(row as unknown as TrialRow),
    hidden: JSON.parse(row.hidden as string),
    network: typeof row.network === 'string' ? (JSON.parse(row.network) as StudyNetwork) : null,
    options: JSON.parse(row.options as string),
    // a study stored before augmentation has no such column when opened read-only
    augment: typeof row.augment === 'string' ? (JSON.parse(row.augment) as AugmentSpec) : null,
    confusion: row.confusion ? JSON.parse(row.confusion as string) : null,
  };
}

/**
 * Runs `step` again while SQLite answers "busy" without waiting, as it does when two processes open a
 * new study at one moment (one switching the file to WAL, the other making the tables: waiting could
 * not end, so one of them is told at once), for as long as the busy timeout would have waited.
 */
function whileBusy(step: () => void): void {
  const until = Date.now() + BUSY_TIMEOUT_MS;
  for (;;) {
    try {
      step();
      return;
    } catch (error) {
      if (!String((error as { code?: string }).code).startsWith('SQLITE_BUSY') || Date.now() > until) throw error;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
}

/** Creates the tables, adds the columns of later versions to an older study, and checks the version. */
function migrate(db: Database.Database, path: string): void {
  db.exec(SCHEMA);
  const columns = db.prepare('PRAGMA table_info(trials)').all() as Array<{ name: string }>;
  const add = (name: string, type: string) => {
    if (!columns.some((column) => column.name === name)) db.exec(`ALTER TABLE trials ADD COLUMN ${name} ${type}`);
  };
  // a study started before network designs existed, before augmentation did, and before several
  // processes could share one (who trains a trial, and until when it is theirs)
  add('network', 'TEXT');
  add('augment', 'TEXT');
  add('owner', 'TEXT');
  add('lease_until', 'REAL');
  const version = db.prepare('SELECT value FROM meta WHERE key = ?').get('schema_version') as { value: string } | undefined;
  if (!version) db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('schema_version', String(SCHEMA_VERSION));
  else if (Number(version.value) !== SCHEMA_VERSION) {
    throw new StudyStorageError(`${path} has storage version ${version.value}; this digitlab reads version ${SCHEMA_VERSION}`);
  }
}

export class SqliteStudyStorage implements StudyStorage {
  readonly kind = 'sqlite';
  readonly keepsCheckpoints = false;

  private constructor(
    /** The study folder. */
    readonly location: string,
    private readonly db: Database.Database,
  ) {}

  /** Opens (and with `create`, creates) the study database in `dir`. */
  static open(dir: string, options: OpenOptions = {}): SqliteStudyStorage {
    const path = join(dir, STUDY_DATABASE);
    if (!existsSync(path)) {
      if (!options.create) throw new StudyStorageError(`${dir} is not a study folder (no ${STUDY_DATABASE}); run one with \`digitlab study run SPEC --out ${dir}\``);
      mkdirSync(dir, { recursive: true });
    }
    const db = new Database(path, { readonly: Boolean(options.readonly), fileMustExist: !options.create });
    // Another process may hold the write lock for a moment (a claim, a rung verdict): wait for it.
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    if (!options.readonly) {
      try {
        whileBusy(() => {
          // WAL lets readers go on while a trial is written
          db.pragma('journal_mode = WAL');
          db.pragma('synchronous = NORMAL');
          // Two processes starting one study open it at the same moment: the schema, its additions and
          // the version check are made under the write lock, so each is made once and the other sees it.
          db.transaction(() => migrate(db, path)).immediate();
        });
      } catch (error) {
        db.close();
        throw error;
      }
    }
    return new SqliteStudyStorage(dir, db);
  }

  async close(): Promise<void> {
    this.db.close();
  }

  async study(): Promise<StudyRow | null> {
    return this.studySync();
  }

  private studySync(): StudyRow | null {
    const row = this.db.prepare('SELECT * FROM studies WHERE id = 1').get() as
      | { name: string; spec_json: string; spec_text: string; created_at: string; updated_at: string; state: StudyRow['state'] }
      | undefined;
    if (!row) return null;
    return { name: row.name, spec: JSON.parse(row.spec_json), spec_text: row.spec_text, created_at: row.created_at, updated_at: row.updated_at, state: row.state };
  }

  async initialize(spec: StudySpec, specText: string, plans: TrialPlan[], extras: (plan: TrialPlan) => TrialExtras): Promise<boolean> {
    // under the write lock from the first read: two processes starting one study record it once
    return this.db.transaction(() => this.initializeLocked(spec, specText, plans, extras)).immediate();
  }

  private initializeLocked(spec: StudySpec, specText: string, plans: TrialPlan[], extras: (plan: TrialPlan) => TrialExtras): boolean {
    const existing = this.studySync();
    const specJson = JSON.stringify(spec);
    if (existing) {
      if (JSON.stringify(existing.spec) !== specJson) {
        throw new StudyStorageError(
          `${join(this.location, STUDY_DATABASE)} holds study '${existing.name}' from a different spec; give another --out folder, or rerun with the spec it was started with`,
        );
      }
      return false;
    }
    const now = new Date().toISOString();
    this.db.prepare('INSERT INTO studies (id, name, spec_json, spec_text, created_at, updated_at, state) VALUES (1, ?, ?, ?, ?, ?, ?)')
      .run(spec.name, specJson, specText, now, now, 'running');
    this.insertTrials(plans.map((plan) => ({ plan, extras: extras(plan) })));
    return true;
  }

  /** Records new trials, pending (a trial's id is its number: a folder holds one study). */
  private insertTrials(trials: Array<{ plan: TrialPlan; extras: TrialExtras }>): void {
    const insertTrial = this.db.prepare(
      `INSERT INTO trials (id, study_id, number, key, status, hidden, network, layers, activation, optimizer, lr, options, schedule, augment, seed)
       VALUES (?, 1, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const insertParam = this.db.prepare('INSERT INTO trial_params (trial_id, name, value) VALUES (?, ?, ?)');
    for (const { plan, extras } of trials) {
      insertTrial.run(
        plan.number, plan.number, plan.key, JSON.stringify(plan.hidden), plan.network ? JSON.stringify(plan.network) : null,
        plan.network ? weightedLayers(plan.network.layers) : plan.hidden.length, plan.activation, plan.optimizer, plan.lr,
        JSON.stringify(plan.options), plan.schedule ? JSON.stringify(plan.schedule) : null,
        plan.augment ? JSON.stringify(plan.augment) : null, plan.seed,
      );
      for (const [name, value] of Object.entries({ ...extras.settings, design_layers: extras.layers })) insertParam.run(plan.number, name, JSON.stringify(value));
    }
  }

  async drawTrials(owner: string, leaseMs: number, limit: number, draw: DrawTrials): Promise<TrialRow | null> {
    const id = this.db.transaction((): number | null => {
      let pending = this.db.prepare("SELECT id FROM trials WHERE status = 'pending' ORDER BY number LIMIT 1").get() as { id: number } | undefined;
      if (!pending) {
        const trials = this.db.prepare('SELECT number, status FROM trials ORDER BY number').all() as Array<{ number: number; status: TrialStatus }>;
        if (trials.length >= limit) return null;
        const params = new Map((this.db.prepare("SELECT trial_id, value FROM trial_params WHERE name = 'search_params'").all() as Array<{ trial_id: number; value: string }>)
          .map((row) => [row.trial_id, JSON.parse(row.value) as Record<string, number>]));
        const best = new Map((this.db.prepare('SELECT trial_id, max(val_accuracy) AS best FROM epochs GROUP BY trial_id').all() as Array<{ trial_id: number; best: number }>)
          .map((row) => [row.trial_id, row.best]));
        const next = trials.length === 0 ? 1 : trials[trials.length - 1].number + 1;
        const drawn = draw(next, trials.map((t) => ({ number: t.number, status: t.status, params: params.get(t.number) ?? null, bestValAccuracy: best.get(t.number) ?? null })));
        this.insertTrials(drawn.slice(0, limit - trials.length));
        pending = this.db.prepare("SELECT id FROM trials WHERE status = 'pending' ORDER BY number LIMIT 1").get() as { id: number } | undefined;
        if (!pending) return null;
      }
      const now = Date.now();
      this.db
        .prepare("UPDATE trials SET status = 'running', owner = ?, lease_until = ?, started_at = COALESCE(started_at, ?) WHERE id = ?")
        .run(owner, now + leaseMs, new Date(now).toISOString(), pending.id);
      return pending.id;
    }).immediate();
    return id === null ? null : this.trial(id);
  }

  async setStudyState(state: StudyRow['state']): Promise<void> {
    this.db.prepare('UPDATE studies SET state = ?, updated_at = ? WHERE id = 1').run(state, new Date().toISOString());
  }

  async trials(): Promise<TrialRow[]> {
    return (this.db.prepare('SELECT * FROM trials ORDER BY number').all() as Array<Record<string, unknown>>).map(trialOf);
  }

  async trial(id: number): Promise<TrialRow | null> {
    const row = this.db.prepare('SELECT * FROM trials WHERE id = ?').get(id) as Record<string, unknown> | undefined;
    return row ? trialOf(row) : null;
  }

  async epochs(trialId?: number): Promise<StoredEpoch[]> {
    const sql = 'SELECT * FROM epochs' + (trialId === undefined ? '' : ' WHERE trial_id = ?') + ' ORDER BY trial_id, epoch';
    const rows = (trialId === undefined ? this.db.prepare(sql).all() : this.db.prepare(sql).all(trialId)) as StoredEpoch[];
    return rows.map((row) => ({ ...row, train_loss: row.train_loss ?? NaN, val_loss: row.val_loss ?? NaN }));
  }

  async rungs(): Promise<RungRow[]> {
    return (this.db.prepare('SELECT * FROM rungs ORDER BY rung, trial_id').all() as Array<Omit<RungRow, 'kept'> & { kept: number }>).map((row) => ({ ...row, kept: Boolean(row.kept) }));
  }

  async timings(): Promise<Array<{ trial_id: number; phase: string; seconds: number }>> {
    return this.db.prepare('SELECT * FROM timings ORDER BY trial_id, phase').all() as Array<{ trial_id: number; phase: string; seconds: number }>;
  }

  async params(trialId: number): Promise<Record<string, unknown>> {
    const rows = this.db.prepare('SELECT name, value FROM trial_params WHERE trial_id = ?').all(trialId) as Array<{ name: string; value: string }>;
    return Object.fromEntries(rows.map((row) => [row.name, JSON.parse(row.value)]));
  }

  async paramOfAll(name: string): Promise<Map<number, unknown>> {
    const rows = this.db.prepare('SELECT trial_id, value FROM trial_params WHERE name = ?').all(name) as Array<{ trial_id: number; value: string }>;
    return new Map(rows.map((row) => [row.trial_id, JSON.parse(row.value)]));
  }

  async claimNext(owner: string, leaseMs: number, isGone: (owner: string) => boolean): Promise<TrialRow | null> {
    const claim = this.db.transaction((): number | null => {
      const now = Date.now();
      const held = this.db.prepare("SELECT id FROM trials WHERE owner = ? AND status = 'running' LIMIT 1").get(owner) as { id: number } | undefined;
      if (held) {
        this.db.prepare('UPDATE trials SET lease_until = ? WHERE id = ?').run(now + leaseMs, held.id);
        return held.id;
      }
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
    return id === null ? null : this.trial(id);
  }

  async renewLeases(owners: readonly string[], leaseMs: number): Promise<number[]> {
    const mine = JSON.stringify(owners);
    this.db.prepare("UPDATE trials SET lease_until = ? WHERE status = 'running' AND owner IN (SELECT value FROM json_each(?))").run(Date.now() + leaseMs, mine);
    return (this.db.prepare("SELECT id FROM trials WHERE status = 'running' AND owner IN (SELECT value FROM json_each(?))").all(mine) as Array<{ id: number }>).map((r) => r.id);
  }

  async othersAtWork(owners: readonly string[]): Promise<boolean> {
    return (
      this.db
        .prepare("SELECT 1 FROM trials WHERE status = 'running' AND owner IS NOT NULL AND owner NOT IN (SELECT value FROM json_each(?)) AND lease_until >= ? LIMIT 1")
        .get(JSON.stringify(owners), Date.now()) !== undefined
    );
  }

  async othersLeft(owners: readonly string[]): Promise<boolean> {
    return (
      this.db
        .prepare("SELECT 1 FROM trials WHERE status IN ('pending', 'running') AND (owner IS NULL OR owner NOT IN (SELECT value FROM json_each(?))) LIMIT 1")
        .get(JSON.stringify(owners)) !== undefined
    );
  }

  async requeueFailed(): Promise<void> {
    this.db.prepare("UPDATE trials SET status = 'pending', owner = NULL, lease_until = NULL WHERE status = 'failed'").run();
  }

  /** Throws LeaseLostError unless `owner` trains the trial. */
  private checkOwner(trialId: number, owner: string): void {
    const row = this.db.prepare("SELECT 1 FROM trials WHERE id = ? AND owner = ? AND status = 'running'").get(trialId, owner);
    if (row === undefined) throw new LeaseLostError(trialId);
  }

  async markInterrupted(trialId: number, owner: string): Promise<void> {
    this.db.prepare("UPDATE trials SET status = 'pending', owner = NULL, lease_until = NULL WHERE id = ? AND owner = ? AND status = 'running'").run(trialId, owner);
  }

  async resumeEpochs(trialId: number, owner: string, history: EpochRecord[]): Promise<void> {
    this.db.transaction(() => {
      this.checkOwner(trialId, owner);
      const last = history.length ? history[history.length - 1].epoch : 0;
      this.db.prepare('DELETE FROM epochs WHERE trial_id = ? AND epoch > ?').run(trialId, last);
      this.db.prepare('DELETE FROM rungs WHERE trial_id = ? AND epoch > ?').run(trialId, last);
      for (const record of history) this.insertEpoch(trialId, record);
    }).immediate();
  }

  private insertEpoch(trialId: number, e: EpochRecord): void {
    // a study's spec always holds out validation images (its trials are ranked on them)
    if (e.val_accuracy === null) throw new Error(`trial ${trialId}: epoch ${e.epoch} has no validation accuracy; a study's trials must hold out validation images`);
    this.db
      .prepare('INSERT OR REPLACE INTO epochs (trial_id, epoch, train_loss, val_loss, val_accuracy, seconds, lr) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(trialId, e.epoch, finiteOrNull(e.train_loss), finiteOrNull(e.val_loss), e.val_accuracy, e.seconds, e.lr);
  }

  async recordEpoch(trialId: number, owner: string, e: EpochRecord): Promise<void> {
    this.db.transaction(() => {
      this.checkOwner(trialId, owner);
      this.insertEpoch(trialId, e);
    }).immediate();
  }

  async decideRung(
    trialId: number, owner: string, rung: { index: number; epoch: number; metric: number; reduction: number },
    pruned: (reason: string) => TrialOutcome,
  ): Promise<RungDecision> {
    // against the rungs of the trials before it, by any process sharing the study, under its write lock
    return this.db.transaction(() => {
      this.checkOwner(trialId, owner);
      const earlier = (this.db
        .prepare('SELECT r.* FROM rungs r JOIN trials t ON t.id = r.trial_id WHERE t.number < (SELECT number FROM trials WHERE id = ?) ORDER BY r.rung, r.trial_id')
        .all(trialId) as Array<Omit<RungRow, 'kept'> & { kept: number }>).map((row) => ({ ...row, kept: Boolean(row.kept) }));
      const decision = new RungBook(rung.reduction, earlier).decide(trialId, rung.index, rung.epoch, rung.metric);
      const row = decision.row;
      this.db
        .prepare('INSERT OR REPLACE INTO rungs (trial_id, rung, epoch, metric, threshold, competitors, kept) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(row.trial_id, row.rung, row.epoch, row.metric, row.threshold, row.competitors, row.kept ? 1 : 0);
      if (!row.kept) this.finishSync(trialId, null, pruned(decision.reason ?? ''));
      return decision;
    }).immediate();
  }

  async earlierAtWork(trialId: number, rung: number): Promise<boolean> {
    return (
      this.db
        .prepare(
          `SELECT 1 FROM trials t WHERE t.number < (SELECT number FROM trials WHERE id = ?) AND t.status = 'running' AND t.lease_until >= ?
           AND NOT EXISTS (SELECT 1 FROM rungs r WHERE r.trial_id = t.id AND r.rung = ?) LIMIT 1`,
        )
        .get(trialId, Date.now(), rung) !== undefined
    );
  }

  async recordTimings(trialId: number, timings: Record<string, number>): Promise<void> {
    const insert = this.db.prepare('INSERT OR REPLACE INTO timings (trial_id, phase, seconds) VALUES (?, ?, ?)');
    this.db.transaction(() => {
      for (const [phase, seconds] of Object.entries(timings)) insert.run(trialId, phase, seconds);
    })();
  }

  async finish(trialId: number, owner: string | null, outcome: TrialOutcome): Promise<void> {
    this.db.transaction(() => this.finishSync(trialId, owner, outcome)).immediate();
  }

  private finishSync(trialId: number, owner: string | null, outcome: TrialOutcome): void {
    if (owner !== null) this.checkOwner(trialId, owner);
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

  async saveCheckpoint(): Promise<void> {
    // the checkpoint is already in the trial's folder, next to the database
  }

  async loadCheckpoint(): Promise<null> {
    return null;
  }
}
