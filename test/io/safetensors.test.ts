import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodeSafetensors,
  encodeSafetensors,
  MAX_EXACT_I64,
  MAX_HEADER_BYTES,
  SafetensorsFormatError,
  type SafetensorsProblem,
} from '../../src/io/safetensors.js';

/** A file from literal header text and data bytes; `declaredLength` overrides the length field. */
function rawFile(header: string, data: Uint8Array | number[] = [], declaredLength?: number | bigint): Buffer {
  const json = Buffer.from(header, 'utf8');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(declaredLength ?? json.length));
  return Buffer.concat([length, json, Buffer.from(data)]);
}

function f32Bytes(values: number[]): Buffer {
  const out = Buffer.alloc(4 * values.length);
  values.forEach((value, i) => out.writeFloatLE(value, 4 * i));
  return out;
}

function entry(dtype: string, shape: number[], begin: number, end: number): object {
  return { dtype, shape, data_offsets: [begin, end] };
}

function expectProblem(file: Uint8Array, problem: SafetensorsProblem, pattern: RegExp): void {
  assert.throws(
    () => decodeSafetensors(file, 'weights/bad.safetensors'),
    (error: unknown) => {
      assert.ok(error instanceof SafetensorsFormatError, `expected SafetensorsFormatError, got ${String(error)}`);
      assert.equal(error.problem, problem, error.message);
      assert.match(error.message, /weights\/bad\.safetensors/);
      assert.match(error.message, pattern);
      return true;
    },
  );
}

