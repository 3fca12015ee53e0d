/**
 * The safetensors format (https://github.com/huggingface/safetensors), as PyTorch and Hugging Face
 * write it: 8 bytes of little-endian uint64 header length N, N bytes of UTF-8 JSON describing each
 * tensor (dtype, shape, byte range in the data section), then the raw little-endian row-major data.
 *
 * digitlab writes F32 and I64. It reads F32, F16, BF16 and F64, always handing back Float32Arrays,
 * because a model trained elsewhere in half or double precision should load without a conversion step;
 * and I64, also into a Float32Array, for the integer counters a state_dict holds (BatchNorm's
 * num_batches_tracked): exact up to ±2^24, the largest range in which float32 holds every integer, and
 * refused beyond it rather than rounded.
 * The reader is strict (see FORMATS.md): a file that a careful writer could not have produced is
 * rejected with a message naming the file and the problem, never half-loaded.
 */
import type { NamedTensor } from './model-config.js';

/** The element types digitlab reads. */
export type SafetensorsDtype = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64';

const DTYPE_BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8 };

const READ_DTYPES = 'F32, F16, BF16, F64, I64';

/** Every integer of magnitude up to 2^24 is a float32; 2^24 + 1 is not. */
export const MAX_EXACT_I64 = 2 ** 24;

/** An I64 value to write must be an integer of at most this magnitude (a float beyond it is not one exact integer). */
const MAX_WRITE_I64 = 2 ** 53;

/** Dtypes that the format defines but digitlab does not read: named in the error so it is not mistaken for corruption. */
const OTHER_FORMAT_DTYPES = new Set([
  'BOOL', 'U8', 'I8', 'I16', 'U16', 'I32', 'U32', 'U64', 'F8_E5M2', 'F8_E4M3', 'F8_E8M0', 'F4', 'F6_E2M3', 'F6_E3M2',
  'C64',
]);

/** Same bound as the reference implementation: a larger header is a corrupt or hostile file, not a model. */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

const METADATA_KEY = '__metadata__';

/** What went wrong, for callers (and tests) that branch on it; the message says it for people. */
export type SafetensorsProblem =
  | 'header-length'
  | 'header-bounds'
  | 'header-encoding'
  | 'header-json'
  | 'duplicate-key'
  | 'entry'
  | 'dtype'
  | 'shape'
  | 'offsets'
  | 'byte-count'
  | 'offsets-gap'
  | 'offsets-overlap'
  | 'file-size'
  | 'metadata'
  | 'value-range';

export class SafetensorsFormatError extends Error {
  override readonly name = 'SafetensorsFormatError';
  constructor(
    /** The file (or other source) that was being read. */
    readonly source: string,
    readonly problem: SafetensorsProblem,
    detail: string,
    remedy = 'the file is damaged or was not written by a safetensors writer; write it again ' +
      '(digitlab, or safetensors.torch.save_file in Python)',
  ) {
    super(`cannot read safetensors file ${source}: ${detail}; ${remedy}`);
  }
}

export interface DecodedTensor {
  /** The dtype stored in the file; `data` is always float32 (for I64, integers within ±2^24). */
  dtype: SafetensorsDtype;
  shape: number[];
  data: Float32Array;
}

export interface DecodedSafetensors {
  /** In the order of their data in the file. */
  tensors: Map<string, DecodedTensor>;
  metadata: Record<string, string>;
}

const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function elementCount(shape: readonly number[]): number {
  let count = 1;
  for (const dim of shape) count *= dim;
  return count;
}

function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/**
 * Throws unless every value of an I64 tensor is an integer that int64 holds as it is: refusing is
 * better than writing a truncated 2.5 that PyTorch would then count from.
 */
function checkInt64Values(tensor: NamedTensor): void {
  for (let i = 0; i < tensor.data.length; i++) {
    const value = tensor.data[i];
    if (!Number.isInteger(value) || Math.abs(value) > MAX_WRITE_I64) {
      throw new RangeError(
        `tensor "${tensor.name}" is I64 but its value ${value} at index ${i} is not an integer within ±2^53; ` +
          'I64 tensors hold counters (BatchNorm\'s num_batches_tracked): store other values as F32',
      );
    }
  }
}

