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
    const interrupted = openStudy(killed);
    const finishedBefore = interrupted.trials.filter((t) => t.status === 'done');
    assert.ok(finishedBefore.length >= 1 && finishedBefore.length < 6, `finished before the kill: ${finishedBefore.length}`);
    assert.ok(interrupted.trials.some((t) => t.status === 'running' && t.epochs.length > 0), 'a trial was killed part-way');

    const rerun = digitlab(['study', 'run', spec, '--out', killed, '--workers', '2'], { timeout: 120_000 });
    assert.equal(rerun.status, 0, rerun.stderr);
    assert.match(rerun.stderr, new RegExp(`continuing the study: ${finishedBefore.length} of 6 trials already finished`));
    assert.match(rerun.stderr, /continuing after epoch [123] from its checkpoint/);
    const resumed = openStudy(killed);
    for (const trial of finishedBefore) {
      // Not trained again: the same wall time as before the kill.
      assert.equal(resumed.trials[trial.number - 1].timings.wall, trial.timings.wall);
    }
    const expected = comparable(openStudy(reference));
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
});
