/**
 * Studies in PostgreSQL (`--storage postgres://user@host/db`): any number of studies in one database,
 * in the schema `digitlab`, shared by workers on any number of machines.
 *
 *   studies      one row per study (unique name): the spec as written and as parsed, its state
 *   trials       one row per trial: its design as data (JSONB: the layer list as text, and the MLP's
 *                hidden sizes or the network's preset), its training settings, status, final metrics,
 *                and the claim: owner and lease_until (the database's clock, never a worker's)
 *   trial_params every training setting of a trial as name/value pairs
 *   epochs, rungs, timings   as in a study folder
 *   checkpoints  each running trial's latest epoch checkpoint (the safetensors bytes), so that any
 *                machine resumes a trial whose worker died
 *
 * A claim is `SELECT … FOR UPDATE SKIP LOCKED` on the first free trial: two workers never wait on
 * each other, and never claim the same trial. Every write about a trial locks the trial's row
 * (FOR SHARE) and checks the owner in the same transaction, so a worker that lost its lease can no
 * longer write. Rung verdicts are taken under a per-study advisory lock, against every rung recorded.
 * Each process keeps a small pool of connections; a query that meets a restarting server, a dropped
 * connection, a deadlock or a serialization failure is retried (for up to two minutes) rather than
 * failing the study.
 */
import pg from 'pg';
import type { EpochRecord } from '../train/trainer.js';
import { RungBook } from './pruning.js';
import type { StudySpec, TrialPlan } from './spec.js';
import {
  finiteOrNull, LeaseLostError, redactUrl, StudyStorageError,
  type DrawTrials, type OpenOptions, type RungDecision, type RungRow, type StoredEpoch, type StudyRow, type StudyStorage, type TrialExtras, type TrialOutcome, type TrialRow, type TrialStatus,
} from './storage.js';

const SCHEMA_VERSION = 1;
/** Connections one process keeps open at most: its lanes, heartbeat and readers share them. */
const POOL_SIZE = 4;
/** How long the server lets a transaction of ours sit idle (ours last milliseconds) before ending it. */
const IDLE_IN_TRANSACTION_MS = 10_000;
/** How long a query is retried while the server cannot be reached: the first, opening the storage, briefly (a wrong URL should fail at once); later ones long enough to ride out a restart. */
const FIRST_RETRY_MS = 5_000;
const RETRY_FOR_MS = 120_000;