describe('encodeSafetensors / decodeSafetensors', () => {
  it('round-trips tensors, including a scalar and an empty tensor, with metadata', () => {
    const tensors = [
      { name: 'layers.0.weight', shape: [2, 3], data: new Float32Array([1, -2, 3.5, 0, -0, 1e-30]) },
      { name: 'layers.0.bias', shape: [2], data: new Float32Array([NaN, Infinity]) },
      { name: 'scale', shape: [], data: new Float32Array([0.25]) },
      { name: 'empty', shape: [0, 4], data: new Float32Array(0) },
    ];
    const file = encodeSafetensors(tensors, { format: 'pt', note: 'ünïcode ✓' });
    const decoded = decodeSafetensors(file, 'memory');
    assert.deepEqual(decoded.metadata, { format: 'pt', note: 'ünïcode ✓' });
    assert.deepEqual([...decoded.tensors.keys()], tensors.map((t) => t.name));
    for (const tensor of tensors) {
      const got = decoded.tensors.get(tensor.name);
      assert.ok(got, tensor.name);
      assert.equal(got.dtype, 'F32');
      assert.deepEqual(got.shape, tensor.shape);
      assert.deepEqual(got.data, tensor.data);
    }
  });

  it('keeps the data in the given order, after a header padded with spaces to a multiple of 8', () => {
    const file = Buffer.from(encodeSafetensors([
      { name: 'b', shape: [1], data: new Float32Array([2]) },
      { name: 'a', shape: [1], data: new Float32Array([1]) },
    ]));
    const headerLength = Number(file.readBigUInt64LE(0));
    assert.equal(headerLength % 8, 0);
    const header = file.subarray(8, 8 + headerLength).toString('utf8');
    assert.match(header, /^\{.*\} *$/);
    assert.deepEqual(JSON.parse(header), {
      b: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
      a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] },
    });
    assert.deepEqual([...new Float32Array(file.buffer.slice(file.byteOffset + 8 + headerLength, file.byteOffset + file.length))], [2, 1]);
  });

  it('writes exactly the bytes the format specifies', () => {
    const header = '{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
    const padded = header + ' '.repeat((8 - (header.length % 8)) % 8);
    const expected = rawFile(padded, f32Bytes([1, -2]));
    const written = encodeSafetensors([{ name: 'w', shape: [2], data: new Float32Array([1, -2]) }], { format: 'pt' });
    assert.ok(written instanceof Uint8Array);
    assert.deepEqual(Buffer.from(written), expected);
  });

  it('reads a hand-built file whose data starts at an unaligned offset', () => {
    // An odd header length (no writer's padding) puts the data at an odd offset.
    const json = JSON.stringify({ x: entry('F32', [3], 0, 12), y: entry('F32', [1], 12, 16) });
    const header = json.length % 2 === 1 ? json : json + ' ';
    assert.equal((8 + header.length) % 2, 1);
    const file = rawFile(header, f32Bytes([0.5, -1.25, 3e38, 7]));
    // A Buffer slice at an odd offset of a larger allocation, as a file read can produce.
    const host = Buffer.alloc(file.length + 3);
    file.copy(host, 3);
    const decoded = decodeSafetensors(host.subarray(3), 'hand-built');
    assert.deepEqual(decoded.metadata, {});
    assert.deepEqual([...decoded.tensors.get('x')!.data], [0.5, -1.25, Math.fround(3e38)]);
    assert.deepEqual([...decoded.tensors.get('y')!.data], [7]);
    assert.equal(decoded.tensors.get('x')!.data.byteOffset % 4, 0);
  });

  it('converts F16, BF16 and F64 to float32', () => {
    const half = Buffer.alloc(12);
    [0x3c00, 0xc000, 0x0001, 0x7bff, 0xfc00, 0x8000].forEach((bits, i) => half.writeUInt16LE(bits, 2 * i));
    const bfloat = Buffer.alloc(4);
    bfloat.writeUInt16LE(0x3f80, 0);
    bfloat.writeUInt16LE(0xc0a0, 2);
    const double = Buffer.alloc(16);
    double.writeDoubleLE(0.1, 0);
    double.writeDoubleLE(-1e300, 8);
    const header = JSON.stringify({
      h: entry('F16', [2, 3], 0, 12),
      b: entry('BF16', [2], 12, 16),
      d: entry('F64', [2], 16, 32),
    });
    const decoded = decodeSafetensors(rawFile(header, Buffer.concat([half, bfloat, double])), 'dtypes');
    const h = decoded.tensors.get('h')!;
    assert.equal(h.dtype, 'F16');
    assert.deepEqual([...h.data], [1, -2, 2 ** -24, 65504, -Infinity, -0]);
    assert.deepEqual([...decoded.tensors.get('b')!.data], [1, -5]);
    assert.deepEqual([...decoded.tensors.get('d')!.data], [Math.fround(0.1), -Infinity]);
    const nan = Buffer.alloc(2);
    nan.writeUInt16LE(0x7e00, 0);
    assert.ok(Number.isNaN(decodeSafetensors(rawFile(JSON.stringify({ n: entry('F16', [1], 0, 2) }), nan), 'nan').tensors.get('n')!.data[0]));
  });

  it('accepts a file with no tensors and null metadata', () => {
    assert.equal(decodeSafetensors(rawFile('{}'), 'empty').tensors.size, 0);
    assert.equal(decodeSafetensors(rawFile('{"__metadata__":null}  '), 'empty').tensors.size, 0);
    assert.equal(decodeSafetensors(encodeSafetensors([]), 'empty').tensors.size, 0);
  });

  it('refuses to encode inconsistent tensors', () => {
    assert.throws(() => encodeSafetensors([{ name: 'w', shape: [2, 2], data: new Float32Array(3) }]), /shape \[2, 2\] \(4 elements\) but 3 values/);
    assert.throws(
      () => encodeSafetensors([
        { name: 'w', shape: [1], data: new Float32Array(1) },
        { name: 'w', shape: [1], data: new Float32Array(1) },
      ]),
      /two tensors are named "w"/,
    );
    assert.throws(() => encodeSafetensors([{ name: '__metadata__', shape: [0], data: new Float32Array(0) }]), /reserved/);
    assert.throws(() => encodeSafetensors([], { n: 1 as unknown as string }), /strings to strings/);
  });
});

