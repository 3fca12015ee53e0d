import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { digitlab, digitlabProcess, writeSmallIdx } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'digitlab-cli-train-'));
const data = `idx:${join(dir, 'small')}`;
after(() => rmSync(dir, { recursive: true, force: true }));
before(() => writeSmallIdx(join(dir, 'small'), 22000, 1000));

const common = ['--data', data, '--validation', '2000', '--hidden', '128', '--epochs', '3', '--batch-size', '32', '--seed', '3'];

describe('digitlab train', () => {
  it('trains, saves a model folder and prints one JSON result', () => {
    const out = join(dir, 'm1');
    const result = digitlab(['train', ...common, '--out', out, '--json']);
    assert.equal(result.status, 0, result.stderr);
    const json = JSON.parse(result.stdout);
    for (const key of ['test_accuracy', 'test_loss', 'params', 'bytes', 'converged_epoch', 'seconds_to_converge', 'seconds', 'epochs']) {
      assert.ok(key in json, `missing ${key}`);
    }
    assert.equal(json.params, 784 * 128 + 128 + 128 * 10 + 10);
    assert.equal(json.bytes, json.params * 4);
    assert.equal(json.epochs.length, 3);
    for (const e of json.epochs) for (const key of ['epoch', 'train_loss', 'val_loss', 'val_accuracy', 'seconds']) assert.ok(key in e);
    assert.ok(json.test_accuracy > 0.9, `test accuracy ${json.test_accuracy}`);
    assert.match(result.stderr, /101,770 parameters/);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    assert.equal(config.format, 'digitlab');
    assert.equal(config.version, 2);
    assert.deepEqual(config.model.layers.map((l: { type: string; out?: number }) => (l.out ? `${l.type} ${l.out}` : l.type)), ['linear 128', 'relu', 'linear 10']);

    const evaluated = digitlab(['eval', '--model', out, '--data', data, '--validation', '2000', '--json']);
    assert.equal(evaluated.status, 0, evaluated.stderr);
    assert.equal(JSON.parse(evaluated.stdout).accuracy, json.test_accuracy);
  });

  it('stops cleanly on Ctrl-C (SIGINT), keeping the last checkpoint', async () => {
    const out = join(dir, 'interrupted');
    const child = digitlabProcess(['train', ...common, '--out', out]);
    let stderr = '';
    let sent = false;
    const status = await new Promise<number | null>((resolve) => {
      child.stderr.on('data', (chunk) => {
        stderr += chunk;
        // Once: a second Ctrl-C ends the process at once, as it should.
        if (/epoch 1:/.test(stderr) && !sent) {
          sent = true;
          child.kill('SIGINT');
        }
      });
      child.on('exit', (code) => resolve(code));
    });
    assert.equal(status, 130, stderr);
    assert.match(stderr, /training stopped during epoch 2; the last checkpoint is kept \(rerun with --resume to continue\)/);
    assert.ok(existsSync(join(out, 'checkpoint.safetensors')));
    assert.ok(!existsSync(join(out, 'model.safetensors')));
  });

  it('trains on every training image with --validation 0, and refuses early stopping with it', () => {
    const result = digitlab(['train', ...common, '--validation', '0', '--epochs', '2', '--out', join(dir, 'all'), '--json']);
    assert.equal(result.status, 0, result.stderr);
    const json = JSON.parse(result.stdout);
    assert.deepEqual(json.epochs.map((e: { val_loss: unknown; val_accuracy: unknown }) => [e.val_loss, e.val_accuracy]), [[null, null], [null, null]]);
    assert.equal(json.converged_epoch, null);
    assert.ok(json.test_accuracy > 0.9, `test accuracy ${json.test_accuracy}`);
    assert.match(result.stderr, /of 22,000 images/);
    assert.match(result.stderr, /epoch 2: train loss \d\.\d{4}, no validation images, /);
    const refused = digitlab(['train', ...common, '--validation', '0', '--early-stopping', '2', '--out', join(dir, 'refused')]);
    assert.equal(refused.status, 2);
    assert.match(refused.stderr, /--early-stopping watches the validation loss, and --validation 0 holds out no validation images/);
    assert.ok(!existsSync(join(dir, 'refused')), 'a refused run leaves no folder');
    const negative = digitlab(['train', ...common, '--validation', '-1']);
    assert.equal(negative.status, 2);
    assert.match(negative.stderr, /--validation takes an integer ≥ 0, got '-1'/);
  });

  it('follows a learning-rate schedule, one step per epoch', () => {
    const result = digitlab(['train', ...common, '--epochs', '3', '--schedule', 'step:1:0.5', '--out', join(dir, 'scheduled'), '--json']);
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout).epochs.map((e: { lr: number }) => e.lr), [0.001, 0.0005, 0.00025]);
    const bad = digitlab(['train', '--schedule', 'linear:3']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--schedule 'linear:3' is not understood/);
  });

  it('continues a run killed with SIGKILL mid-epoch to the same final weights', async () => {
    const straight = join(dir, 'straight');
    assert.equal(digitlab(['train', ...common, '--out', straight]).status, 0);

    const killed = join(dir, 'killed');
    const child = digitlabProcess(['train', ...common, '--out', killed]);
    let stderr = '';
    await new Promise<void>((resolve) => {
      child.stderr.on('data', (chunk) => {
        stderr += chunk;
        // After epoch 1's checkpoint, kill it while epoch 2 is running.
        if (/epoch 1:/.test(stderr)) setTimeout(() => child.kill('SIGKILL'), 150);
      });
      child.on('exit', () => resolve());
    });
    assert.equal(child.signalCode, 'SIGKILL', `the run finished before it could be killed: ${stderr}`);

    const resumed = digitlab(['train', ...common, '--out', killed, '--resume']);
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.match(resumed.stderr, /resuming from .* after epoch [12]/);
    assert.deepEqual(readFileSync(join(killed, 'model.safetensors')), readFileSync(join(straight, 'model.safetensors')));
  });
});
