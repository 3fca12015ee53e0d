import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { openStudy, type StudyResults } from '../../src/study/results.js';
import { parseStudySpec } from '../../src/study/spec.js';
import { openStudyStorage } from '../../src/study/open-storage.js';
import { StudyStorageError } from '../../src/study/storage.js';
import { PostgresStudyStorage } from '../../src/study/storage-postgres.js';
import { assertCleanFailure, digitlab, digitlabProcess, writeSmallIdx } from '../cli/helpers.js';
import { checkClaims } from './claims.js';
import { postgresSkip, testPostgres, type TestPostgres } from './postgres-server.js';

const dir = mkdtempSync(join(tmpdir(), 'digitlab-postgres-study-'));
const small = join(dir, 'small');
let server: TestPostgres;
/** The database of the study three workers shared (for the faces that read it). */
let sharedUrl = '';

const SPEC = `name: shared
data: idx:${small}
validation: 1000
epochs: 4
batch_size: 32
seeds: [1, 2]
space:
  - layers: [1, 2]
    nodes: [48]
  - hidden: [[48]]
    optimizer: rmsprop
    lr: 0.001
`;

function writeSpec(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, body);
  return path;
}

/** The table without its timing columns: what two runs of the same study must agree on. */
function comparable(results: StudyResults) {
  return results.trials.map((t) => ({
    number: t.number, status: t.status, hidden: t.hidden, optimizer: t.optimizer, lr: t.lr, seed: t.seed, params: t.params, bytes: t.bytes,
    bestValAccuracy: t.bestValAccuracy, testAccuracy: t.testAccuracy, testLoss: t.testLoss, bestEpoch: t.bestEpoch, convergedEpoch: t.convergedEpoch,
    confusion: t.confusion, epochs: t.epochs.map(({ seconds: _seconds, ...rest }) => rest),
  }));
}

/** A running command line: its exit and everything it printed on stderr, as it comes. */
function start(args: string[]) {
  const child = digitlabProcess(args);
  const run = { child, stderr: '', stdout: '', exit: null as Promise<number | null> | null };
  child.stderr.on('data', (chunk) => (run.stderr += chunk));
  child.stdout.on('data', (chunk) => (run.stdout += chunk));
  run.exit = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  return run;
}