describe('decodeSafetensors rejects corrupt files, each with its own error', () => {
  const good = { w: entry('F32', [2], 0, 8) };
  const eightBytes = f32Bytes([1, 2]);

  it('a file shorter than the length field', () => {
    expectProblem(Buffer.from([1, 2, 3]), 'header-length', /3 bytes, too short/);
  });

  it('a header length over the 100 MB limit', () => {
    expectProblem(rawFile('{}', [], BigInt(MAX_HEADER_BYTES) + 1n), 'header-length', /more than the 104857600-byte limit/);
    expectProblem(rawFile('{}', [], 2n ** 64n - 1n), 'header-length', /limit/);
  });

  it('a header longer than the file', () => {
    expectProblem(rawFile(JSON.stringify(good), eightBytes, 500), 'header-bounds', /claims 500 bytes but only \d+ follow/);
  });

  it('a header that is not UTF-8', () => {
    const file = rawFile('{"w":1}');
    file[10] = 0xff;
    expectProblem(file, 'header-encoding', /not valid UTF-8/);
  });

  it('a header that is not JSON, or not a JSON object', () => {
    expectProblem(rawFile('{"w": {"dtype": "F32",', eightBytes), 'header-json', /not valid JSON/);
    expectProblem(rawFile('[1, 2]  '), 'header-json', /not an object/);
  });

  it('a duplicate key, at the top level or inside an entry, however it is spelled', () => {
    const entryText = '{"dtype":"F32","shape":[2],"data_offsets":[0,8]}';
    expectProblem(rawFile(`{"w":${entryText},"w":${entryText}}`, eightBytes), 'duplicate-key', /"w" more than once/);
    expectProblem(rawFile(`{"w":${entryText},"\\u0077":${entryText}}`, eightBytes), 'duplicate-key', /"w" more than once/);
    expectProblem(
      rawFile('{"w":{"dtype":"F32","dtype":"F16","shape":[2],"data_offsets":[0,8]}}', eightBytes),
      'duplicate-key',
      /"dtype" more than once/,
    );
    // Keys that only look alike inside string values are not keys.
    const tricky = JSON.stringify({ __metadata__: { a: '"w":', b: '{"w":1}' }, w: entry('F32', [2], 0, 8) });
    assert.equal(decodeSafetensors(rawFile(tricky, eightBytes), 'tricky').tensors.size, 1);
  });

  it('a gap between tensors, or before the first', () => {
    const gap = JSON.stringify({ a: entry('F32', [1], 0, 4), b: entry('F32', [1], 8, 12) });
    expectProblem(rawFile(gap, f32Bytes([1, 2, 3])), 'offsets-gap', /"b" begins at byte 8, leaving a gap after "a" ends at 4/);
    const late = JSON.stringify({ a: entry('F32', [1], 4, 8) });
    expectProblem(rawFile(late, eightBytes), 'offsets-gap', /at the start of the data/);
  });

  it('overlapping tensors', () => {
    const overlap = JSON.stringify({ a: entry('F32', [2], 0, 8), b: entry('F32', [2], 4, 12) });
    expectProblem(rawFile(overlap, f32Bytes([1, 2, 3])), 'offsets-overlap', /"b" begins at byte 4, overlapping the data after "a" ends at 8/);
  });

  it('a byte range that does not fit the shape', () => {
    const wrong = JSON.stringify({ w: entry('F32', [2, 3], 0, 20) });
    expectProblem(rawFile(wrong, f32Bytes([1, 2, 3, 4, 5])), 'byte-count', /"w": shape \[2, 3\] of F32 needs 24 bytes but data_offsets \[0, 20\] hold 20/);
    const half = JSON.stringify({ h: entry('F16', [3], 0, 12) });
    expectProblem(rawFile(half, f32Bytes([1, 2, 3])), 'byte-count', /needs 6 bytes/);
  });

  it('trailing bytes after the last tensor, or data cut short', () => {
    expectProblem(rawFile(JSON.stringify(good), f32Bytes([1, 2, 3])), 'file-size', /4 trailing bytes/);
    expectProblem(rawFile(JSON.stringify(good), f32Bytes([1])), 'file-size', /truncated: the header accounts for 8 data bytes but the file has 4/);
  });

  it('an unknown dtype, or a real one digitlab does not read', () => {
    expectProblem(rawFile(JSON.stringify({ w: entry('F33', [2], 0, 8) }), eightBytes), 'dtype', /unknown dtype "F33"/);
    expectProblem(rawFile(JSON.stringify({ w: entry('I32', [2], 0, 8) }), eightBytes), 'dtype', /I32 is valid safetensors.*convert the weights to float32/);
    expectProblem(rawFile(JSON.stringify({ w: entry('U64', [1], 0, 8) }), eightBytes), 'dtype', /U64 is valid safetensors but not one digitlab reads \(F32, F16, BF16, F64, I64\)/);
    expectProblem(rawFile(JSON.stringify({ w: { shape: [2], data_offsets: [0, 8] } }), eightBytes), 'dtype', /dtype is missing/);
  });

  it('a shape that is not a list of non-negative integers', () => {
    expectProblem(rawFile(JSON.stringify({ w: entry('F32', [-2], 0, 8) }), eightBytes), 'shape', /\[-2\]/);
    expectProblem(rawFile(JSON.stringify({ w: entry('F32', [1.5], 0, 8) }), eightBytes), 'shape', /non-negative integers/);
    expectProblem(rawFile(JSON.stringify({ w: { dtype: 'F32', shape: '2', data_offsets: [0, 8] } }), eightBytes), 'shape', /"2"/);
  });

  it('data_offsets that are not [begin, end]', () => {
    expectProblem(rawFile(JSON.stringify({ w: entry('F32', [2], 8, 0) }), eightBytes), 'offsets', /\[8,0\]/);
    expectProblem(rawFile(JSON.stringify({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 4, 8] } }), eightBytes), 'offsets', /begin, end/);
    expectProblem(rawFile(JSON.stringify({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 8.5] } }), eightBytes), 'offsets', /integers/);
  });

  it('an entry that is not an object', () => {
    expectProblem(rawFile(JSON.stringify({ w: [1, 2] })), 'entry', /"w": expected an object/);
  });

  it('metadata that is not a string-to-string map', () => {
    expectProblem(rawFile(JSON.stringify({ __metadata__: { epochs: 3 } })), 'metadata', /\["epochs"\] is 3, not a string/);
    expectProblem(rawFile(JSON.stringify({ __metadata__: ['pt'] })), 'metadata', /must be an object/);
  });
});

