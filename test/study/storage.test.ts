import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { markdownReport, trialTable } from '../../src/study/report.js';
import { openStudy } from '../../src/study/results.js';
import { StudyRunner } from '../../src/study/runner.js';
import { parseStudySpec } from '../../src/study/spec.js';
import { STUDY_DATABASE, SqliteStudyStorage } from '../../src/study/storage-sqlite.js';
import { checkClaims } from './claims.js';
import { writeSmallIdx } from '../cli/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'digitlab-study-storage-'));
const small = join(dir, 'small');
before(() => writeSmallIdx(small, 1500, 300));
after(() => rmSync(dir, { recursive: true, force: true }));

const text = `name: old
data: idx:${small}
validation: 300
epochs: 1
batch_size: 50
seeds: [1]
space:
  - hidden: [[8], [16]]
`;

function run(out: string) {
  return new StudyRunner({ spec: parseStudySpec(text, 'old.yaml'), specText: text, out, workers: 1, backend: 'wasm' }).run();
}

function columns(out: string): string[] {
  const db = new Database(join(out, STUDY_DATABASE), { readonly: true });
  try {
    return (db.prepare('PRAGMA table_info(trials)').all() as Array<{ name: string }>).map((c) => c.name);
  } finally {
    db.close();
  }
}

describe('study databases from before network designs', () => {
  it('open read-only, then resume: the network column is added and every old trial reads as an MLP', async () => {
    const out = join(dir, 'study');
    await run(out);
    // Make it what digitlab wrote before network designs: no network column, no recorded size
    // settings, and the second trial not run yet (its checkpoint folder gone with it).
    const db = new Database(join(out, STUDY_DATABASE));
    db.exec(`
      ALTER TABLE trials DROP COLUMN network;
      DELETE FROM trial_params WHERE name IN ('params', 'multiply_adds');
      DELETE FROM epochs WHERE trial_id = 2;
      DELETE FROM timings WHERE trial_id = 2;
      UPDATE trials SET status = 'pending', params = NULL, bytes = NULL, best_epoch = NULL, test_accuracy = NULL, test_loss = NULL,
        seconds = NULL, confusion = NULL, model_dir = NULL, started_at = NULL, finished_at = NULL WHERE id = 2;
      UPDATE studies SET state = 'stopped';
    `);
    db.close();
    rmSync(join(out, 'trials', '002'), { recursive: true, force: true });
    assert.ok(!columns(out).includes('network'));

    // Read as it is (read-only opens change nothing): the show and report paths.
    const before = (await openStudy(out));
    assert.ok(!columns(out).includes('network'));
    assert.deepEqual(before.trials.map((t) => [t.status, t.network, t.kind, t.hidden]), [['done', null, 'MLP', [8]], ['pending', null, 'MLP', [16]]]);
    assert.equal(before.trials[0].multiplyAdds, null);
    assert.deepEqual(trialTable(before).header.slice(0, 3), ['#', 'layers', 'nodes']);
    assert.doesNotMatch(markdownReport(before), /CNN vs MLP/);

    // Resumed by the same spec: only the unfinished trial trains, the column is there afterwards.
    const { ran } = await run(out);
    assert.equal(ran, 1);
    assert.ok(columns(out).includes('network'));
    const after = (await openStudy(out));
    assert.equal(after.state, 'complete');
    assert.deepEqual(after.trials.map((t) => [t.status, t.network]), [['done', null], ['done', null]]);
    assert.equal(after.trials[0].timings.wall, before.trials[0].timings.wall, 'the finished trial was not trained again');
    assert.equal(after.trials[1].params, 784 * 16 + 16 + 16 * 10 + 10);
  });
});

describe('claims on trials', () => {
  it('gives each trial to one owner at a time, takes a trial back when its lease runs out or its owner is gone, and refuses the old owner\'s writes', async () => {
    const spec = parseStudySpec(text.replace('[[8], [16]]', '[[8], [16], [24]]'), 'old.yaml');
    const store = SqliteStudyStorage.open(join(dir, 'claims'), { create: true });
    try {
      await checkClaims(store, spec, text);
    } finally {
      await store.close();
    }
  });
});

describe('study databases opened by several processes at once', () => {
  it('makes the tables once, whoever opens first, and none of them is told the database is locked', async () => {
    const rounds = 40;
    const threads = 4;
    const folders = Array.from({ length: rounds }, (_, round) => join(dir, `race-${round}`));
    const go = new SharedArrayBuffer(4);
    const flag = new Int32Array(go);
    const script = new URL('./open-race.ts', import.meta.url).href;
    const source = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})` +
      `.then((tsx) => { tsx.register(); return import(${JSON.stringify(script)}); })`;
    const workers = Array.from({ length: threads }, () => new Worker(source, { eval: true, workerData: { go, folders } }));
    try {
      const ready = new Array(threads).fill(-1);
      const results = workers.map((worker, w) => new Promise<string[]>((resolve, reject) => {
        worker.on('error', reject);
        worker.on('message', (message: { ready?: number; outcomes?: string[] }) => {
          if (message.outcomes) return resolve(message.outcomes);
          ready[w] = message.ready!;
          // every thread waits at this round: let them all open its folder together
          if (ready.every((r) => r === message.ready)) {
            Atomics.store(flag, 0, message.ready! + 1);
            Atomics.notify(flag, 0);
          }
        });
      }));
      const outcomes = (await Promise.all(results)).flat();
      assert.deepEqual(outcomes.filter((outcome) => outcome !== 'ok'), []);
      assert.equal(outcomes.length, rounds * threads);
      for (const folder of folders) {
        const db = new Database(join(folder, STUDY_DATABASE), { readonly: true });
        try {
          assert.deepEqual(db.prepare('SELECT key, value FROM meta').all(), [{ key: 'schema_version', value: '1' }]);
          assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
        } finally {
          db.close();
        }
      }
    } finally {
      await Promise.all(workers.map((worker) => worker.terminate()));
    }
  });
});
