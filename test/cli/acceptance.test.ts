import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { digitlab } from './helpers.js';

/** The README's training commands, run as written on the full bundled MNIST, reach their accuracy. */
const dir = mkdtempSync(join(tmpdir(), 'digitlab-acceptance-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function train(args: string[]) {
  const result = digitlab(['train', ...args, '--out', join(dir, args.join('_')), '--json'], { timeout: 600_000 });
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout);
}

describe('training on MNIST reaches the advertised accuracy', () => {
  it('784-800-10, Adam, 8 epochs of batch 128: test accuracy ≥ 98.0%', () => {
    const json = train(['--hidden', '800', '--epochs', '8', '--batch-size', '128', '--optimizer', 'adam', '--lr', '0.001', '--seed', '1']);
    assert.ok(json.test_accuracy >= 0.98, `test accuracy ${json.test_accuracy}`);
    assert.equal(json.params, 636_010);
    assert.equal(json.epochs.length, 8);
  });

  it('784-128-10, Adam, 5 epochs of batch 64: test accuracy ≥ 97.0%', () => {
    const json = train(['--hidden', '128', '--epochs', '5', '--batch-size', '64', '--optimizer', 'adam', '--lr', '0.001', '--seed', '1']);
    assert.ok(json.test_accuracy >= 0.97, `test accuracy ${json.test_accuracy}`);
    assert.equal(json.params, 101_770);
  });
});