/**
 * Serializes tensors as safetensors, data laid out contiguously in the given order: F32, or I64 for
 * a tensor whose `dtype` says so (its Float32Array holding integers, written as little-endian int64).
 * `metadata` goes in `__metadata__` (PyTorch's loader expects `{format: 'pt'}`).
 */
export function encodeSafetensors(tensors: readonly NamedTensor[], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) {
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== 'string') {
        throw new TypeError(`safetensors metadata must map strings to strings; "${key}" is ${typeof value}`);
      }
    }
    // First, as the reference writer does, so a reader scanning the header sees it before the tensors.
    header[METADATA_KEY] = metadata;
  }
  let offset = 0;
  for (const tensor of tensors) {
    if (tensor.name === METADATA_KEY) throw new Error(`a tensor cannot be named "${METADATA_KEY}" (reserved by safetensors)`);
    if (Object.prototype.hasOwnProperty.call(header, tensor.name)) {
      throw new Error(`two tensors are named "${tensor.name}"; safetensors names must be unique`);
    }
    for (const dim of tensor.shape) {
      if (!Number.isSafeInteger(dim) || dim < 0) {
        throw new RangeError(`tensor "${tensor.name}" has shape ${formatShape(tensor.shape)}; dimensions must be non-negative integers`);
      }
    }
    if (elementCount(tensor.shape) !== tensor.data.length) {
      throw new RangeError(
        `tensor "${tensor.name}" has shape ${formatShape(tensor.shape)} (${elementCount(tensor.shape)} elements) ` +
          `but ${tensor.data.length} values`,
      );
    }
    const dtype = writtenDtype(tensor);
    if (dtype === 'I64') checkInt64Values(tensor);
    const end = offset + tensor.data.length * DTYPE_BYTES[dtype];
    header[tensor.name] = { dtype, shape: [...tensor.shape], data_offsets: [offset, end] };
    offset = end;
  }

  const json = new TextEncoder().encode(JSON.stringify(header));
  // Padding to a multiple of 8 puts the data at an 8-aligned file offset, so readers that map the
  // file can view it in place.
  const headerLength = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLength + offset);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  let position = 8 + headerLength;
  for (const tensor of tensors) {
    const dtype = writtenDtype(tensor);
    const bytes = tensor.data.length * DTYPE_BYTES[dtype];
    if (dtype === 'I64') {
      for (let i = 0; i < tensor.data.length; i++) view.setBigInt64(position + 8 * i, BigInt(tensor.data[i]), true);
    } else if (HOST_IS_LITTLE_ENDIAN) {
      out.set(new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, bytes), position);
    } else {
      for (let i = 0; i < tensor.data.length; i++) view.setFloat32(position + 4 * i, tensor.data[i], true);
    }
    position += bytes;
  }
  return out;
}

/** The dtype a tensor is written as: F32 unless it says I64; anything else is a caller's mistake. */
function writtenDtype(tensor: NamedTensor): 'F32' | 'I64' {
  const dtype = tensor.dtype ?? 'F32';
  if (dtype !== 'F32' && dtype !== 'I64') {
    throw new TypeError(`tensor "${tensor.name}" has dtype ${JSON.stringify(dtype)}; digitlab writes F32 or I64`);
  }
  return dtype;
}

/**
 * Finds a repeated key in any object of already-valid JSON text. JSON.parse keeps the last of
 * duplicates silently, so a file with two "layers.0.weight" entries would load whichever came last.
 * Returns the first repeated key, or undefined.
 */
