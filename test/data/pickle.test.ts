import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { loadMnistPickle, unpickle, PyTuple, NumpyArray, arrayToNumbers } from '../../src/data/pickle.js';
import { encodePickle, ndarray, writeMnistPickle } from '../../src/data/pickle-writer.js';
import { PickleFormatError, PickleSecurityError } from '../../src/data/errors.js';
import { loadBundledMnist } from '../../src/data/mnist.js';
import { sliceDataset } from '../../src/data/dataset.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'pickle');

// Mirrors pixel() and label() in test/fixtures/make_pickle_fixtures.py.
function pixel(k: number, p: number): number {
  const row = Math.floor(p / 28);
  const col = p % 28;
  const d2 = (row - (8 + 2 * k)) ** 2 + (col - (6 + k)) ** 2;
  return d2 < 22 ? Math.max(0, 255 - 12 * d2) : 0;
}
const label = (k: number): number => (3 * k + 1) % 10;

const FORMS = ['py2-cpickle', 'py3-protocol2', 'py3-protocol4', 'numpy1-protocol2', 'numpy2-protocol2'];

for (const form of FORMS) {
  const path = join(FIXTURES, `${form}.pkl.gz`);
  test(`reads the ${form} form as exact uint8`, { skip: !existsSync(path) && `${path} not generated (numpy absent)` }, () => {
    const splits = loadMnistPickle(path);
    assert.equal(splits.source, `pkl:${path}`);
    let k = 0;
    for (const [name, count] of [['train', 5], ['validation', 3], ['test', 2]] as const) {
      const split = splits[name];
      assert.equal(split.count, count);
      assert.equal(split.height, 28);
      assert.equal(split.width, 28);
      assert.equal(split.pixelMax, 255);
      assert.equal(split.classes, 10);
      assert.ok(split.images instanceof Uint8Array);
      for (let i = 0; i < count; i++, k++) {
        assert.equal(split.labels[i], label(k));
        for (let p = 0; p < 784; p++) assert.equal(split.images[i * 784 + p], pixel(k, p), `image ${k} pixel ${p}`);
      }
    }
  });
}

test('values that are not multiples of 1/256 stay float32 with pixelMax 1', () => {
  const splits = loadMnistPickle(join(FIXTURES, 'py2-float.pkl.gz'));
  assert.ok(splits.train.images instanceof Float32Array);
  assert.equal(splits.train.pixelMax, 1);
  assert.equal(splits.test.images[784 + 14 * 28 + 15], Math.fround(pixel(9, 14 * 28 + 15) / 1000));
});

test('hostile globals are refused by name', () => {
  assert.throws(
    () => loadMnistPickle(join(FIXTURES, 'hostile-os-system.pkl.gz')),
    (e: Error) => e instanceof PickleSecurityError && e.global === 'os.system' && e.message.includes('os.system'),
  );
  assert.throws(
    () => loadMnistPickle(join(FIXTURES, 'hostile-builtins-eval.pkl.gz')),
    (e: Error) => e instanceof PickleSecurityError && e.global === 'builtins.eval',
  );
});

test('the refusal happens when GLOBAL is read, before later opcodes run', () => {
  // GLOBAL os.system followed by garbage: the security error, not a format error, must come first
  const bytes = Buffer.concat([Buffer.from([0x80, 2]), Buffer.from('cos\nsystem\n'), Buffer.from([0xff, 0xff])]);
  assert.throws(() => unpickle(bytes), PickleSecurityError);
});

test('unknown opcodes and truncated streams name the byte offset', () => {
  assert.throws(() => unpickle(Uint8Array.of(0x80, 2, 0x4b, 1, 0xfe)), (e: Error) => e instanceof PickleFormatError && /opcode 0xfe/.test(e.message) && /byte 4/.test(e.message));
  assert.throws(() => unpickle(Uint8Array.of(0x80, 2, 0x54, 100, 0, 0, 0, 1, 2)), /truncated/);
  assert.throws(() => unpickle(Uint8Array.of(0x80, 2, 0x4b, 1)), /without a STOP/);
  assert.throws(() => unpickle(Uint8Array.of(0x80, 2, 0x68, 7, 0x2e)), /memo entry 7/);
});

