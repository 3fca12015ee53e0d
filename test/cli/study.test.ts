import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openStudy, type StudyResults } from '../../src/study/results.js';
import { assertCleanFailure, digitlab, digitlabProcess, writeSmallIdx } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'digitlab-cli-study-'));
const small = join(dir, 'small');
after(() => rmSync(dir, { recursive: true, force: true }));
before(() => writeSmallIdx(small, 9000, 500));

function writeSpec(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, body);
  return path;
}

const GOOD = `name: resume
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

/** The table without its timing columns: what two runs of the same study must agree on. */
function comparable(results: StudyResults) {
  return results.trials.map((t) => ({
    number: t.number, status: t.status, hidden: t.hidden, optimizer: t.optimizer, lr: t.lr, seed: t.seed, params: t.params, bytes: t.bytes,
    bestValAccuracy: t.bestValAccuracy, testAccuracy: t.testAccuracy, testLoss: t.testLoss, bestEpoch: t.bestEpoch, convergedEpoch: t.convergedEpoch,
    epochs: t.epochs.map(({ seconds: _seconds, ...rest }) => rest),
  }));
}

describe('digitlab study', () => {
  it('fails before any training on a bad spec, naming the line and the field', () => {
    const cases: Array<[string, RegExp]> = [
      [GOOD.replace('epochs: 4', 'epochs: 4\nepoks: 2'), /bad-0\.yaml:5: epoks: unknown key 'epoks'/],
      [GOOD.replace('epochs: 4', 'epochs: -1'), /bad-1\.yaml:4: epochs: must be a positive integer, got -1/],
      [GOOD.replace('optimizer: rmsprop', 'optimizer: rmsprob'), /bad-2\.yaml:11: space\[1\]\.optimizer: unknown optimizer "rmsprob"/],
    ];
    cases.forEach(([text, pattern], i) => {
      const out = join(dir, `bad-${i}`);
      const result = digitlab(['study', 'run', writeSpec(`bad-${i}.yaml`, text), '--out', out]);
      assert.equal(assertCleanFailure(result, pattern), null);
      assert.equal(result.status, 1);
      assert.ok(!existsSync(out), 'nothing was created');
    });
  });

  it('continues after SIGKILL: finished trials are kept, interrupted ones resume from their checkpoints, and the table equals an uninterrupted run', async () => {
    const spec = writeSpec('resume.yaml', GOOD);
    const reference = join(dir, 'reference');
    const full = digitlab(['study', 'run', spec, '--out', reference, '--workers', '2'], { timeout: 120_000 });
    assert.equal(full.status, 0, full.stderr);

    const killed = join(dir, 'killed');
    const child = digitlabProcess(['study', 'run', spec, '--out', killed, '--workers', '2']);
    let stderr = '';
    await new Promise<void>((resolve) => {
      child.stderr.on('data', (chunk) => {
        stderr += chunk;
        // Kill once a trial has finished and a later one is part-way: it has a checkpoint, and epochs to go.
        const done = /\[(\d+)\/6\] [^\n]*: done/.exec(stderr);
        if (done && new RegExp(`\\[([${Number(done[1]) + 1}-6])/6\\] [^\\n]*: epoch [12]/4`).test(stderr.slice(done.index))) child.kill('SIGKILL');
      });
      child.on('exit', () => resolve());
    });
    assert.equal(child.signalCode, 'SIGKILL', stderr);
    const interrupted = (await openStudy(killed));
    const finishedBefore = interrupted.trials.filter((t) => t.status === 'done');
    assert.ok(finishedBefore.length >= 1 && finishedBefore.length < 6, `finished before the kill: ${finishedBefore.length}`);
    assert.ok(interrupted.trials.some((t) => t.status === 'running' && t.epochs.length > 0), 'a trial was killed part-way');

    const rerun = digitlab(['study', 'run', spec, '--out', killed, '--workers', '2'], { timeout: 120_000 });
    assert.equal(rerun.status, 0, rerun.stderr);
    assert.match(rerun.stderr, new RegExp(`continuing the study: ${finishedBefore.length} of 6 trials already finished`));
    assert.match(rerun.stderr, /continuing after epoch [123] from its checkpoint/);
    const resumed = (await openStudy(killed));
    for (const trial of finishedBefore) {
      // Not trained again: the same wall time as before the kill.
      assert.equal(resumed.trials[trial.number - 1].timings.wall, trial.timings.wall);
    }
    const expected = comparable((await openStudy(reference)));
    comparable(resumed).forEach((trial, i) => assert.deepEqual(trial, expected[i], `trial ${i + 1}: ${JSON.stringify(trial)} vs ${JSON.stringify(expected[i])}`));
    assert.equal(resumed.state, 'complete');
    // The printed tables agree too, outside the timing columns.
    const table = (stdout: string) => stdout.split('\n').filter((line) => /^\s*\d+\s+\d/.test(line)).map((line) => line.trim().split(/\s{2,}/).filter((_, i) => i !== 11 && i !== 12).join('|'));
    assert.equal(table(rerun.stdout).length, 6);
    assert.deepEqual(table(rerun.stdout), table(full.stdout));
    assert.match(rerun.stdout, /report: .*report\.html/);

    // ls, show and report read the stored study.
    const ls = digitlab(['study', 'ls', dir]);
    assert.equal(ls.status, 0, ls.stderr);
    assert.match(ls.stdout, /killed\s+complete\s+6\/6/);
    assert.match(ls.stdout, /reference\s+complete\s+6\/6/);
    const show = digitlab(['study', 'show', killed, '--json']);
    assert.equal(show.status, 0, show.stderr);
    const json = JSON.parse(show.stdout);
    assert.equal(json.trials.length, 6);
    assert.equal(json.trials[0].epochs.length, 4);
    assert.ok(json.summary.best.label);
    rmSync(join(killed, 'report.md'));
    const report = digitlab(['study', 'report', killed]);
    assert.equal(report.status, 0, report.stderr);
    const markdown = readFileSync(join(killed, 'report.md'), 'utf8');
    assert.match(markdown, /## Trials/);
    assert.equal(markdown.split('\n').filter((line) => /^\| \d+ \|/.test(line)).length, 6);
    assert.equal(assertCleanFailure(digitlab(['study', 'show', small]), /is not a study folder/), null);
  });

  it('shares one study between two processes on one folder: each trial trained once, the table that of one process', async () => {
    const spec = writeSpec('shared.yaml', GOOD.replace('name: resume', 'name: shared'));
    const alone = join(dir, 'alone');
    assert.equal(digitlab(['study', 'run', spec, '--out', alone, '--workers', '1'], { timeout: 120_000 }).status, 0);
    const shared = join(dir, 'shared');
    const run = () => {
      const child = digitlabProcess(['study', 'run', spec, '--out', shared, '--workers', '1']);
      let stderr = '';
      child.stderr.on('data', (chunk) => (stderr += chunk));
      return new Promise<{ code: number | null; stderr: string }>((resolve) => child.on('exit', (code) => resolve({ code, stderr })));
    };
    const both = await Promise.all([run(), run()]);
    const trained = both.map(({ code, stderr }) => {
      assert.equal(code, 0, stderr);
      assert.doesNotMatch(stderr, /continuing after epoch/, 'no trial was taken over from a live process');
      return [...stderr.matchAll(/\[(\d+)\/6\] [^\n]*: done/g)].map((m) => Number(m[1]));
    });
    // every trial trained by exactly one of the two, and each of them did some
    assert.deepEqual([...trained[0], ...trained[1]].sort((a, b) => a - b), [1, 2, 3, 4, 5, 6], JSON.stringify(trained));
    assert.ok(trained[0].length > 0 && trained[1].length > 0, `one process trained every trial: ${JSON.stringify(trained)}`);
    const results = (await openStudy(shared));
    assert.equal(results.state, 'complete');
    const expected = comparable((await openStudy(alone)));
    comparable(results).forEach((trial, i) => assert.deepEqual(trial, expected[i], `trial ${i + 1}`));
  });

  it('lets `study worker` join a running study from its folder, and refuses a folder without one or with another study', async () => {
    const spec = writeSpec('joined.yaml', GOOD.replace('name: resume', 'name: joined'));
    const folder = join(dir, 'joined');
    const collect = (child: ReturnType<typeof digitlabProcess>, onData?: (stderr: string) => void) => {
      let stderr = '';
      child.stderr.on('data', (chunk) => {
        stderr += chunk;
        onData?.(stderr);
      });
      return new Promise<{ code: number | null; stderr: string }>((resolve) => child.on('exit', (code) => resolve({ code, stderr })));
    };
    let worker: Promise<{ code: number | null; stderr: string }> | null = null;
    const first = collect(digitlabProcess(['study', 'run', spec, '--out', folder, '--workers', '1']), (stderr) => {
      // once the study is recorded and its first trial under way, a worker joins it
      if (worker === null && /epoch 1\/4/.test(stderr)) worker = collect(digitlabProcess(['study', 'worker', '--storage', folder, '--study', 'joined', '--workers', '1']));
    });
    const ran = await first;
    assert.ok(worker !== null, ran.stderr);
    const joined = await (worker as Promise<{ code: number | null; stderr: string }>);
    const done = (stderr: string) => [...stderr.matchAll(/\[(\d+)\/6\] [^\n]*: done/g)].map((m) => Number(m[1]));
    assert.equal(ran.code, 0, ran.stderr);
    assert.equal(joined.code, 0, joined.stderr);
    assert.match(joined.stderr, /continuing the study: \d of 6 trials already finished/);
    assert.ok(done(joined.stderr).length > 0, `the worker trained nothing: ${joined.stderr}`);
    assert.deepEqual([...done(ran.stderr), ...done(joined.stderr)].sort((a, b) => a - b), [1, 2, 3, 4, 5, 6]);
    assert.equal((await openStudy(folder)).state, 'complete');

    const other = digitlab(['study', 'worker', '--storage', folder, '--study', 'another']);
    assert.equal(assertCleanFailure(other, /--storage .*joined holds no study 'another' \(it holds 'joined'\)/), null);
    assert.equal(other.status, 2);
    const none = digitlab(['study', 'worker', '--storage', small]);
    assert.equal(assertCleanFailure(none, /--storage .*small is not a study folder \(no study\.sqlite\): start the study there with `digitlab study run SPEC --out/), null);
  });

  it('compares a CNN design with an MLP: the table names each kind and network, the report has its CNN vs MLP section and chart', () => {
    const spec = writeSpec('kinds.yaml', `name: kinds
data: idx:${small}
validation: 1000
train_subset: 2500
epochs: 1
batch_size: 32
seeds: [1]
space:
  - network: conv {width} 5x5, relu, maxpool 2, linear 32, relu
    width: [4]
  - hidden: [64]
`);
    const out = join(dir, 'kinds');
    const run = digitlab(['study', 'run', spec, '--out', out, '--workers', '2'], { timeout: 120_000 });
    assert.equal(run.status, 0, run.stderr);
    const cnnText = 'conv 4 5x5, relu, maxpool 2, linear 32, relu';
    // conv: 4·25 + 4; linear 4·12·12 → 32; output 32 → 10
    const cnnParams = 4 * 25 + 4 + 576 * 32 + 32 + 32 * 10 + 10;
    const rows = run.stdout.split('\n').filter((line) => /^\d+\s/.test(line));
    assert.match(run.stdout, /^#\s+kind\s+network\s+optimizer/m);
    assert.match(rows[0], new RegExp(`^1\\s+CNN\\s+${cnnText}\\s+adam\\s+0\\.001\\s+1\\s+${cnnParams.toLocaleString('en-US')}\\s`));
    assert.match(rows[1], /^2\s+MLP\s+64\s+adam\s+0\.001\s+1\s+50,890\s/);
    // The listing by kind gives each design's whole layer list, the MLP's as its linear and activation.
    assert.match(run.stdout, /CNN vs MLP:\n\s+kind\s+design\s+params\s+multiply-adds/);
    assert.match(run.stdout, /MLP\s+64 adam lr 0\.001\s+50,890\s+50,816\s.*linear 64, relu/);
    assert.match(run.stdout, new RegExp(`CNN\\s+${cnnText} adam lr 0\\.001\\s+${cnnParams.toLocaleString('en-US')}\\s+${(4 * 25 * 576 + 576 * 32 + 320).toLocaleString('en-US')}\\s`));
    assert.match(run.stdout, /- CNN vs MLP: the best CNN, conv 4 5x5, .* the best MLP, 64 adam lr 0\.001, /);

    const markdown = readFileSync(join(out, 'report.md'), 'utf8');
    const section = markdown.slice(markdown.indexOf('## CNN vs MLP'));
    assert.ok(markdown.includes('## CNN vs MLP'), markdown);
    assert.match(section, /\| kind \| design \| params \| multiply-adds \|/);
    assert.match(section, new RegExp(`\\| CNN \\| ${cnnText} adam lr 0\\.001 \\| ${cnnParams.toLocaleString('en-US')} \\|`));
    assert.match(section, /\| MLP \| 64 adam lr 0\.001 \| 50,890 \|/);
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    assert.match(html, /<table id="kinds">/);
    assert.match(html, /<div class="chart" id="cnn-vs-mlp">/);

    const show = digitlab(['study', 'show', out, '--json']);
    assert.equal(show.status, 0, show.stderr);
    const json = JSON.parse(show.stdout);
    assert.deepEqual(json.trials.map((t: StudyResults['trials'][number]) => [t.kind, t.network, t.hidden, t.params]), [
      ['CNN', { layers: cnnText, preset: null, width: 4 }, [], cnnParams],
      ['MLP', null, [64], 50_890],
    ]);
    assert.deepEqual(json.designs.map((d: StudyResults['designs'][number]) => d.label).sort(), ['64 adam lr 0.001', `${cnnText} adam lr 0.001`]);
    const text = digitlab(['study', 'show', out]);
    assert.match(text.stdout, /CNN vs MLP:/);
    assert.match(text.stdout, new RegExp(`1\\s+CNN\\s+${cnnText}\\s+adam`));
    // The same spec again is the same study: nothing left to train.
    const rerun = digitlab(['study', 'run', spec, '--out', out]);
    assert.equal(rerun.status, 0, rerun.stderr);
    assert.match(rerun.stderr, /continuing the study: 2 of 2 trials already finished; 0 to run/);
  });

  it('fails before any training when a network does not fit the images, naming the design, line and field', () => {
    const spec = writeSpec('unfit.yaml', `name: unfit
data: idx:${small}
validation: 1000
epochs: 1
space:
  - hidden: [64]
  - network:
      - lenet5
      - conv 4 5x5, maxpool 2, conv 4 5x5, maxpool 2, conv 4 5x5, relu
`);
    const out = join(dir, 'unfit');
    const result = digitlab(['study', 'run', spec, '--out', out]);
    assert.equal(
      assertCleanFailure(result, /unfit\.yaml:9: space\[1\]\.network\[1\]: the network 'conv 4 5x5, maxpool 2, conv 4 5x5, maxpool 2, conv 4 5x5, relu' does not fit the 28×28 images of idx:.*: layer 5 \('conv 4 5x5'\): the 5x5 kernel does not fit the 4x4 input/),
      null,
    );
    assert.equal(result.status, 1);
    assert.ok(!existsSync(out), 'nothing was created');
  });

  it('runs the shipped quick CNN study (on a small part of the data, for one epoch)', async () => {
    const shipped = readFileSync(join(import.meta.dirname, '..', '..', 'studies', 'cnn-quick.yaml'), 'utf8');
    const text = shipped
      .replace(/^data: .*$/m, `data: idx:${small}`)
      .replace(/^validation: .*$/m, 'validation: 1000')
      .replace(/^train_subset: .*$/m, 'train_subset: 1500')
      .replace(/^epochs: .*$/m, 'epochs: 1');
    assert.notEqual(text, shipped);
    const out = join(dir, 'cnn-quick');
    const run = digitlab(['study', 'run', writeSpec('cnn-quick.yaml', text), '--out', out, '--workers', '2'], { timeout: 120_000 });
    assert.equal(run.status, 0, run.stderr);
    const results = (await openStudy(out));
    assert.equal(results.state, 'complete');
    assert.deepEqual(results.trials.map((t) => [t.kind, t.network?.preset ?? t.network?.layers ?? t.hidden.join('-'), t.status]), [
      ['CNN', 'lenet5', 'done'],
      ['CNN', 'cnn', 'done'],
      ['CNN', 'conv 8 5x5, relu, maxpool 2, linear 128, relu', 'done'],
      ['CNN', 'conv 16 5x5, relu, maxpool 2, linear 128, relu', 'done'],
      ['CNN', 'conv 32 5x5, relu, maxpool 2, linear 128, relu', 'done'],
      ['MLP', '800', 'done'],
    ]);
    assert.deepEqual(results.trials.slice(0, 2).map((t) => t.params), [61_706, 215_194]);
    assert.match(readFileSync(join(out, 'report.md'), 'utf8'), /## CNN vs MLP\n[^#]*\| CNN \| lenet5 adam lr 0\.001 \| 61,706 \| 416,520 \|/);
  });
});