function findDuplicateKey(text: string): string | undefined {
  // One entry per open bracket: the keys seen so far for an object, null for an array.
  const stack: (Set<string> | null)[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '{') {
      stack.push(new Set());
      i++;
    } else if (c === '[') {
      stack.push(null);
      i++;
    } else if (c === '}' || c === ']') {
      stack.pop();
      i++;
    } else if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const literal = text.slice(i, j + 1);
      i = j + 1;
      const keys = stack[stack.length - 1];
      if (keys) {
        let k = i;
        while (k < text.length && (text[k] === ' ' || text[k] === '\t' || text[k] === '\n' || text[k] === '\r')) k++;
        if (text[k] === ':') {
          // Decoding the literal makes "a" and "\u0061" the same key, as they are to JSON.parse.
          const key = JSON.parse(literal) as string;
          if (keys.has(key)) return key;
          keys.add(key);
        }
      }
    } else {
      i++;
    }
  }
  return undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24; // zero and subnormals
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/**
 * Copies one tensor's bytes into a fresh (hence aligned) Float32Array; the source may sit at any offset.
 * Returns the index of the first I64 value float32 cannot hold exactly instead, for the caller to report.
 */
function toFloat32(bytes: Uint8Array, dtype: SafetensorsDtype, count: number): Float32Array | { index: number; value: bigint } {
  const out = new Float32Array(count);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'F32':
      if (HOST_IS_LITTLE_ENDIAN) new Uint8Array(out.buffer).set(bytes);
      else for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
      break;
    case 'F64':
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(8 * i, true);
      break;
    case 'F16':
      for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
      break;
    case 'BF16': {
      // bfloat16 is the top half of a float32: shifting the bits back is exact.
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) bits[i] = view.getUint16(2 * i, true) << 16;
      break;
    }
    case 'I64': {
      const limit = BigInt(MAX_EXACT_I64);
      for (let i = 0; i < count; i++) {
        const value = view.getBigInt64(8 * i, true);
        if (value > limit || value < -limit) return { index: i, value };
        out[i] = Number(value);
      }
      break;
    }
  }
  return out;
}

interface HeaderEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
}

