import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { assertCleanFailure, digitlab, writeSmallIdx } from './helpers.js';

/**
 * Every corrupt input gets a specific message and a non-zero exit: never a stack trace, never a hang.
 */
const dir = mkdtempSync(join(tmpdir(), 'digitlab-cli-errors-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const idxDir = (name: string) => join(dir, name);
before(() => {
  writeSmallIdx(idxDir('good'), 600, 100);
});

function corruptCopy(name: string, file: string, change: (bytes: Buffer) => Buffer): string {
  const target = idxDir(name);
  mkdirSync(target, { recursive: true });
  for (const f of ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']) {
    copyFileSync(join(idxDir('good'), f), join(target, f));
  }
  writeFileSync(join(target, file), change(readFileSync(join(target, file))));
  return `idx:${target}`;
}

function check(args: string[], pattern: RegExp): void {
  const problem = assertCleanFailure(digitlab(args, { timeout: 60_000 }), pattern);
  assert.equal(problem, null, problem ?? '');
}

describe('clear errors for bad input', () => {
  it('a truncated IDX file', () => {
    const data = corruptCopy('truncated', 'train-images-idx3-ubyte', (b) => b.subarray(0, b.length - 1000));
    check(['data', 'info', '--data', data, '--validation', '100'], /train-images-idx3-ubyte.*(truncated|bytes)/i);
  });

  it('an IDX file with the wrong magic number', () => {
    const data = corruptCopy('magic', 't10k-labels-idx1-ubyte', (b) => Buffer.concat([Buffer.from([0x12, 0x34, 0x08, 0x01]), b.subarray(4)]));
    check(['data', 'info', '--data', data, '--validation', '100'], /t10k-labels-idx1-ubyte.*not an IDX file/i);
  });

  it('a .gz file that is not gzip', () => {
    const target = idxDir('notgzip');
    mkdirSync(target, { recursive: true });
    for (const f of ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']) {
      writeFileSync(join(target, `${f}.gz`), f.startsWith('train-images') ? Buffer.from('this is plain text') : gzipSync(readFileSync(join(idxDir('good'), f))));
    }
    check(['data', 'info', '--data', `idx:${target}`, '--validation', '100'], /train-images-idx3-ubyte\.gz.*gzip/i);
  });

  it('a pickle that names a global other than numpy array reconstruction', () => {
    check(['data', 'info', '--data', `pkl:${join(import.meta.dirname, '..', 'fixtures', 'pickle', 'hostile-os-system.pkl.gz')}`], /refusing to load global 'os\.system'/);
  });

  it('a model whose safetensors has bad offsets', () => {
    const model = join(dir, 'model');
    const trained = digitlab(['train', '--data', `idx:${idxDir('good')}`, '--validation', '100', '--hidden', '8', '--epochs', '1', '--out', model]);
    assert.equal(trained.status, 0, trained.stderr);
    const file = join(model, 'model.safetensors');
    const bytes = readFileSync(file);
    const headerLength = Number(bytes.readBigUInt64LE(0));
    const header = bytes.subarray(8, 8 + headerLength).toString('utf8');
    // Shift the first tensor's end offset: a gap/overlap the reader must refuse.
    const broken = header.replace(/"data_offsets":\[0,(\d+)\]/, (_m, end) => `"data_offsets":[0,${Number(end) - 4}]`.padEnd(_m.length, ' '));
    assert.notEqual(broken, header);
    writeFileSync(file, Buffer.concat([bytes.subarray(0, 8), Buffer.from(broken.padEnd(headerLength, ' ')), bytes.subarray(8 + headerLength)]));
    check(['eval', '--model', model, '--data', `idx:${idxDir('good')}`, '--validation', '100'], /model\.safetensors.*offset/i);
  });

  it('an image that is not an image', () => {
    const model = join(dir, 'model-ok');
    assert.equal(digitlab(['train', '--data', `idx:${idxDir('good')}`, '--validation', '100', '--hidden', '8', '--epochs', '1', '--out', model]).status, 0);
    const file = join(dir, 'digit.png');
    writeFileSync(file, 'not a picture at all');
    check(['predict', '--model', model, file], /digit\.png.*(not a PNG or JPEG|image)/i);
  });

  it('an unknown option value', () => {
    check(['train', '--optimizer', 'adamax'], /adamax.*(invalid|choices)/i);
    check(['train', '--activation', 'gelu'], /gelu.*(invalid|choices)/i);
    check(['train', '--epochs', '-3'], /--epochs takes a positive integer/);
    check(['train', '--hidden', '12,x'], /--hidden takes positive integers/);
    check(['train', '--optimizer', 'adam', '--momentum', '0.9'], /--momentum does not apply to adam/);
    check(['train', '--data', 'mnst'], /mnst/);
  });

  it('a missing model folder', () => {
    check(['predict', '--model', join(dir, 'nothing-here'), 'x.png'], /no model at .*nothing-here/i);
  });
});