test('lists, dicts, LONG1 and BINFLOAT are understood', () => {
  // {'a': [1, 2.5, -129]} written by hand: EMPTY_DICT, SHORT_BINUNICODE a, EMPTY_LIST, MARK, ..., APPENDS, SETITEM
  const float = Buffer.alloc(8);
  float.writeDoubleBE(2.5);
  const bytes = Buffer.concat([
    Buffer.from([0x80, 2, 0x7d, 0x8c, 1, 0x61, 0x5d, 0x28, 0x4b, 1, 0x47]),
    float,
    Buffer.from([0x8a, 2, 0x7f, 0xff, 0x65, 0x73, 0x2e]),
  ]);
  const value = unpickle(bytes) as Map<unknown, unknown>;
  assert.deepEqual(value.get('a'), [1, 2.5, -129]);
});

test('big-endian arrays are read, Fortran-order arrays refused', () => {
  const bigEndian = Buffer.alloc(8);
  bigEndian.writeInt32BE(7, 0);
  bigEndian.writeInt32BE(-3, 4);
  const pickle = (order: string, fortran: boolean, shape: number[], data: Buffer): Buffer =>
    Buffer.concat([
      Buffer.from('\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85U\x01b\x87R(K\x01', 'latin1'),
      Buffer.from(shape.flatMap((d) => [0x4b, d])),
      Buffer.from([0x84 + shape.length]),
      Buffer.from(`cnumpy\ndtype\nU\x02i4\x89\x88\x87R(K\x03U\x01${order}NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb`, 'latin1'),
      Buffer.from([fortran ? 0x88 : 0x89, 0x55, data.length]),
      data,
      Buffer.from('tb.', 'latin1'),
    ]);
  const array = unpickle(pickle('>', false, [2], bigEndian)) as NumpyArray;
  assert.ok(array instanceof NumpyArray);
  assert.deepEqual([...arrayToNumbers(array)], [7, -3]);
  assert.throws(() => unpickle(pickle('<', true, [2, 2], Buffer.alloc(16))), /Fortran/);
  // with one non-trivial dimension, Fortran and C order are the same layout
  assert.ok(unpickle(pickle('<', true, [1, 2], bigEndian)) instanceof NumpyArray);
});

test('the TypeScript writer produces the same bytes as the cPickle-form fixture', () => {
  const arrays = [5, 3, 2].map((n, split) => {
    const first = [0, 5, 8][split];
    const x = Array.from({ length: n * 784 }, (_, i) => pixel(first + Math.floor(i / 784), i % 784) / 256);
    const y = Array.from({ length: n }, (_, i) => label(first + i));
    return [ndarray(x, [n, 784], 'f4'), ndarray(y, [n], 'i8')];
  });
  const ours = encodePickle(arrays);
  const fixture = gunzipSync(readFileSync(join(FIXTURES, 'py2-cpickle.pkl.gz')));
  assert.ok(Buffer.from(ours).equals(fixture));
  const top = unpickle(ours) as PyTuple;
  assert.equal(top.items.length, 3);
});

test('a full 70,000-image mnist.pkl.gz written from the bundled IDX reads back bit-identical', () => {
  const { train, test: testSet } = loadBundledMnist();
  const dir = mkdtempSync(join(tmpdir(), 'digitlab-pkl-'));
  try {
    const path = join(dir, 'mnist.pkl.gz');
    writeMnistPickle(path, { train: sliceDataset(train, 0, 50000), validation: sliceDataset(train, 50000, 60000), test: testSet }, { level: 1 });
    const start = performance.now();
    const splits = loadMnistPickle(path);
    const elapsed = performance.now() - start;
    assert.equal(splits.train.count, 50000);
    assert.equal(splits.validation.count, 10000);
    assert.equal(splits.test.count, 10000);
    for (const split of [splits.train, splits.validation, splits.test]) {
      assert.ok(split.images instanceof Uint8Array);
      assert.equal(split.pixelMax, 255);
      assert.equal(split.classes, 10);
    }
    assert.ok(Buffer.from(splits.train.images).equals(Buffer.from(train.images.subarray(0, 50000 * 784))));
    assert.ok(Buffer.from(splits.validation.images).equals(Buffer.from(train.images.subarray(50000 * 784))));
    assert.ok(Buffer.from(splits.test.images).equals(Buffer.from(testSet.images)));
    assert.ok(Buffer.from(splits.train.labels).equals(Buffer.from(train.labels.subarray(0, 50000))));
    assert.ok(Buffer.from(splits.test.labels).equals(Buffer.from(testSet.labels)));
    assert.ok(elapsed < 5000, `loading took ${elapsed.toFixed(0)} ms`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