function parseEntry(source: string, name: string, value: unknown): HeaderEntry {
  const fail = (problem: SafetensorsProblem, detail: string, remedy?: string): never => {
    throw new SafetensorsFormatError(source, problem, `tensor "${name}": ${detail}`, remedy);
  };
  if (!isPlainObject(value)) return fail('entry', 'expected an object with dtype, shape and data_offsets');
  const { dtype, shape, data_offsets: offsets } = value;
  if (typeof dtype !== 'string') return fail('dtype', 'dtype is missing or not a string');
  if (!Object.prototype.hasOwnProperty.call(DTYPE_BYTES, dtype)) {
    if (OTHER_FORMAT_DTYPES.has(dtype)) {
      return fail(
        'dtype',
        `dtype ${dtype} is valid safetensors but not one digitlab reads (${READ_DTYPES})`,
        'convert the weights to float32 before saving (in PyTorch: {k: v.float() for k, v in state_dict.items()})',
      );
    }
    return fail('dtype', `unknown dtype "${dtype}" (digitlab reads ${READ_DTYPES})`);
  }
  if (!Array.isArray(shape) || !shape.every((dim) => Number.isSafeInteger(dim) && (dim as number) >= 0)) {
    return fail('shape', `shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((offset) => Number.isSafeInteger(offset) && (offset as number) >= 0) ||
    (offsets[0] as number) > (offsets[1] as number)
  ) {
    return fail('offsets', `data_offsets ${JSON.stringify(offsets)} is not [begin, end] with integers 0 ≤ begin ≤ end`);
  }
  const [begin, end] = offsets as [number, number];
  const typedShape = shape as number[];
  const expectedBytes = elementCount(typedShape) * DTYPE_BYTES[dtype as SafetensorsDtype];
  if (end - begin !== expectedBytes) {
    return fail(
      'byte-count',
      `shape ${formatShape(typedShape)} of ${dtype} needs ${expectedBytes} bytes but data_offsets [${begin}, ${end}] hold ${end - begin}`,
    );
  }
  return { name, dtype: dtype as SafetensorsDtype, shape: typedShape, begin, end };
}

/**
 * Reads and validates a safetensors file. `source` (usually the path) is named in every error.
 * Each tensor's data is copied out, so the result does not keep `buffer` alive.
 */
export function decodeSafetensors(buffer: Uint8Array, source: string): DecodedSafetensors {
  const fail = (problem: SafetensorsProblem, detail: string): never => {
    throw new SafetensorsFormatError(source, problem, detail);
  };
  if (buffer.length < 8) fail('header-length', `the file is ${buffer.length} bytes, too short for the 8-byte header length`);
  const bytes = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  const declared = bytes.getBigUint64(0, true);
  if (declared > BigInt(MAX_HEADER_BYTES)) {
    fail('header-length', `the header length is ${declared} bytes, more than the ${MAX_HEADER_BYTES}-byte limit`);
  }
  const headerLength = Number(declared);
  if (headerLength < 2) fail('header-length', `the header length is ${headerLength} bytes, too short for a JSON object`);
  if (8 + headerLength > buffer.length) {
    fail('header-bounds', `the header claims ${headerLength} bytes but only ${buffer.length - 8} follow the length field`);
  }

  let text = '';
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(buffer.subarray(8, 8 + headerLength));
  } catch {
    fail('header-encoding', 'the header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (error) {
    fail('header-json', `the header is not valid JSON (${(error as Error).message})`);
  }
  if (!isPlainObject(header)) fail('header-json', 'the header is JSON but not an object');
  const duplicate = findDuplicateKey(text);
  if (duplicate !== undefined) fail('duplicate-key', `the header has the key "${duplicate}" more than once`);

  const metadata: Record<string, string> = {};
  const entries: HeaderEntry[] = [];
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      if (value === null) continue; // the reference reader treats null as absent
      if (!isPlainObject(value)) fail('metadata', `${METADATA_KEY} must be an object mapping strings to strings`);
      for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
        if (typeof item !== 'string') fail('metadata', `${METADATA_KEY}["${key}"] is ${JSON.stringify(item)}, not a string`);
        metadata[key] = item as string;
      }
      continue;
    }
    entries.push(parseEntry(source, name, value));
  }

  // Sorted by begin, each tensor must start exactly where the previous one ended: a gap would be
  // unaccounted bytes, an overlap two tensors sharing storage.
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expectedBegin = 0;
  let previous: HeaderEntry | undefined;
  for (const entry of entries) {
    const after = previous ? `after "${previous.name}" ends at ${expectedBegin}` : 'at the start of the data';
    if (entry.begin > expectedBegin) {
      fail('offsets-gap', `tensor "${entry.name}" begins at byte ${entry.begin}, leaving a gap ${after}`);
    }
    if (entry.begin < expectedBegin) {
      fail('offsets-overlap', `tensor "${entry.name}" begins at byte ${entry.begin}, overlapping the data ${after}`);
    }
    expectedBegin = entry.end;
    previous = entry;
  }
  const dataStart = 8 + headerLength;
  const dataLength = buffer.length - dataStart;
  if (expectedBegin !== dataLength) {
    fail(
      'file-size',
      expectedBegin < dataLength
        ? `${dataLength - expectedBegin} trailing bytes after the last tensor (the header accounts for ${expectedBegin} data bytes, the file has ${dataLength})`
        : `the file is truncated: the header accounts for ${expectedBegin} data bytes but the file has ${dataLength}`,
    );
  }

  const tensors = new Map<string, DecodedTensor>();
  for (const entry of entries) {
    const data = toFloat32(buffer.subarray(dataStart + entry.begin, dataStart + entry.end), entry.dtype, elementCount(entry.shape));
    if (!(data instanceof Float32Array)) {
      throw new SafetensorsFormatError(
        source, 'value-range',
        `tensor "${entry.name}": I64 value ${data.value} at index ${data.index} is beyond ±2^24 (${MAX_EXACT_I64}), ` +
          'the integers a float32 holds exactly',
        'digitlab reads I64 only for counters such as BatchNorm\'s num_batches_tracked; reset the counter ' +
          '(in PyTorch: module.num_batches_tracked.zero_()) or store the tensor as F32 before saving',
      );
    }
    tensors.set(entry.name, { dtype: entry.dtype, shape: entry.shape, data });
  }
  return { tensors, metadata };
}