describe('I64 tensors (integer counters such as num_batches_tracked)', () => {
  function i64Bytes(values: bigint[]): Buffer {
    const out = Buffer.alloc(8 * values.length);
    values.forEach((value, i) => out.writeBigInt64LE(value, 8 * i));
    return out;
  }

  it('are written as little-endian int64, 8 bytes a value, beside F32 tensors', () => {
    const file = Buffer.from(encodeSafetensors([
      { name: 'w', shape: [2], data: new Float32Array([0.5, -1]) },
      { name: 'count', shape: [], dtype: 'I64', data: new Float32Array([938]) },
      { name: 'steps', shape: [3], dtype: 'I64', data: new Float32Array([-3, 0, MAX_EXACT_I64]) },
    ]));
    const headerLength = Number(file.readBigUInt64LE(0));
    const header = JSON.parse(file.subarray(8, 8 + headerLength).toString('utf8'));
    assert.deepEqual(header.count, { dtype: 'I64', shape: [], data_offsets: [8, 16] });
    assert.deepEqual(header.steps, { dtype: 'I64', shape: [3], data_offsets: [16, 40] });
    assert.equal(header.w.dtype, 'F32');
    const data = file.subarray(8 + headerLength);
    assert.equal(data.length, 40);
    assert.equal(data.readBigInt64LE(8), 938n);
    assert.deepEqual([16, 24, 32].map((at) => data.readBigInt64LE(at)), [-3n, 0n, 16777216n]);

    const decoded = decodeSafetensors(file, 'memory');
    assert.equal(decoded.tensors.get('count')?.dtype, 'I64');
    assert.deepEqual(decoded.tensors.get('count')?.data, new Float32Array([938]));
    assert.deepEqual(decoded.tensors.get('steps')?.data, new Float32Array([-3, 0, MAX_EXACT_I64]));
    assert.deepEqual(decoded.tensors.get('w')?.data, new Float32Array([0.5, -1]));
  });

  it('reads a file written elsewhere, and refuses a value float32 cannot hold exactly, naming the tensor', () => {
    const header = JSON.stringify({ 'layers.1.num_batches_tracked': entry('I64', [2], 0, 16) });
    const ok = decodeSafetensors(rawFile(header, i64Bytes([16777216n, -16777216n])), 'ok');
    assert.deepEqual(ok.tensors.get('layers.1.num_batches_tracked')?.data, new Float32Array([16777216, -16777216]));
    expectProblem(
      rawFile(header, i64Bytes([1n, 16777217n])),
      'value-range',
      /tensor "layers\.1\.num_batches_tracked": I64 value 16777217 at index 1 is beyond ±2\^24 .*num_batches_tracked\.zero_\(\)/,
    );
    expectProblem(rawFile(header, i64Bytes([-(2n ** 62n), 0n])), 'value-range', /I64 value -4611686018427387904 at index 0/);
  });

  it('refuses to write a non-integer or a value beyond 2^53', () => {
    const i64 = (value: number) => [{ name: 'n', shape: [1], dtype: 'I64' as const, data: new Float32Array([value]) }];
    assert.throws(() => encodeSafetensors(i64(2.5)), /tensor "n" is I64 but its value 2\.5 at index 0 is not an integer within ±2\^53/);
    assert.throws(() => encodeSafetensors(i64(NaN)), /value NaN/);
    assert.throws(() => encodeSafetensors(i64(2 ** 60)), /is not an integer within ±2\^53/);
    assert.doesNotThrow(() => encodeSafetensors(i64(2 ** 53)));
    const other = [{ name: 'x', shape: [1], dtype: 'F16', data: new Float32Array(1) }] as unknown as Parameters<typeof encodeSafetensors>[0];
    assert.throws(() => encodeSafetensors(other), /tensor "x" has dtype "F16"; digitlab writes F32 or I64/);
  });
});