const SCHEMA = `
CREATE SCHEMA IF NOT EXISTS digitlab;
CREATE TABLE IF NOT EXISTS digitlab.meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS digitlab.studies (
  id SERIAL PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  spec_json TEXT NOT NULL,
  spec_text TEXT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL,
  state TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS digitlab.trials (
  id BIGSERIAL PRIMARY KEY,
  study_id INTEGER NOT NULL REFERENCES digitlab.studies(id) ON DELETE CASCADE,
  number INTEGER NOT NULL,
  key TEXT NOT NULL,
  status TEXT NOT NULL,
  design JSONB NOT NULL,
  optimizer TEXT NOT NULL,
  lr DOUBLE PRECISION NOT NULL,
  options JSONB NOT NULL,
  schedule TEXT,
  augment JSONB,
  seed INTEGER NOT NULL,
  params BIGINT,
  bytes BIGINT,
  best_epoch INTEGER,
  test_accuracy DOUBLE PRECISION,
  test_loss DOUBLE PRECISION,
  converged_epoch INTEGER,
  seconds_to_converge DOUBLE PRECISION,
  seconds DOUBLE PRECISION,
  confusion JSONB,
  model_dir TEXT,
  pruned_reason TEXT,
  error TEXT,
  started_at TIMESTAMPTZ,
  finished_at TIMESTAMPTZ,
  owner TEXT,
  lease_until TIMESTAMPTZ,
  UNIQUE (study_id, number)
);
CREATE INDEX IF NOT EXISTS trials_queue ON digitlab.trials (study_id, status, number);
CREATE TABLE IF NOT EXISTS digitlab.trial_params (
  trial_id BIGINT NOT NULL REFERENCES digitlab.trials(id) ON DELETE CASCADE,
  study_id INTEGER NOT NULL,
  name TEXT NOT NULL,
  value JSONB NOT NULL,
  PRIMARY KEY (trial_id, name)
);
CREATE INDEX IF NOT EXISTS trial_params_study ON digitlab.trial_params (study_id, name);
CREATE TABLE IF NOT EXISTS digitlab.epochs (
  trial_id BIGINT NOT NULL REFERENCES digitlab.trials(id) ON DELETE CASCADE,
  study_id INTEGER NOT NULL,
  epoch INTEGER NOT NULL,
  train_loss DOUBLE PRECISION,
  val_loss DOUBLE PRECISION,
  val_accuracy DOUBLE PRECISION NOT NULL,
  seconds DOUBLE PRECISION NOT NULL,
  lr DOUBLE PRECISION NOT NULL,
  PRIMARY KEY (trial_id, epoch)
);
CREATE INDEX IF NOT EXISTS epochs_study ON digitlab.epochs (study_id);
CREATE TABLE IF NOT EXISTS digitlab.rungs (
  trial_id BIGINT NOT NULL REFERENCES digitlab.trials(id) ON DELETE CASCADE,
  study_id INTEGER NOT NULL,
  rung INTEGER NOT NULL,
  epoch INTEGER NOT NULL,
  metric DOUBLE PRECISION NOT NULL,
  threshold DOUBLE PRECISION NOT NULL,
  competitors INTEGER NOT NULL,
  kept BOOLEAN NOT NULL,
  PRIMARY KEY (trial_id, rung)
);
CREATE INDEX IF NOT EXISTS rungs_study ON digitlab.rungs (study_id, rung);
CREATE TABLE IF NOT EXISTS digitlab.timings (
  trial_id BIGINT NOT NULL REFERENCES digitlab.trials(id) ON DELETE CASCADE,
  study_id INTEGER NOT NULL,
  phase TEXT NOT NULL,
  seconds DOUBLE PRECISION NOT NULL,
  PRIMARY KEY (trial_id, phase)
);
CREATE INDEX IF NOT EXISTS timings_study ON digitlab.timings (study_id);
CREATE TABLE IF NOT EXISTS digitlab.checkpoints (
  trial_id BIGINT PRIMARY KEY REFERENCES digitlab.trials(id) ON DELETE CASCADE,
  epoch INTEGER NOT NULL,
  data BYTEA NOT NULL,
  saved_at TIMESTAMPTZ NOT NULL
);
`;

/** Errors after which the same query may simply be tried again. */
const TRANSIENT_CODES = new Set([
  '40001', // serialization failure
  '25P03', // idle in transaction too long (this process was frozen)
  '40P01', // deadlock detected
  '57P01', // admin shutdown (the server is restarting)
  '57P02', // crash shutdown
  '57P03', // cannot connect now (the server is starting)
  '53300', // too many connections
  '08000', '08001', '08003', '08004', '08006', // connection exceptions
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN',
]);

