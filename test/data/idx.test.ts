import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { encodeIdx, loadIdxDirectory, parseIdx, readIdxFile, writeIdxFile, idxImages, idxLabels } from '../../src/data/idx.js';
import { IdxFormatError, IdxPixelTypeError } from '../../src/data/errors.js';

function withTempDir(body: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'digitlab-idx-'));
  try {
    body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const pixels = Uint8Array.from({ length: 3 * 4 * 5 }, (_, i) => (i * 37) % 256);
const labels = Uint8Array.from([2, 0, 7]);

test('uint8 round trip keeps a Uint8Array view', () => {
  const bytes = encodeIdx(pixels, [3, 4, 5]);
  assert.equal(bytes.length, 16 + 60);
  assert.deepEqual([...bytes.subarray(0, 4)], [0, 0, 8, 3]);
  const array = parseIdx(bytes);
  assert.equal(array.dtype, 'uint8');
  assert.deepEqual(array.shape, [3, 4, 5]);
  assert.ok(array.data instanceof Uint8Array);
  assert.equal(array.data.buffer, bytes.buffer, 'no copy');
  assert.deepEqual([...array.data], [...pixels]);
});

for (const dtype of ['int8', 'int16', 'int32', 'float32', 'float64'] as const) {
  test(`${dtype} data is converted to Float32Array`, () => {
    const values = dtype === 'int8' ? [-3, 0, 5, 127] : dtype.startsWith('float') ? [0.5, -1.25, 3, 100.75] : [-300, 0, 7, 30000];
    const array = parseIdx(encodeIdx(values, [2, 2], dtype));
    assert.equal(array.dtype, dtype);
    assert.ok(array.data instanceof Float32Array);
    assert.deepEqual([...array.data], values);
  });
}

test('gzip is detected by content; a .gz name with plain content is refused', () => {
  withTempDir((dir) => {
    const gz = join(dir, 'a-idx3-ubyte.gz');
    writeIdxFile(gz, pixels, [3, 4, 5], { gzip: true });
    assert.deepEqual([...readIdxFile(gz).data], [...pixels]);
    const gzNoExt = join(dir, 'b');
    writeFileSync(gzNoExt, gzipSync(encodeIdx(labels, [3])));
    assert.deepEqual([...readIdxFile(gzNoExt).data], [...labels]);
    const fake = join(dir, 'c.gz');
    writeFileSync(fake, '<html>Not Found</html>');
    assert.throws(() => readIdxFile(fake), (e: Error) => e instanceof IdxFormatError && /not gzip/.test(e.message) && e.message.includes(fake));
  });
});

test('bad headers give actionable errors', () => {
  assert.throws(() => parseIdx(Uint8Array.of(0, 0)), /too short/);
  assert.throws(() => parseIdx(Uint8Array.of(1, 0, 8, 1, 0, 0, 0, 0)), /first two bytes are 01 00/);
  assert.throws(() => parseIdx(Uint8Array.of(0, 0, 7, 1, 0, 0, 0, 0)), /unknown IDX data type byte 07/);
  assert.throws(() => parseIdx(Uint8Array.of(0, 0, 8, 0)), /0 dimensions/);
  assert.throws(() => parseIdx(Uint8Array.of(0, 0, 8, 3, 0, 0)), /too short for an IDX header with 3 dimensions/);
});

test('a truncated file names expected and actual byte counts', () => {
  const bytes = encodeIdx(pixels, [3, 4, 5]);
  assert.throws(
    () => parseIdx(bytes.subarray(0, bytes.length - 7), 'x.idx'),
    (e: Error) => e instanceof IdxFormatError && /truncated/.test(e.message) && e.message.includes('76') && e.message.includes('69') && e.message.startsWith('x.idx'),
  );
  const longer = new Uint8Array(bytes.length + 1);
  longer.set(bytes);
  assert.throws(() => parseIdx(longer), /longer than its header says/);
});

test('images must be 3-D and labels 1-D, integers in 0..255', () => {
  assert.throws(() => idxImages(parseIdx(encodeIdx(labels, [3]))), /3 dimensions/);
  assert.throws(() => idxLabels(parseIdx(encodeIdx(pixels, [3, 4, 5]))), /1 dimension/);
  assert.throws(() => idxLabels(parseIdx(encodeIdx([1, 300], [2], 'int32'))), /label 1 is 300/);
  assert.throws(() => idxLabels(parseIdx(encodeIdx([1, 2.5], [2], 'float32'))), /label 1 is 2.5/);
  assert.throws(() => idxLabels(parseIdx(encodeIdx([1, -1], [2], 'int8'))), /label 1 is -1/);
  assert.deepEqual(idxLabels(parseIdx(encodeIdx(labels, [3]))).classes, 8);
  assert.deepEqual(idxLabels(parseIdx(encodeIdx(labels, [3])), '', 10).classes, 10);
  assert.throws(() => idxLabels(parseIdx(encodeIdx(labels, [3])), '', 5), /a label is 7/);
  const int32Labels = idxLabels(parseIdx(encodeIdx([4, 1], [2], 'int32')));
  assert.ok(int32Labels.labels instanceof Uint8Array);
  assert.deepEqual([...int32Labels.labels], [4, 1]);
});

test('pixelMax: 255 for uint8, 1 for floats already in [0, 1]', () => {
  assert.equal(idxImages(parseIdx(encodeIdx(pixels, [3, 4, 5]))).pixelMax, 255);
  assert.equal(idxImages(parseIdx(encodeIdx([0, 0.5, 1, 0.25], [1, 2, 2], 'float32'))).pixelMax, 1);
  assert.equal(idxImages(parseIdx(encodeIdx([0, 50, 200, 3], [1, 2, 2], 'int16'))).pixelMax, 255);
});

test('loadIdxDirectory finds both spellings, raw and gz, and checks counts', () => {
  withTempDir((dir) => {
    writeIdxFile(join(dir, 'train-images-idx3-ubyte.gz'), pixels, [3, 4, 5], { gzip: true });
    writeIdxFile(join(dir, 'train-labels-idx1-ubyte'), labels, [3]);
    writeIdxFile(join(dir, 't10k-images.idx3-ubyte'), pixels.subarray(0, 40), [2, 4, 5]);
    writeIdxFile(join(dir, 't10k-labels.idx1-ubyte.gz'), [9, 1], [2], { gzip: true });
    const { train, test: testSet } = loadIdxDirectory(dir);
    assert.equal(train.count, 3);
    assert.equal(testSet.count, 2);
    assert.equal(train.height, 4);
    assert.equal(train.width, 5);
    assert.equal(train.classes, 10, 'class count shared between train and test');
    assert.equal(testSet.classes, 10);
    assert.deepEqual([...testSet.labels], [9, 1]);
    writeIdxFile(join(dir, 't10k-labels.idx1-ubyte.gz'), [9, 1, 1], [3], { gzip: true });
    assert.throws(() => loadIdxDirectory(dir), /has 2 images but .* has 3 labels/);
  });
});

test('loadIdxDirectory lists what it looked for', () => {
  withTempDir((dir) => {
    writeFileSync(join(dir, 'readme.txt'), '');
    assert.throws(() => loadIdxDirectory(dir), (e: Error) => /train-images-idx3-ubyte/.test(e.message) && /readme\.txt/.test(e.message));
  });
  assert.throws(() => loadIdxDirectory('/nonexistent/dir'), /cannot read the directory/);
});

test('a training split of signed bytes beside unsigned test images is refused, naming both files and types', () => {
  withTempDir((dir) => {
    const signed = Int8Array.from({ length: 3 * 4 * 5 }, (_, i) => (i * 37) % 256 - 128);
    writeIdxFile(join(dir, 'train-images-idx3-ubyte'), signed, [3, 4, 5], { dtype: 'int8' });
    writeIdxFile(join(dir, 'train-labels-idx1-ubyte'), labels, [3]);
    writeIdxFile(join(dir, 't10k-images-idx3-ubyte'), pixels.subarray(0, 40), [2, 4, 5]);
    writeIdxFile(join(dir, 't10k-labels-idx1-ubyte'), [1, 0], [2]);
    assert.throws(
      () => loadIdxDirectory(dir),
      (e: Error) =>
        e instanceof IdxPixelTypeError &&
        e.train.type === 'int8' && e.test.type === 'uint8' &&
        e.message.includes(join(dir, 'train-images-idx3-ubyte')) && e.message.includes(join(dir, 't10k-images-idx3-ubyte')) &&
        /int8 \(IDX type 0x09\)/.test(e.message) && /uint8 \(IDX type 0x08\)/.test(e.message) &&
        /same type/.test(e.message),
    );
    // The same types on both sides load, whatever the type.
    writeIdxFile(join(dir, 't10k-images-idx3-ubyte'), signed.subarray(0, 40), [2, 4, 5], { dtype: 'int8' });
    assert.equal(loadIdxDirectory(dir).test.count, 2);
  });
});