const until = async (condition: () => boolean, what: string, ms = 120_000, detail: () => string = () => '') => {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > ms) throw new Error(`timed out waiting for ${what}${detail()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};

/**
 * Stops (SIGSTOP) a worker process at a moment it is part-way through a trial, as the database
 * says: a trial it owns, running, with an epoch and a checkpoint committed, and epochs to go. Between
 * trials it is let go on (SIGCONT) and tried again. Returns that trial's number.
 */
async function stopMidTrial(run: ReturnType<typeof start>, url: string): Promise<number> {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    for (let attempt = 0; attempt < 2000; attempt++) {
      if (/: epoch \d\/4/.test(run.stderr)) {
        run.child.kill('SIGSTOP');
        const found = await db.query<{ number: number }>(
          `SELECT t.number FROM digitlab.trials t JOIN digitlab.checkpoints c ON c.trial_id = t.id
           WHERE t.status = 'running' AND t.owner LIKE $1 AND (SELECT max(epoch) FROM digitlab.epochs e WHERE e.trial_id = t.id) < 4`,
          [`%:${run.child.pid}:%`],
        );
        if (found.rows.length > 0) return found.rows[0].number;
        run.child.kill('SIGCONT');
      }
      await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 80));
    }
    throw new Error('the worker was never caught part-way through a trial');
  } finally {
    await db.end();
  }
}

const doneNumbers = (stderr: string) => [...stderr.matchAll(/\[(\d+)\/6\] [^\n]*: done/g)].map((m) => Number(m[1]));

describe('studies in PostgreSQL', { skip: postgresSkip }, () => {
  let reference: StudyResults;
  before(async () => {
    writeSmallIdx(small, 9000, 500);
    server = await testPostgres();
    // the same spec trained by one process on SQLite: what every shared run must end with
    const out = join(dir, 'reference');
    const run = digitlab(['study', 'run', writeSpec('reference.yaml', SPEC), '--out', out, '--workers', '1'], { timeout: 240_000 });
    assert.equal(run.status, 0, run.stderr);
    reference = await openStudy(out);
  });
  after(() => {
    server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the claiming rules of a study folder', async () => {
    const url = await server.database('claims');
    const text = SPEC.replace('name: shared', 'name: claims').replace('seeds: [1, 2]', 'seeds: [1]').replace(/space:[\s\S]*/, 'space:\n  - hidden: [[8], [16], [24]]\n');
    const spec = parseStudySpec(text, 'claims.yaml');
    const store = await openStudyStorage(url, { create: true, study: 'claims' });
    try {
      await checkClaims(store, spec, text);
    } finally {
      await store.close();
    }
  });

  it('gives every trial to one of many claimers racing for it, with bounded connections', async () => {
    const url = await server.database('race');
    const trials = Array.from({ length: 60 }, (_, i) => `[${8 + i}]`).join(', ');
    const text = SPEC.replace('name: shared', 'name: race').replace('seeds: [1, 2]', 'seeds: [1]').replace(/space:[\s\S]*/, `space:\n  - hidden: [${trials}]\n`);
    const spec = parseStudySpec(text, 'race.yaml');
    const { expandTrials } = await import('../../src/study/spec.js');
    // 8 claimers, each with its own pool (as 8 processes would have), record the study at the same moment
    const stores = await Promise.all(Array.from({ length: 8 }, () => PostgresStudyStorage.open(url, 'race', { create: true })));
    try {
      const created = await Promise.all(stores.map((s) => s.initialize(spec, text, expandTrials(spec), () => ({ settings: {}, layers: 'linear 10' }))));
      assert.equal(created.filter(Boolean).length, 1, 'the study and its trials are recorded once');
      const claimed = await Promise.all(
        stores.map(async (store, i) => {
          const mine: number[] = [];
          for (;;) {
            const trial = await store.claimNext(`host:${i}:race/1`, 60_000, () => false);
            if (!trial) return mine;
            mine.push(trial.number);
            await store.recordEpoch(trial.id, `host:${i}:race/1`, { epoch: 1, train_loss: 1, val_loss: 1, val_accuracy: 0.5, seconds: 0, lr: 0.001 });
            await store.finish(trial.id, `host:${i}:race/1`, {
              status: 'done', params: 1, bytes: 4, bestEpoch: 1, testAccuracy: 0.5, testLoss: 1, convergedEpoch: null, secondsToConverge: null,
              seconds: 0, confusion: null, modelDir: null, prunedReason: null, error: null,
            });
          }
        }),
      );
      const all = claimed.flat().sort((a, b) => a - b);
      assert.deepEqual(all, Array.from({ length: 60 }, (_, i) => i + 1), 'each trial claimed exactly once');
      assert.ok(claimed.filter((mine) => mine.length > 0).length > 1, 'the claimers shared the work');
      const check = new pg.Client({ connectionString: url });
      await check.connect();
      try {
        const connections = await check.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = 'race'");
        assert.ok(connections.rows[0].n <= 8 * 4 + 1, `${connections.rows[0].n} connections for 8 claimers`);
      } finally {
        await check.end();
      }
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('numbers the trials a sampled search draws without a gap or a repeat, however many workers draw at once', async () => {
    const url = await server.database('draws');
    const text = `name: draws\ndata: mnist\nepochs: 1\nseeds: [1, 2]\nsearch: tpe\nbudget: { trials: 41 }\nspace:\n  - hidden: [[8]]\n    lr: { log: [0.001, 0.1] }\n`;
    const spec = parseStudySpec(text, 'draws.yaml');
    const { drawDesign, drawnTrials } = await import('../../src/study/sampler.js');
    const stores = await Promise.all(Array.from({ length: 8 }, () => PostgresStudyStorage.open(url, 'draws', { create: true })));
    try {
      await Promise.all(stores.map((s) => s.initialize(spec, text, [], () => ({ settings: {}, layers: 'linear 10' }))));
      const claimed = await Promise.all(stores.map(async (store, i) => {
        const owner = `host:${i}:draws/1`;
        const mine: number[] = [];
        for (;;) {
          const trial = await store.drawTrials(owner, 60_000, 41, (next, trials) => {
            const finished = trials.flatMap((t) => (t.params && t.status === 'done' ? [{ params: t.params, score: t.bestValAccuracy ?? 0 }] : []));
            const { design, params } = drawDesign(spec, next, finished);
            return drawnTrials(spec, next, design, 41 - trials.length).map((plan) => ({ plan, extras: { settings: { search_params: params }, layers: 'linear 10' } }));
          });
          if (!trial) return mine;
          mine.push(trial.number);
          await store.recordEpoch(trial.id, owner, { epoch: 1, train_loss: 1, val_loss: 1, val_accuracy: trial.lr, seconds: 0, lr: trial.lr });
          await store.finish(trial.id, owner, {
            status: 'done', params: 1, bytes: 4, bestEpoch: 1, testAccuracy: 0.5, testLoss: 1, convergedEpoch: null, secondsToConverge: null,
            seconds: 0, confusion: null, modelDir: null, prunedReason: null, error: null,
          });
        }
      }));
      assert.deepEqual(claimed.flat().sort((a, b) => a - b), Array.from({ length: 41 }, (_, i) => i + 1));
      const trials = await stores[0].trials();
      assert.deepEqual(trials.map((t) => t.seed), Array.from({ length: 41 }, (_, i) => (i % 2) + 1), 'one trial per seed of each design, the last cut by the budget');
      for (let i = 0; i + 1 < 41; i += 2) assert.equal(trials[i].lr, trials[i + 1].lr);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('names the database that is missing, or the server that does not answer', async () => {
    const url = await server.database('present');
    const missing = new URL(url);
    missing.pathname = '/absent';
    await assert.rejects(openStudyStorage(missing.toString(), { create: true, study: 'x' }), (e: Error) => e instanceof StudyStorageError && /database "absent" does not exist .*createdb/.test(e.message));
    const secret = new URL(url);
    secret.password = 'hunter2';
    secret.port = '1';
    await assert.rejects(openStudyStorage(secret.toString(), { create: true, study: 'x' }), (e: Error) => /did not answer for 5 s .*is the server running/.test(e.message) && !e.message.includes('hunter2'));
    await assert.rejects(openStudyStorage(url, { readonly: true, study: 'x' }), /holds no digitlab studies yet/);
    const worker = digitlab(['study', 'worker', '--storage', url]);
    assert.equal(assertCleanFailure(worker, /--storage postgres:\/\/.*present holds no study yet: start it with `digitlab study run SPEC --storage/), null);
  });

  it('trains one study on three worker processes, one SIGKILLed part-way through a trial: every trial once, the killed one resumed from the checkpoint in the database', async () => {
    const url = await server.database('killed');
    sharedUrl = url;
    const spec = writeSpec('shared.yaml', SPEC);
    // each process has its own folder, as on three machines: a trial can only resume from the database
    const lease = ['--lease', '5', '--workers', '1'];
    const first = start(['study', 'run', spec, '--storage', url, '--out', join(dir, 'machine-1'), ...lease]);
    await until(() => /\[\d\/6\] [^\n]*: epoch 1\/4/.test(first.stderr), 'the study to start');
    const second = start(['study', 'worker', '--storage', url, '--study', 'shared', '--out', join(dir, 'machine-2'), ...lease]);
    const third = start(['study', 'worker', '--storage', url, '--out', join(dir, 'machine-3'), ...lease]);
    // kill the second once it is part-way through a trial: an epoch recorded, and epochs to go
    const victim = await stopMidTrial(second, url);
    second.child.kill('SIGKILL');
    const [a, , c] = await Promise.all([first.exit, second.exit, third.exit]);
    assert.equal(second.child.signalCode, 'SIGKILL');
    assert.equal(a, 0, first.stderr);
    assert.equal(c, 0, third.stderr);

    // every trial finished exactly once, over the three processes
    const finished = [...doneNumbers(first.stderr), ...doneNumbers(second.stderr), ...doneNumbers(third.stderr)].sort((x, y) => x - y);
    assert.deepEqual(finished, [1, 2, 3, 4, 5, 6], `${first.stderr}\n${second.stderr}\n${third.stderr}`);
    assert.ok(!doneNumbers(second.stderr).includes(victim));
    // the killed trial went on from its checkpoint on another machine
    const survivors = first.stderr + third.stderr;
    assert.match(survivors, new RegExp(`\\[${victim}/6\\] [^\\n]*: continuing after epoch [123] from its checkpoint`));
    // no epoch lost or doubled, and the table that of one process on SQLite
    const results = await openStudy(url, 'shared');
    assert.equal(results.state, 'complete');
    for (const trial of results.trials) assert.deepEqual(trial.epochs.map((e) => e.epoch), [1, 2, 3, 4], `trial ${trial.number}`);
    const expected = comparable(reference);
    comparable(results).forEach((trial, i) => assert.deepEqual(trial, expected[i], `trial ${i + 1}`));
    // nothing of the finished trials' checkpoints is left in the database
    const check = new pg.Client({ connectionString: url });
    await check.connect();
    try {
      assert.equal((await check.query('SELECT count(*)::int AS n FROM digitlab.checkpoints')).rows[0].n, 0);
    } finally {
      await check.end();
    }
    // the faces read it from the database
    const shown = digitlab(['study', 'show', 'shared', '--storage', url]);
    assert.equal(shown.status, 0, shown.stderr);
    assert.match(shown.stdout, /study shared \(complete\): postgres:\/\/.*#shared/);
    const listed = digitlab(['study', 'ls', url, '--json']);
    assert.equal(listed.status, 0, listed.stderr);
    assert.deepEqual(JSON.parse(listed.stdout).map((s: { name: string; finished: number }) => [s.name, s.finished]), [['shared', 6]]);
  });

  it('takes the trial of a frozen worker over when its lease runs out; the frozen one, thawed, stops that trial and writes nothing more of it', async () => {
    const url = await server.database('frozen');
    const spec = writeSpec('frozen.yaml', SPEC);
    const lease = ['--lease', '2', '--workers', '1'];
    const first = start(['study', 'run', spec, '--storage', url, '--out', join(dir, 'frozen-1'), ...lease]);
    // as a machine whose network is gone: alive, but silent (no heartbeat) and unreachable
    const frozen = await stopMidTrial(first, url);
    const second = start(['study', 'worker', '--storage', url, '--out', join(dir, 'frozen-2'), ...lease]);
    await until(() => new RegExp(`\\[${frozen}/6\\] [^\\n]*: continuing after epoch [123] from its checkpoint`).test(second.stderr), 'the second worker to take the frozen trial over', 120_000,
      () => `: trial ${frozen} frozen\nfirst:\n${first.stderr}\nsecond:\n${second.stderr}`);
    first.child.kill('SIGCONT');
    const [a, b] = await Promise.all([first.exit, second.exit]);
    assert.equal(a, 0, first.stderr);
    assert.equal(b, 0, second.stderr);
    assert.match(first.stderr, new RegExp(`\\[${frozen}/6\\] [^\\n]*: running: another worker took the trial over`));
    assert.deepEqual([...doneNumbers(first.stderr), ...doneNumbers(second.stderr)].sort((x, y) => x - y), [1, 2, 3, 4, 5, 6]);
    assert.ok(!doneNumbers(first.stderr).includes(frozen));
    const results = await openStudy(url, 'shared');
    for (const trial of results.trials) assert.deepEqual(trial.epochs.map((e) => e.epoch), [1, 2, 3, 4], `trial ${trial.number}`);
    const expected = comparable(reference);
    comparable(results).forEach((trial, i) => assert.deepEqual(trial, expected[i], `trial ${i + 1}`));
    // and the report of a study in a database is written where it is asked for
    const report = digitlab(['study', 'report', 'shared', '--storage', url, '--out', join(dir, 'frozen-report')]);
    assert.equal(report.status, 0, report.stderr);
    assert.match(report.stdout, /report: .*frozen-report\/report\.html/);
  });

  it('prunes as one process would: the verdicts of two processes are taken one at a time, each against the trials before it', async () => {
    const url = await server.database('pruned');
    const text = SPEC.replace('name: shared', 'name: pruned').replace('seeds: [1, 2]', 'seeds: [1]').replace(/space:[\s\S]*/, 'space:\n  - hidden: [[512, 512], [8], [384, 384], [4], [256, 256], [16]]\n    lr: [0.001, 0.00003]\n');
    // slow and quick designs in turn: a later trial often reaches a rung before an earlier one
    const spec = writeSpec('pruned.yaml', text);
    const alone = join(dir, 'pruned-alone');
    const single = digitlab(['study', 'run', spec, '--out', alone, '--workers', '1', '--prune'], { timeout: 240_000 });
    assert.equal(single.status, 0, single.stderr);
    const first = start(['study', 'run', spec, '--storage', url, '--out', join(dir, 'pruned-1'), '--workers', '1', '--prune']);
    await until(() => /: epoch 1\/4/.test(first.stderr), 'the study to start');
    const second = start(['study', 'worker', '--storage', url, '--out', join(dir, 'pruned-2'), '--workers', '1', '--prune']);
    const [a, b] = await Promise.all([first.exit, second.exit]);
    assert.equal(a, 0, first.stderr);
    assert.equal(b, 0, second.stderr);
    assert.ok(/: done/.test(second.stderr) || /pruned/.test(second.stderr), 'the second process trained some');
    const store = await openStudyStorage(url, { readonly: true, study: 'pruned' });
    try {
      const rungs = await store.rungs();
      const trials = await store.trials();
      assert.ok(trials.some((t) => t.status === 'pruned'), 'successive halving pruned some');
      for (const rung of new Set(rungs.map((r) => r.rung))) {
        const rows = rungs.filter((r) => r.rung === rung);
        // serialized: the k-th verdict at a rung saw the k - 1 before it, whichever process took them
        assert.deepEqual(rows.map((r) => r.competitors).sort((x, y) => x - y), rows.map((_, i) => i + 1), `rung ${rung}`);
        for (const row of rows) assert.equal(row.kept, row.metric >= row.threshold);
      }
      for (const trial of trials) {
        const cut = rungs.find((r) => r.trial_id === trial.id && !r.kept);
        assert.equal(trial.status, cut ? 'pruned' : 'done', `trial ${trial.number}`);
      }
    } finally {
      await store.close();
    }
    // the same verdicts, epochs and results as one process on SQLite
    const expected = comparable(await openStudy(alone));
    const shared = comparable(await openStudy(url, 'pruned'));
    shared.forEach((trial, i) => assert.deepEqual(trial, expected[i], `trial ${i + 1}`));
    const reasons = async (where: Promise<StudyResults>) => (await where).trials.map((t) => t.prunedReason);
    assert.deepEqual(await reasons(openStudy(url, 'pruned')), await reasons(openStudy(alone)));
    // every verdict alike: the bar, and how many trials set it
    const verdicts = async (where: string, study?: string) => {
      const opened = await openStudyStorage(where, { readonly: true, study });
      try {
        const numbers = new Map((await opened.trials()).map((t) => [t.id, t.number]));
        return (await opened.rungs()).map((r) => ({ ...r, trial_id: numbers.get(r.trial_id) })).sort((x, y) => x.rung - y.rung || (x.trial_id ?? 0) - (y.trial_id ?? 0));
      } finally {
        await opened.close();
      }
    };
    assert.deepEqual(await verdicts(url, 'pruned'), await verdicts(alone));
  });

  it('lists the study in the database on the server\'s study explorer, beside the study folders', async () => {
    assert.ok(sharedUrl, 'the shared study ran');
    const { createServer } = await import('../../src/serve/server.js');
    const app = await createServer({ runsDir: join(dir, 'runs'), studiesDir: join(dir, 'studies'), studyDatabase: sharedUrl });
    try {
      const address = await app.listen(0, '127.0.0.1');
      const list = (await (await fetch(`${address}/api/studies`)).json()) as { studies: Array<{ id: string; state: string; trials: number }> };
      assert.deepEqual(list.studies.map((s) => [s.id, s.state, s.trials]), [['shared', 'complete', 6]]);
      const one = (await (await fetch(`${address}/api/studies/shared`)).json()) as { name: string; trials: Array<{ status: string }>; table: { rows: unknown[] } };
      assert.equal(one.name, 'shared');
      assert.deepEqual(one.trials.map((t) => t.status), Array(6).fill('done'));
      assert.equal(one.table.rows.length, 6);
      assert.equal((await fetch(`${address}/api/studies/absent`)).status, 404);
    } finally {
      await app.close();
    }
  });

  it('survives a restart of the database server mid-study: the workers reconnect and the study completes', async () => {
    const url = await server.database('restarted');
    const spec = writeSpec('restarted.yaml', SPEC);
    const first = start(['study', 'run', spec, '--storage', url, '--out', join(dir, 'restart-1'), '--workers', '1']);
    await until(() => /\[\d\/6\] [^\n]*: epoch 1\/4/.test(first.stderr), 'the study to start');
    const second = start(['study', 'worker', '--storage', url, '--out', join(dir, 'restart-2'), '--workers', '1']);
    await until(() => /: epoch [12]\/4/.test(second.stderr) && doneNumbers(first.stderr + second.stderr).length >= 1, 'both processes at work');
    server.restart();
    const before = doneNumbers(first.stderr + second.stderr).length;
    const [a, b] = await Promise.all([first.exit, second.exit]);
    assert.equal(a, 0, first.stderr);
    assert.equal(b, 0, second.stderr);
    assert.ok(before < 6, 'the restart came before the end of the study');
    assert.deepEqual([...doneNumbers(first.stderr), ...doneNumbers(second.stderr)].sort((x, y) => x - y), [1, 2, 3, 4, 5, 6]);
    const results = await openStudy(url, 'shared');
    assert.equal(results.state, 'complete');
    const expected = comparable(reference);
    comparable(results).forEach((trial, i) => assert.deepEqual(trial, expected[i], `trial ${i + 1}`));
  });
});
