// `digitlab train --augment` and `digitlab data show --augment` end to end: the run records its
// distortions, a run killed mid-epoch resumes to the same bytes, bad ranges are refused by name.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { digitlab, digitlabProcess, writeSmallIdx } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'digitlab-cli-augment-'));
const data = `idx:${join(dir, 'small')}`;
after(() => rmSync(dir, { recursive: true, force: true }));
before(() => writeSmallIdx(join(dir, 'small'), 12000, 1000));

const common = [
  'train', '--data', data, '--validation', '2000', '--hidden', '64', '--epochs', '3', '--batch-size', '32', '--seed', '4',
  '--augment', 'affine,elastic', '--affine-rotate', '12', '--elastic-alpha', '30',
];

describe('digitlab train --augment', () => {
  it('trains on distorted digits, records the distortions, and resumes a killed run to the same bytes', async () => {
    const straight = join(dir, 'straight');
    const result = digitlab([...common, '--out', straight, '--json']);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stderr, /augmentation: affine\(rotate 12, scale 0\.1, shear 10, translate 2\) \+ elastic\(alpha 30, sigma 4\)/);
    const json = JSON.parse(result.stdout);
    assert.deepEqual(json.settings.augment, { affine: { rotate: 12, scale: 0.1, shear: 10, translate: 2 }, elastic: { alpha: 30, sigma: 4 } });
    assert.ok(json.test_accuracy > 0.85, `test accuracy ${json.test_accuracy}`);
    const config = JSON.parse(readFileSync(join(straight, 'config.json'), 'utf8'));
    assert.deepEqual(config.training.augment, json.settings.augment);
    const plain = digitlab([...common.slice(0, common.indexOf('--augment')), '--out', join(dir, 'plain'), '--json']);
    assert.equal(plain.status, 0, plain.stderr);
    assert.notDeepEqual(readFileSync(join(dir, 'plain', 'model.safetensors')), readFileSync(join(straight, 'model.safetensors')));

    const killed = join(dir, 'killed');
    const child = digitlabProcess([...common, '--out', killed]);
    let stderr = '';
    await new Promise<void>((resolve) => {
      child.stderr.on('data', (chunk) => {
        stderr += chunk;
        if (/epoch 1:/.test(stderr)) setTimeout(() => child.kill('SIGKILL'), 100);
      });
      child.on('exit', () => resolve());
    });
    assert.equal(child.signalCode, 'SIGKILL', `the run finished before it could be killed: ${stderr}`);
    const resumed = digitlab([...common, '--out', killed, '--resume']);
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.match(resumed.stderr, /resuming from .* after epoch [12]/);
    assert.deepEqual(readFileSync(join(killed, 'model.safetensors')), readFileSync(join(straight, 'model.safetensors')));
  });

  it('refuses ranges without their distortion, unknown distortions and bad ranges, by name', () => {
    for (const [args, pattern] of [
      [['--affine-rotate', '5'], /--affine-rotate is a range of the affine distortion: add --augment affine/],
      [['--augment', 'elastic', '--affine-shear', '5'], /--affine-shear is a range of the affine distortion/],
      [['--augment', 'affine', '--elastic-sigma', '3'], /--elastic-sigma is a range of the elastic distortion: add --augment elastic/],
      [['--augment', 'flip'], /--augment: 'flip' is not a distortion: use affine, elastic or affine,elastic/],
      [['--augment', 'affine', '--affine-scale', '1.5'], /affine scale must be below 1/],
      [['--augment', 'elastic', '--elastic-sigma', '0'], /--elastic-sigma takes a positive number, got '0'/],
    ] as const) {
      const result = digitlab(['train', '--data', data, ...args]);
      assert.equal(result.status, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, pattern);
    }
  });
});

describe('digitlab data show --augment', () => {
  it('draws what the network sees: the same seed the same picture, another seed another', () => {
    const show = (out: string, ...extra: string[]) => {
      const result = digitlab(['data', 'show', '--data', data, '--grid', '5x3', '--augment', 'affine,elastic', '--variants', '--out', join(dir, out), '--json', ...extra]);
      assert.equal(result.status, 0, result.stderr);
      return { json: JSON.parse(result.stdout), png: readFileSync(join(dir, out)) };
    };
    const a = show('a.png');
    assert.equal(a.json.count, 15);
    // --variants: each row is one image, five times
    assert.deepEqual(a.json.labels.slice(0, 5), Array(5).fill(a.json.labels[0]));
    assert.deepEqual(a.json.augment.elastic, { alpha: 34, sigma: 4 });
    assert.deepEqual(show('b.png').png, a.png);
    assert.notDeepEqual(show('c.png', '--seed', '9').png, a.png);
    const plain = digitlab(['data', 'show', '--data', data, '--grid', '5x3', '--out', join(dir, 'plain.png')]);
    assert.equal(plain.status, 0, plain.stderr);
    assert.notDeepEqual(readFileSync(join(dir, 'plain.png')), a.png);
    const bad = digitlab(['data', 'show', '--data', data, '--variants']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--variants shows distortions: add --augment/);
  });
});
