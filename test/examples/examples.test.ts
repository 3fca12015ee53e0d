import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';

const dir = mkdtempSync(join(tmpdir(), 'digitlab-example-'));
after(() => rmSync(dir, { recursive: true, force: true }));

it('the README\'s API example runs against the built package and reads its digit', () => {
  const script = join(import.meta.dirname, '..', '..', 'examples', 'train-and-predict.mjs');
  const result = spawnSync(process.execPath, [script], { cwd: dir, encoding: 'utf8', timeout: 300_000 });
  assert.equal(result.status, 0, result.stderr);
  const accuracy = Number(/test accuracy ([\d.]+)/.exec(result.stdout)?.[1]);
  assert.ok(accuracy > 0.95, result.stdout);
  assert.match(result.stdout, /digit\.png reads as 7 \(\d+\.\d%\), labelled 7/);
});
