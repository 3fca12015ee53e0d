/**
 * Load test of a study shared through PostgreSQL: how fast trials are claimed when many workers
 * want them, and whether anything breaks (a deadlock, a connection error, a trial claimed twice).
 *
 *   1. claims: P processes (default 8), each with its own connection pool, loop claim → record an
 *      epoch → keep a checkpoint (64 KiB) → finish, on one study of N trials (default 4,000): claims/s
 *      overall and for each quarter of the study (a queue that slows as trials pile up shows here),
 *      and the claim latency's median and 99th percentile.
 *   2. workers: W `digitlab study worker` processes (default 8, one lane each) on one study of T tiny
 *      trials (default 48: a 4-unit MLP, 200 training images, one epoch): trials/s end to end.
 *
 * Both check that every trial finished exactly once and count the connections the database saw.
 * The server is the one at --storage (a database digitlab may fill), or else one started for the
 * run with scripts/test-postgres.sh in a temporary folder.
 *
 *   node --import tsx bench/study-claims.ts [--storage URL] [--processes 8] [--trials 4000] [--workers 8] [--tiny 48] [--json]
 *
 * With --json the figures go to stdout as one JSON object (the benchmark suite reads them).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { expandTrials, parseStudySpec } from '../src/study/spec.js';
import { PostgresStudyStorage } from '../src/study/storage-postgres.js';
import type { TrialOutcome } from '../src/study/storage.js';
import { createDatabase, freePort } from '../test/study/postgres-server.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    storage: { type: 'string' },
    processes: { type: 'string', default: '8' },
    trials: { type: 'string', default: '4000' },
    workers: { type: 'string', default: '8' },
    tiny: { type: 'string', default: '48' },
    claimer: { type: 'string' },
    database: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const log = (line: string) => process.stderr.write(`${line}\n`);

const DONE: TrialOutcome = {
  status: 'done', params: 50, bytes: 200, bestEpoch: 1, testAccuracy: 0.5, testLoss: 1, convergedEpoch: null, secondsToConverge: null,
  seconds: 0.01, confusion: null, modelDir: null, prunedReason: null, error: null,
};

/** One claiming process: claims until none is left, then prints what it did as JSON. */
async function claimer(url: string, tag: string): Promise<void> {
  const store = await PostgresStudyStorage.open(url, 'claims');
  const owner = `bench:${process.pid}:${tag}/1`;
  const checkpoint = new Uint8Array(64 * 1024).fill(7);
  const claimed: Array<{ number: number; ms: number; at: number }> = [];
  const errors: string[] = [];
  for (;;) {
    const started = performance.now();
    let trial;
    try {
      trial = await store.claimNext(owner, 60_000, () => false);
    } catch (error) {
      errors.push((error as Error).message);
      break;
    }
    const ms = performance.now() - started;
    if (!trial) break;
    claimed.push({ number: trial.number, ms, at: Date.now() });
    try {
      await store.recordEpoch(trial.id, owner, { epoch: 1, train_loss: 1, val_loss: 1, val_accuracy: 0.5, seconds: 0.01, lr: 0.001 });
      await store.saveCheckpoint(trial.id, owner, 1, checkpoint);
      await store.finish(trial.id, owner, DONE);
    } catch (error) {
      errors.push((error as Error).message);
    }
  }
  await store.close();
  process.stdout.write(JSON.stringify({ claimed, errors }));
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Highest number of connections to `database` seen while `work` runs (sampled every 20 ms). */
async function watchConnections<T>(serverUrl: string, database: string, work: () => Promise<T>): Promise<{ result: T; peak: number }> {
  const watcher = new pg.Client({ connectionString: serverUrl });
  await watcher.connect();
  let peak = 0;
  let watching = true;
  const sampling = (async () => {
    while (watching) {
      const rows = await watcher.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [database]);
      peak = Math.max(peak, rows.rows[0].n);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  try {
    const result = await work();
    return { result, peak };
  } finally {
    watching = false;
    await sampling;
    await watcher.end();
  }
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

async function main(): Promise<void> {
  if (values.claimer !== undefined) return claimer(values.database as string, values.claimer);
  const processes = Number(values.processes);
  const trials = Number(values.trials);
  const workers = Number(values.workers);
  const tiny = Number(values.tiny);
  let serverDir: string | null = null;
  let serverUrl = values.storage;
  if (!serverUrl) {
    serverDir = mkdtempSync(join(tmpdir(), 'digitlab-bench-postgres-'));
    serverUrl = execFileSync('bash', [join(root, 'scripts', 'test-postgres.sh'), 'start', serverDir, String(await freePort())], { encoding: 'utf8' }).trim();
  }
  const work = mkdtempSync(join(tmpdir(), 'digitlab-bench-claims-'));
  const failures: string[] = [];
  const summary: Record<string, unknown> = { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length };
  try {
    log(`CPU: ${cpus()[0]?.model ?? 'unknown'}, ${cpus().length} cores; PostgreSQL at ${serverUrl.replace(/:[^:@/]*@/, ':***@')}`);

    // 1. claims
    const url = await createDatabase(serverUrl, 'bench_claims');
    const text = `name: claims\ndata: mnist\nepochs: 1\nseeds: [${Array.from({ length: trials }, (_, i) => i + 1).join(', ')}]\nspace:\n  - hidden: [[4]]\n`;
    const spec = parseStudySpec(text, 'claims.yaml');
    const setup = await PostgresStudyStorage.open(url, 'claims', { create: true });
    await setup.initialize(spec, text, expandTrials(spec), () => ({ settings: { hidden: [4] }, layers: 'linear 4, relu, linear 10' }));
    await setup.close();
    const started = Date.now();
    const { result: outputs, peak } = await watchConnections(serverUrl, 'bench_claims', () =>
      Promise.all(Array.from({ length: processes }, (_, i) => run(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--claimer', String(i), '--database', url]))),
    );
    const wall = (Date.now() - started) / 1000;
    const reports = outputs.map((o, i) => {
      if (o.code !== 0) failures.push(`claimer ${i} exited with ${o.code}: ${o.stderr.slice(-500)}`);
      try {
        return JSON.parse(o.stdout) as { claimed: Array<{ number: number; ms: number; at: number }>; errors: string[] };
      } catch {
        return { claimed: [], errors: [`claimer ${i} printed no report`] };
      }
    });
    const claimed = reports.flatMap((r) => r.claimed);
    const errors = reports.flatMap((r) => r.errors);
    const numbers = claimed.map((c) => c.number).sort((a, b) => a - b);
    const once = numbers.length === trials && numbers.every((n, i) => n === i + 1);
    if (!once) failures.push(`claims: ${numbers.length} claims of ${trials} trials, ${new Set(numbers).size} distinct`);
    if (errors.length > 0) failures.push(`claims: ${errors.length} errors, first: ${errors[0]}`);
    const byTime = claimed.map((c) => c.at).sort((a, b) => a - b);
    // from the first claim to the last: the processes' start-up (loading TypeScript) is not the database's time
    const seconds = byTime.length > 1 ? (byTime[byTime.length - 1] - byTime[0]) / 1000 : wall;
    const quarters = [0, 1, 2, 3].map((q) => {
      const part = byTime.slice(Math.floor((q * byTime.length) / 4), Math.floor(((q + 1) * byTime.length) / 4));
      return part.length > 1 ? (part.length - 1) / ((part[part.length - 1] - part[0]) / 1000) : NaN;
    });
    const latencies = claimed.map((c) => c.ms).sort((a, b) => a - b);
    log(`claims: ${processes} processes, ${trials} trials in ${seconds.toFixed(1)} s from the first claim to the last (${wall.toFixed(1)} s with start-up): ${(trials / seconds).toFixed(0)} claims/s ` +
      `(each with an epoch, a 64 KiB checkpoint and a finish); by quarter ${quarters.map((q) => q.toFixed(0)).join(' / ')} claims/s; ` +
      `claim latency median ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms; ` +
      `peak ${peak} connections; every trial once: ${once}; errors: ${errors.length}`);
    summary.claims = {
      processes, trials, seconds, wall_seconds: wall, claims_per_second: trials / seconds, claims_per_second_by_quarter: quarters,
      latency_ms: { median: percentile(latencies, 50), p99: percentile(latencies, 99) }, peak_connections: peak, every_trial_once: once, errors: errors.length,
    };

    // 2. workers
    const workersUrl = await createDatabase(serverUrl, 'bench_workers');
    const seeds = Array.from({ length: tiny }, (_, i) => i + 1).join(', ');
    const tinySpec = join(work, 'tiny.yaml');
    writeFileSync(tinySpec, `name: tiny\ndata: mnist\nvalidation: 200\ntrain_subset: 200\nepochs: 1\nbatch_size: 50\nseeds: [${seeds}]\nspace:\n  - hidden: [[4]]\n`);
    const cli = join(root, 'bin', 'digitlab.js');
    const workersStarted = Date.now();
    const first = run(process.execPath, [cli, 'study', 'run', tinySpec, '--storage', workersUrl, '--out', join(work, 'w0'), '--workers', '1']);
    // the others join once the study is recorded
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const { result: ran, peak: workerPeak } = await watchConnections(serverUrl, 'bench_workers', () =>
      Promise.all([
        first,
        ...Array.from({ length: workers - 1 }, (_, i) =>
          run(process.execPath, [cli, 'study', 'worker', '--storage', workersUrl, '--study', 'tiny', '--out', join(work, `w${i + 1}`), '--workers', '1'])),
      ]),
    );
    const workerSeconds = (Date.now() - workersStarted) / 1000;
    ran.forEach((o, i) => {
      if (o.code !== 0) failures.push(`worker ${i} exited with ${o.code}: ${o.stderr.slice(-500)}`);
    });
    const finished = ran.flatMap((o) => [...o.stderr.matchAll(/\[(\d+)\/\d+\] [^\n]*: done/g)].map((m) => Number(m[1]))).sort((a, b) => a - b);
    const workersOnce = finished.length === tiny && finished.every((n, i) => n === i + 1);
    if (!workersOnce) failures.push(`workers: ${finished.length} trials finished of ${tiny}`);
    const busy = ran.filter((o) => /: done/.test(o.stderr)).length;
    log(`workers: ${workers} \`study worker\` processes, ${tiny} tiny trials in ${workerSeconds.toFixed(1)} s (${(tiny / workerSeconds).toFixed(1)} trials/s, ` +
      `${busy} of ${workers} processes trained some); peak ${workerPeak} connections; every trial once: ${workersOnce}`);
    summary.workers = { workers, trials: tiny, seconds: workerSeconds, trials_per_second: tiny / workerSeconds, busy, peak_connections: workerPeak, every_trial_once: workersOnce };
  } finally {
    rmSync(work, { recursive: true, force: true });
    if (serverDir) {
      execFileSync('bash', [join(root, 'scripts', 'test-postgres.sh'), 'stop', serverDir], { stdio: 'ignore' });
      rmSync(serverDir, { recursive: true, force: true });
    }
  }
  summary.failures = failures;
  if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  if (failures.length > 0) {
    for (const failure of failures) log(`FAIL ${failure}`);
    process.exit(1);
  }
}

await main();