function isTransient(error: unknown): boolean {
  const e = error as { code?: string; message?: string };
  if (e?.code && TRANSIENT_CODES.has(e.code)) return true;
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|not queryable/i.test(e?.message ?? '');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** JSON columns come back parsed; timestamps as ISO text, as a study folder gives them. */
function iso(value: unknown): string | null {
  return value instanceof Date ? value.toISOString() : value === null || value === undefined ? null : String(value);
}

function trialOf(row: Record<string, unknown>): TrialRow {
  const design = row.design as { hidden: number[]; network: TrialRow['network']; activation: string };
  return {
    id: Number(row.id),
    number: row.number as number,
    key: row.key as string,
    status: row.status as TrialStatus,
    hidden: design.hidden,
    network: design.network,
    activation: design.activation,
    optimizer: row.optimizer as string,
    lr: row.lr as number,
    options: row.options as Record<string, number | boolean>,
    schedule: (row.schedule as string | null) ?? null,
    augment: (row.augment as TrialRow['augment']) ?? null,
    seed: row.seed as number,
    params: row.params === null ? null : Number(row.params),
    bytes: row.bytes === null ? null : Number(row.bytes),
    best_epoch: row.best_epoch as number | null,
    test_accuracy: row.test_accuracy as number | null,
    test_loss: row.test_loss as number | null,
    converged_epoch: row.converged_epoch as number | null,
    seconds_to_converge: row.seconds_to_converge as number | null,
    seconds: row.seconds as number | null,
    confusion: (row.confusion as number[][] | null) ?? null,
    model_dir: row.model_dir as string | null,
    pruned_reason: row.pruned_reason as string | null,
    error: row.error as string | null,
    started_at: iso(row.started_at),
    finished_at: iso(row.finished_at),
  };
}

/** A pool of connections to one database that retries what a restart or a lost connection interrupts. */
class Connection {
  readonly pool: pg.Pool;
  readonly location: string;
  /** How long a failing query is retried. */
  patience = FIRST_RETRY_MS;

  constructor(url: string) {
    this.location = redactUrl(url);
    this.pool = new pg.Pool({
      connectionString: url, max: POOL_SIZE, idleTimeoutMillis: 30_000, connectionTimeoutMillis: 10_000,
      // A process frozen (or cut off) in the middle of a transaction must not hold its row locks, and
      // with them its trials, for longer than a lease: the server ends such a transaction.
      options: `-c idle_in_transaction_session_timeout=${IDLE_IN_TRANSACTION_MS}`,
    });
    // An idle connection the server closed (a restart) is dropped from the pool; the next query opens another.
    this.pool.on('error', () => {});
  }

  /** Runs `work`, again after a transient failure, until it succeeds or the server stays away too long. */
  async retry<T>(work: () => Promise<T>): Promise<T> {
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        return await work();
      } catch (error) {
        if (error instanceof LeaseLostError || !isTransient(error)) throw this.explain(error);
        if (Date.now() - started > this.patience) {
          throw new StudyStorageError(
            `the study database at ${this.location} did not answer for ${Math.round(this.patience / 1000)} s (${(error as Error).message || (error as { code?: string }).code}); ` +
              'is the server running and reachable? Rerun the same command to continue: finished epochs are kept',
          );
        }
        await sleep(Math.min(2000, 50 * 2 ** Math.min(attempt, 6)) * (0.5 + Math.random()));
      }
    }
  }

  private explain(error: unknown): unknown {
    const e = error as { code?: string; message?: string };
    if (e?.code === '28P01' || e?.code === '28000') return new StudyStorageError(`the study database at ${this.location} refused the login: ${e.message}; check the user and password in --storage`);
    if (e?.code === '3D000') return new StudyStorageError(`${e.message} at ${this.location}: create it first (createdb NAME), or name another in --storage`);
    return error;
  }

  query<R extends pg.QueryResultRow = Record<string, unknown>>(sql: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
    return this.retry(() => this.pool.query<R>(sql, values));
  }

  /** One transaction on one connection, retried as a whole. */
  transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.retry(async () => {
      const client = await this.pool.connect();
      let broken = false;
      const onError = () => {
        broken = true;
      };
      client.on('error', onError);
      try {
        await client.query('BEGIN');
        const result = await work(client);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {
          broken = true;
        });
        throw error;
      } finally {
        client.off('error', onError);
        client.release(broken ? true : undefined);
      }
    });
  }

  /** Creates the schema once (several workers may start at the same moment) and checks its version. */
  async prepare(): Promise<void> {
    await this.transaction(async (client) => {
      await client.query("SELECT pg_advisory_xact_lock(hashtext('digitlab schema'))");
      await client.query(SCHEMA);
      const version = await client.query<{ value: string }>("SELECT value FROM digitlab.meta WHERE key = 'schema_version'");
      if (version.rows.length === 0) await client.query("INSERT INTO digitlab.meta (key, value) VALUES ('schema_version', $1)", [String(SCHEMA_VERSION)]);
      else if (Number(version.rows[0].value) !== SCHEMA_VERSION) {
        throw new StudyStorageError(`${this.location} has digitlab storage version ${version.rows[0].value}; this digitlab reads version ${SCHEMA_VERSION}`);
      }
    });
  }

  async hasSchema(): Promise<boolean> {
    const found = await this.query<{ found: string | null }>("SELECT to_regclass('digitlab.studies') AS found");
    return found.rows[0].found !== null;
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

/** The names of the studies in a database (none when digitlab never wrote to it). */
export async function listPostgresStudies(url: string): Promise<string[]> {
  const connection = new Connection(url);
  try {
    if (!(await connection.hasSchema())) return [];
    connection.patience = RETRY_FOR_MS;
    const rows = await connection.query<{ name: string }>('SELECT name FROM digitlab.studies ORDER BY name');
    return rows.rows.map((row) => row.name);
  } finally {
    await connection.close();
  }
}

export class PostgresStudyStorage implements StudyStorage {
  readonly kind = 'postgres';
  readonly keepsCheckpoints = true;
  readonly location: string;
  private studyId: number | null = null;

  private constructor(
    private readonly db: Connection,
    readonly name: string,
  ) {
    this.location = `${db.location}#${name}`;
  }

  static async open(url: string, name: string, options: OpenOptions = {}): Promise<PostgresStudyStorage> {
    const db = new Connection(url);
    try {
      if (options.readonly) {
        if (!(await db.hasSchema())) throw new StudyStorageError(`${db.location} holds no digitlab studies yet; start one with \`digitlab study run SPEC --storage ${db.location}\``);
      } else await db.prepare();
      // reached once: from now on a lost server is waited for
      db.patience = RETRY_FOR_MS;
      const storage = new PostgresStudyStorage(db, name);
      const found = await db.query<{ id: number }>('SELECT id FROM digitlab.studies WHERE name = $1', [name]);
      storage.studyId = found.rows[0]?.id ?? null;
      if (storage.studyId === null && !options.create) {
        const names = (await db.query<{ name: string }>('SELECT name FROM digitlab.studies ORDER BY name')).rows.map((r) => r.name);
        throw new StudyStorageError(`${db.location} holds no study '${name}' (it holds ${names.length ? names.map((n) => `'${n}'`).join(', ') : 'none'})`);
      }
      return storage;
    } catch (error) {
      await db.close();
      throw error;
    }
  }

  private get id(): number {
    if (this.studyId === null) throw new StudyStorageError(`study '${this.name}' is not recorded in ${this.db.location} yet`);
    return this.studyId;
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  async study(): Promise<StudyRow | null> {
    const rows = await this.db.query('SELECT * FROM digitlab.studies WHERE name = $1', [this.name]);
    const row = rows.rows[0];
    if (!row) return null;
    return {
      name: row.name as string, spec: JSON.parse(row.spec_json as string), spec_text: row.spec_text as string,
      created_at: iso(row.created_at) as string, updated_at: iso(row.updated_at) as string, state: row.state as StudyRow['state'],
    };
  }

  async initialize(spec: StudySpec, specText: string, plans: TrialPlan[], extras: (plan: TrialPlan) => TrialExtras): Promise<boolean> {
    if (spec.name !== this.name) throw new StudyStorageError(`the spec is study '${spec.name}', but this storage was opened for '${this.name}'`);
    const specJson = JSON.stringify(spec);
    const prepared = plans.map((plan) => ({ plan, extras: extras(plan) }));
    const { id, created } = await this.db.transaction(async (client) => {
      // one study's first record at a time: the second process waits, then finds it recorded
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`digitlab study ${this.name}`]);
      const existing = await client.query<{ id: number; spec_json: string }>('SELECT id, spec_json FROM digitlab.studies WHERE name = $1', [this.name]);
      if (existing.rows.length > 0) {
        if (existing.rows[0].spec_json !== specJson) {
          throw new StudyStorageError(
            `${this.db.location} holds study '${this.name}' from a different spec; rename the study in the spec, or rerun with the spec it was started with`,
          );
        }
        return { id: existing.rows[0].id, created: false };
      }
      const inserted = await client.query<{ id: number }>(
        "INSERT INTO digitlab.studies (name, spec_json, spec_text, created_at, updated_at, state) VALUES ($1, $2, $3, now(), now(), 'running') RETURNING id",
        [this.name, specJson, specText],
      );
      const studyId = inserted.rows[0].id;
      await this.insertTrials(client, studyId, prepared);
      return { id: studyId, created: true };
    });
    this.studyId = id;
    return created;
  }

  /** Records new trials of study `studyId`, pending. */
  private async insertTrials(client: pg.PoolClient, studyId: number, trials: Array<{ plan: TrialPlan; extras: TrialExtras }>): Promise<void> {
    for (const { plan, extras } of trials) {
      const { settings, layers } = extras;
      const trial = await client.query<{ id: string }>(
        `INSERT INTO digitlab.trials (study_id, number, key, status, design, optimizer, lr, options, schedule, augment, seed)
         VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
        [
          studyId, plan.number, plan.key, JSON.stringify({ layers, hidden: plan.hidden, network: plan.network, activation: plan.activation }),
          plan.optimizer, plan.lr, JSON.stringify(plan.options), plan.schedule ? JSON.stringify(plan.schedule) : null,
          plan.augment ? JSON.stringify(plan.augment) : null, plan.seed,
        ],
      );
      const names = Object.keys(settings);
      await client.query(
        'INSERT INTO digitlab.trial_params (trial_id, study_id, name, value) SELECT $1, $2, name, value FROM unnest($3::text[], $4::jsonb[]) AS p(name, value)',
        [trial.rows[0].id, studyId, names, names.map((n) => JSON.stringify(settings[n] ?? null))],
      );
    }
  }

  async drawTrials(owner: string, leaseMs: number, limit: number, draw: DrawTrials): Promise<TrialRow | null> {
    const claimed = await this.db.transaction(async (client) => {
      // one draw of this study at a time: numbers are given once, and each draw sees the trials before it
      await client.query('SELECT pg_advisory_xact_lock($1, 2)', [this.id]);
      const pendingSql = "SELECT id FROM digitlab.trials WHERE study_id = $1 AND status = 'pending' ORDER BY number LIMIT 1 FOR UPDATE SKIP LOCKED";
      let pending = (await client.query<{ id: string }>(pendingSql, [this.id])).rows[0];
      if (!pending) {
        const trials = (await client.query<{ id: string; number: number; status: TrialStatus; params: Record<string, number> | null; best: number | null }>(
          `SELECT t.id, t.number, t.status, p.value AS params, (SELECT max(e.val_accuracy) FROM digitlab.epochs e WHERE e.trial_id = t.id) AS best
           FROM digitlab.trials t LEFT JOIN digitlab.trial_params p ON p.trial_id = t.id AND p.name = 'search_params'
           WHERE t.study_id = $1 ORDER BY t.number`,
          [this.id],
        )).rows;
        if (trials.length >= limit) return null;
        const next = trials.length === 0 ? 1 : trials[trials.length - 1].number + 1;
        const drawn = draw(next, trials.map((t) => ({ number: t.number, status: t.status, params: t.params, bestValAccuracy: t.best })));
        await this.insertTrials(client, this.id, drawn.slice(0, limit - trials.length));
        pending = (await client.query<{ id: string }>(pendingSql, [this.id])).rows[0];
        if (!pending) return null;
      }
      await client.query(
        "UPDATE digitlab.trials SET status = 'running', owner = $1, lease_until = now() + $2 * interval '1 millisecond', started_at = COALESCE(started_at, now()) WHERE id = $3",
        [owner, leaseMs, pending.id],
      );
      return pending.id;
    });
    return claimed === null ? null : this.trial(Number(claimed));
  }

  async setStudyState(state: StudyRow['state']): Promise<void> {
    await this.db.query('UPDATE digitlab.studies SET state = $1, updated_at = now() WHERE id = $2', [state, this.id]);
  }

  async trials(): Promise<TrialRow[]> {
    return (await this.db.query('SELECT * FROM digitlab.trials WHERE study_id = $1 ORDER BY number', [this.id])).rows.map(trialOf);
  }

  async trial(id: number): Promise<TrialRow | null> {
    const row = (await this.db.query('SELECT * FROM digitlab.trials WHERE id = $1 AND study_id = $2', [id, this.id])).rows[0];
    return row ? trialOf(row) : null;
  }

  async epochs(trialId?: number): Promise<StoredEpoch[]> {
    const rows =
      trialId === undefined
        ? await this.db.query('SELECT trial_id, epoch, train_loss, val_loss, val_accuracy, seconds, lr FROM digitlab.epochs WHERE study_id = $1 ORDER BY trial_id, epoch', [this.id])
        : await this.db.query('SELECT trial_id, epoch, train_loss, val_loss, val_accuracy, seconds, lr FROM digitlab.epochs WHERE trial_id = $1 ORDER BY epoch', [trialId]);
    return rows.rows.map((row) => ({
      trial_id: Number(row.trial_id), epoch: row.epoch as number, train_loss: (row.train_loss as number | null) ?? NaN, val_loss: (row.val_loss as number | null) ?? NaN,
      val_accuracy: row.val_accuracy as number, seconds: row.seconds as number, lr: row.lr as number,
    }));
  }

  async rungs(): Promise<RungRow[]> {
    const rows = await this.db.query<RungRow>('SELECT trial_id, rung, epoch, metric, threshold, competitors, kept FROM digitlab.rungs WHERE study_id = $1 ORDER BY rung, trial_id', [this.id]);
    // BIGINT ids come back as text
    return rows.rows.map((row) => ({ ...row, trial_id: Number(row.trial_id) }));
  }

  async timings(): Promise<Array<{ trial_id: number; phase: string; seconds: number }>> {
    const rows = await this.db.query('SELECT trial_id, phase, seconds FROM digitlab.timings WHERE study_id = $1 ORDER BY trial_id, phase', [this.id]);
    return rows.rows.map((row) => ({ trial_id: Number(row.trial_id), phase: row.phase as string, seconds: row.seconds as number }));
  }

  async params(trialId: number): Promise<Record<string, unknown>> {
    const rows = await this.db.query('SELECT name, value FROM digitlab.trial_params WHERE trial_id = $1', [trialId]);
    return Object.fromEntries(rows.rows.map((row) => [row.name as string, row.value]));
  }

  async paramOfAll(name: string): Promise<Map<number, unknown>> {
    const rows = await this.db.query('SELECT trial_id, value FROM digitlab.trial_params WHERE study_id = $1 AND name = $2', [this.id, name]);
    return new Map(rows.rows.map((row) => [Number(row.trial_id), row.value]));
  }

  async claimNext(owner: string, leaseMs: number, isGone: (owner: string) => boolean): Promise<TrialRow | null> {
    const claimed = await this.db.transaction(async (client) => {
      const lease = [owner, leaseMs];
      const held = await client.query<{ id: string }>(
        "UPDATE digitlab.trials SET lease_until = now() + $2 * interval '1 millisecond' WHERE study_id = $3 AND owner = $1 AND status = 'running' RETURNING id",
        [...lease, this.id],
      );
      if (held.rows.length > 0) return held.rows[0].id;
      // the first trial no one holds: pending, or running under a lease that ran out
      let free = await client.query<{ id: string }>(
        `SELECT id FROM digitlab.trials WHERE study_id = $1
           AND (status = 'pending' OR (status = 'running' AND (owner IS NULL OR lease_until IS NULL OR lease_until < now())))
         ORDER BY number LIMIT 1 FOR UPDATE SKIP LOCKED`,
        [this.id],
      );
      if (free.rows.length === 0) {
        // … or one whose owner is known to be dead (a process of this machine that no longer exists)
        const others = await client.query<{ id: string; owner: string }>("SELECT id, owner FROM digitlab.trials WHERE study_id = $1 AND status = 'running' AND owner IS NOT NULL ORDER BY number", [this.id]);
        const dead = others.rows.find((row) => isGone(row.owner));
        if (!dead) return null;
        free = await client.query<{ id: string }>("SELECT id FROM digitlab.trials WHERE id = $1 AND owner = $2 AND status = 'running' FOR UPDATE SKIP LOCKED", [dead.id, dead.owner]);
        if (free.rows.length === 0) return null;
      }
      await client.query(
        "UPDATE digitlab.trials SET status = 'running', owner = $1, lease_until = now() + $2 * interval '1 millisecond', started_at = COALESCE(started_at, now()) WHERE id = $3",
        [...lease, free.rows[0].id],
      );
      return free.rows[0].id;
    });
    return claimed === null ? null : this.trial(Number(claimed));
  }

  async renewLeases(owners: readonly string[], leaseMs: number): Promise<number[]> {
    const rows = await this.db.query<{ id: string }>(
      "UPDATE digitlab.trials SET lease_until = now() + $2 * interval '1 millisecond' WHERE study_id = $3 AND status = 'running' AND owner = ANY($1) RETURNING id",
      [owners, leaseMs, this.id],
    );
    return rows.rows.map((row) => Number(row.id));
  }

  async othersAtWork(owners: readonly string[]): Promise<boolean> {
    const rows = await this.db.query(
      "SELECT 1 FROM digitlab.trials WHERE study_id = $1 AND status = 'running' AND owner IS NOT NULL AND NOT (owner = ANY($2)) AND lease_until >= now() LIMIT 1",
      [this.id, owners],
    );
    return rows.rows.length > 0;
  }

  async othersLeft(owners: readonly string[]): Promise<boolean> {
    const rows = await this.db.query(
      "SELECT 1 FROM digitlab.trials WHERE study_id = $1 AND status IN ('pending', 'running') AND (owner IS NULL OR NOT (owner = ANY($2))) LIMIT 1",
      [this.id, owners],
    );
    return rows.rows.length > 0;
  }

  async requeueFailed(): Promise<void> {
    await this.db.query("UPDATE digitlab.trials SET status = 'pending', owner = NULL, lease_until = NULL WHERE study_id = $1 AND status = 'failed'", [this.id]);
  }

  /** Locks the trial's row for this transaction and throws LeaseLostError unless `owner` trains it. */
  private async checkOwner(client: pg.PoolClient, trialId: number, owner: string): Promise<void> {
    const row = await client.query("SELECT 1 FROM digitlab.trials WHERE id = $1 AND owner = $2 AND status = 'running' FOR SHARE", [trialId, owner]);
    if (row.rows.length === 0) throw new LeaseLostError(trialId);
  }

  async markInterrupted(trialId: number, owner: string): Promise<void> {
    await this.db.query("UPDATE digitlab.trials SET status = 'pending', owner = NULL, lease_until = NULL WHERE id = $1 AND owner = $2 AND status = 'running'", [trialId, owner]);
  }

  private async insertEpoch(client: pg.PoolClient, trialId: number, e: EpochRecord): Promise<void> {
    if (e.val_accuracy === null) throw new Error(`trial ${trialId}: epoch ${e.epoch} has no validation accuracy; a study's trials must hold out validation images`);
    await client.query(
      `INSERT INTO digitlab.epochs (trial_id, study_id, epoch, train_loss, val_loss, val_accuracy, seconds, lr) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (trial_id, epoch) DO UPDATE SET train_loss = EXCLUDED.train_loss, val_loss = EXCLUDED.val_loss,
         val_accuracy = EXCLUDED.val_accuracy, seconds = EXCLUDED.seconds, lr = EXCLUDED.lr`,
      [trialId, this.id, e.epoch, finiteOrNull(e.train_loss), finiteOrNull(e.val_loss), e.val_accuracy, e.seconds, e.lr],
    );
  }

  async resumeEpochs(trialId: number, owner: string, history: EpochRecord[]): Promise<void> {
    await this.db.transaction(async (client) => {
      await this.checkOwner(client, trialId, owner);
      const last = history.length ? history[history.length - 1].epoch : 0;
      await client.query('DELETE FROM digitlab.epochs WHERE trial_id = $1 AND epoch > $2', [trialId, last]);
      await client.query('DELETE FROM digitlab.rungs WHERE trial_id = $1 AND epoch > $2', [trialId, last]);
      for (const record of history) await this.insertEpoch(client, trialId, record);
    });
  }

  async recordEpoch(trialId: number, owner: string, e: EpochRecord): Promise<void> {
    await this.db.transaction(async (client) => {
      await this.checkOwner(client, trialId, owner);
      await this.insertEpoch(client, trialId, e);
    });
  }

  async decideRung(
    trialId: number, owner: string, rung: { index: number; epoch: number; metric: number; reduction: number },
    pruned: (reason: string) => TrialOutcome,
  ): Promise<RungDecision> {
    return this.db.transaction(async (client) => {
      // one verdict of this study at a time, each against the rungs of the trials numbered before it
      await client.query('SELECT pg_advisory_xact_lock($1, 1)', [this.id]);
      await this.checkOwner(client, trialId, owner);
      const earlier = await client.query(
        `SELECT r.trial_id, r.rung, r.epoch, r.metric, r.threshold, r.competitors, r.kept FROM digitlab.rungs r JOIN digitlab.trials t ON t.id = r.trial_id
         WHERE r.study_id = $1 AND t.number < (SELECT number FROM digitlab.trials WHERE id = $2) ORDER BY r.rung, r.trial_id`,
        [this.id, trialId],
      );
      const rows = earlier.rows.map((row) => ({ ...(row as RungRow), trial_id: Number(row.trial_id) }));
      const decision = new RungBook(rung.reduction, rows).decide(trialId, rung.index, rung.epoch, rung.metric);
      const row = decision.row;
      await client.query(
        `INSERT INTO digitlab.rungs (trial_id, study_id, rung, epoch, metric, threshold, competitors, kept) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (trial_id, rung) DO UPDATE SET epoch = EXCLUDED.epoch, metric = EXCLUDED.metric, threshold = EXCLUDED.threshold,
           competitors = EXCLUDED.competitors, kept = EXCLUDED.kept`,
        [trialId, this.id, row.rung, row.epoch, row.metric, row.threshold, row.competitors, row.kept],
      );
      if (!row.kept) await this.finishOn(client, trialId, pruned(decision.reason ?? ''));
      return decision;
    });
  }

  async earlierAtWork(trialId: number, rung: number): Promise<boolean> {
    const rows = await this.db.query(
      `SELECT 1 FROM digitlab.trials t WHERE t.study_id = $1 AND t.number < (SELECT number FROM digitlab.trials WHERE id = $2)
         AND t.status = 'running' AND t.lease_until >= now() AND NOT EXISTS (SELECT 1 FROM digitlab.rungs r WHERE r.trial_id = t.id AND r.rung = $3) LIMIT 1`,
      [this.id, trialId, rung],
    );
    return rows.rows.length > 0;
  }

  async recordTimings(trialId: number, timings: Record<string, number>): Promise<void> {
    const phases = Object.keys(timings);
    await this.db.query(
      `INSERT INTO digitlab.timings (trial_id, study_id, phase, seconds) SELECT $1, $2, phase, seconds FROM unnest($3::text[], $4::float8[]) AS t(phase, seconds)
       ON CONFLICT (trial_id, phase) DO UPDATE SET seconds = EXCLUDED.seconds`,
      [trialId, this.id, phases, phases.map((p) => timings[p])],
    );
  }

  async finish(trialId: number, owner: string | null, outcome: TrialOutcome): Promise<void> {
    await this.db.transaction(async (client) => {
      if (owner !== null) await this.checkOwner(client, trialId, owner);
      await this.finishOn(client, trialId, outcome);
    });
  }

  private async finishOn(client: pg.PoolClient, trialId: number, outcome: TrialOutcome): Promise<void> {
    await client.query(
      `UPDATE digitlab.trials SET status = $1, params = $2, bytes = $3, best_epoch = $4, test_accuracy = $5, test_loss = $6, converged_epoch = $7,
         seconds_to_converge = $8, seconds = $9, confusion = $10, model_dir = $11, pruned_reason = $12, error = $13, finished_at = now(), lease_until = NULL
       WHERE id = $14`,
      [
        outcome.status, outcome.params, outcome.bytes, outcome.bestEpoch, outcome.testAccuracy,
        outcome.testLoss === null ? null : finiteOrNull(outcome.testLoss), outcome.convergedEpoch, outcome.secondsToConverge,
        outcome.seconds, outcome.confusion ? JSON.stringify(outcome.confusion) : null, outcome.modelDir, outcome.prunedReason, outcome.error, trialId,
      ],
    );
    // a finished trial resumes no more: its checkpoint has served
    if (outcome.status !== 'failed') await client.query('DELETE FROM digitlab.checkpoints WHERE trial_id = $1', [trialId]);
  }

  async saveCheckpoint(trialId: number, owner: string, epoch: number, bytes: Uint8Array): Promise<void> {
    await this.db.transaction(async (client) => {
      await this.checkOwner(client, trialId, owner);
      await client.query(
        `INSERT INTO digitlab.checkpoints (trial_id, epoch, data, saved_at) VALUES ($1, $2, $3, now())
         ON CONFLICT (trial_id) DO UPDATE SET epoch = EXCLUDED.epoch, data = EXCLUDED.data, saved_at = EXCLUDED.saved_at`,
        [trialId, epoch, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)],
      );
    });
  }

  async loadCheckpoint(trialId: number): Promise<{ epoch: number; bytes: Buffer } | null> {
    const rows = await this.db.query<{ epoch: number; data: Buffer }>('SELECT epoch, data FROM digitlab.checkpoints WHERE trial_id = $1', [trialId]);
    return rows.rows[0] ? { epoch: rows.rows[0].epoch, bytes: rows.rows[0].data } : null;
  }
}
