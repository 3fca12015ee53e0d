/**
 * A restricted unpickler for the PyTorch tutorial's `mnist.pkl.gz` (see docs: FORMATS.md).
 *
 * Pickle is a program for a stack machine that may call any Python function. This reader implements
 * only the opcodes such a file uses and a fixed list of globals (numpy array and dtype reconstruction,
 * and `_codecs.encode` which Python 3 uses for byte strings). It never calls anything: REDUCE and BUILD
 * on those globals build plain descriptions of arrays. Any other global is refused when its opcode is
 * read, before anything is done with it.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import type { Dataset, DatasetSplits } from './dataset.js';
import { PickleFormatError, PickleSecurityError } from './errors.js';
import { isGzip } from './idx.js';

/** The globals a numpy array pickle needs, under numpy < 2 and numpy >= 2 module names. */
const ALLOWED_GLOBALS = new Set([
  'numpy.core.multiarray._reconstruct',
  'numpy._core.multiarray._reconstruct',
  'numpy.ndarray',
  'numpy.dtype',
  '_codecs.encode',
]);

/** A reference to an allowed global, as pushed by GLOBAL / STACK_GLOBAL. */
export class PyGlobal {
  constructor(readonly qualifiedName: string) {}
}

/** A Python 2 `str` or Python 3 `bytes`: raw bytes (a view into the pickle, not a copy). */
export class PyBytes {
  constructor(readonly bytes: Uint8Array) {}
}

/** A Python tuple (lists are plain arrays). */
export class PyTuple {
  constructor(readonly items: PyValue[]) {}
}

/**
 * A large unicode string kept as its UTF-8 bytes: Python 3 protocol 2 pickles store array data as
 * latin-1 text, and decoding 150 MB into a JavaScript string only to re-encode it would be wasteful.
 */
export class PyLazyUnicode {
  constructor(readonly utf8: Uint8Array) {}
}

export type NumpyDtypeName = 'u1' | 'i1' | 'i2' | 'i4' | 'i8' | 'u2' | 'u4' | 'f4' | 'f8' | 'b1';

const DTYPE_SIZES: Record<NumpyDtypeName, number> = { u1: 1, i1: 1, b1: 1, i2: 2, u2: 2, i4: 4, u4: 4, i8: 8, f4: 4, f8: 8 };

/** A numpy dtype as reconstructed by `numpy.dtype(name, False, True)` then BUILD. */
export class NumpyDtype {
  /** '<' little-endian, '>' big-endian, '|' not applicable (one byte). */
  byteOrder: '<' | '>' | '|' = '<';
  constructor(readonly name: NumpyDtypeName) {
    if (DTYPE_SIZES[name] === 1) this.byteOrder = '|';
  }
  get itemSize(): number {
    return DTYPE_SIZES[this.name];
  }
}

/** A numpy array: shape, dtype, and its raw C-order bytes. */
export class NumpyArray {
  shape: number[] = [];
  dtype: NumpyDtype | undefined;
  data: Uint8Array | undefined;
  /** Element count. */
  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
}

export type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | PyBytes
  | PyLazyUnicode
  | PyTuple
  | PyValue[]
  | Map<PyValue, PyValue>
  | PyGlobal
  | NumpyDtype
  | NumpyArray;

const textDecoder = new TextDecoder('utf-8', { fatal: true });
const LAZY_UNICODE_BYTES = 4096;

/** Text of a str/bytes value (dtype names, byte order marks): latin-1 for byte strings. */
function textOf(value: PyValue): string | undefined {
  if (typeof value === 'string') return value;
  if (value instanceof PyBytes) return Buffer.from(value.bytes.buffer, value.bytes.byteOffset, value.bytes.byteLength).toString('latin1');
  if (value instanceof PyLazyUnicode) return textDecoder.decode(value.utf8);
  return undefined;
}

function describe(value: PyValue): string {
  if (value === null) return 'None';
  if (value instanceof PyTuple) return `tuple of ${value.items.length}`;
  if (Array.isArray(value)) return `list of ${value.length}`;
  if (value instanceof NumpyArray) return `array [${value.shape.join(', ')}] ${value.dtype?.name ?? '?'}`;
  if (typeof value === 'object') return value.constructor.name;
  return typeof value;
}

/**
 * Runs a pickle stream (already gunzipped) and returns its top-level value. `path` is only used in
 * error messages.
 */
export function unpickle(bytes: Uint8Array, path = ''): PyValue {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: PyValue[] = [];
  const marks: number[] = [];
  const memo = new Map<number, PyValue>();
  let at = 0;
  let opcodeAt = 0;

  const fail = (message: string): never => {
    throw new PickleFormatError(path, `${message} (at byte ${opcodeAt} of the pickle stream)`);
  };
  const need = (n: number): number => {
    if (n < 0 || at + n > bytes.length) {
      fail(`the stream is truncated: ${n} more bytes needed, ${bytes.length - at} left; download the file again`);
    }
    const start = at;
    at += n;
    return start;
  };
  const u8 = (): number => bytes[need(1)];
  const u16 = (): number => view.getUint16(need(2), true);
  const u32 = (): number => view.getUint32(need(4), true);
  const i32 = (): number => view.getInt32(need(4), true);
  const u64 = (): number => {
    const n = view.getBigUint64(need(8), true);
    if (n > BigInt(Number.MAX_SAFE_INTEGER)) fail(`length ${n} is too large`);
    return Number(n);
  };
  const slice = (n: number): Uint8Array => {
    const start = need(n);
    return bytes.subarray(start, start + n);
  };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, at);
    if (end < 0) fail('a GLOBAL name is not terminated by a newline');
    const text = Buffer.from(bytes.buffer, bytes.byteOffset + at, end - at).toString('latin1');
    at = end + 1;
    return text;
  };
  const pop = (): PyValue => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks[marks.length - 1])) fail('stack underflow');
    return stack.pop() as PyValue;
  };
  const top = (): PyValue => {
    if (stack.length === 0) fail('stack underflow');
    return stack[stack.length - 1];
  };
  const popMark = (): PyValue[] => {
    const mark = marks.pop();
    if (mark === undefined) fail('no MARK before a TUPLE/LIST/DICT/APPENDS/SETITEMS opcode');
    return stack.splice(mark as number);
  };
  const unicode = (n: number): PyValue => {
    const raw = slice(n);
    if (n >= LAZY_UNICODE_BYTES) return new PyLazyUnicode(raw);
    try {
      return textDecoder.decode(raw);
    } catch {
      return fail('a unicode string is not valid UTF-8');
    }
  };
  const global = (module: string, name: string): PyGlobal => {
    const qualified = `${module}.${name}`;
    if (!ALLOWED_GLOBALS.has(qualified)) throw new PickleSecurityError(path, qualified, opcodeAt);
    return new PyGlobal(qualified);
  };
  const memoize = (index: number): void => {
    memo.set(index, top());
  };
  const recall = (index: number): void => {
    if (!memo.has(index)) fail(`memo entry ${index} is read before it is written`);
    stack.push(memo.get(index) as PyValue);
  };

  while (true) {
    if (at >= bytes.length) fail('the stream ends without a STOP opcode; the file is truncated');
    opcodeAt = at;
    const op = bytes[at++];
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) fail('pickle protocol above 5');
        break;
      case 0x95: // FRAME: a length prefix for buffering; the content follows inline
        u64();
        break;
      case 0x2e: // STOP
        if (stack.length !== 1 || marks.length > 0) fail(`STOP with ${stack.length} values on the stack`);
        return stack[0];
      case 0x63: {
        // GLOBAL: checked as soon as both lines are read, before it touches the stack
        const module = line();
        const name = line();
        stack.push(global(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = textOf(pop());
        const module = textOf(pop());
        if (module === undefined || name === undefined) fail('STACK_GLOBAL needs two strings');
        stack.push(global(module as string, name as string));
        break;
      }
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x71: // BINPUT
        memoize(u8());
        break;
      case 0x72: // LONG_BINPUT
        memoize(u32());
        break;
      case 0x94: // MEMOIZE
        memoize(memo.size);
        break;
      case 0x68: // BINGET
        recall(u8());
        break;
      case 0x6a: // LONG_BINGET
        recall(u32());
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x8a: {
        // LONG1: little-endian two's complement of n bytes
        const n = u8();
        const raw = slice(n);
        let value = 0n;
        for (let i = n - 1; i >= 0; i--) value = (value << 8n) | BigInt(raw[i]);
        if (n > 0 && raw[n - 1] & 0x80) value -= 1n << BigInt(8 * n);
        stack.push(value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value);
        break;
      }
      case 0x47: // BINFLOAT (big-endian double)
        stack.push(view.getFloat64(need(8), false));
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x55: // SHORT_BINSTRING (Python 2 str)
        stack.push(new PyBytes(slice(u8())));
        break;
      case 0x54: {
        // BINSTRING (Python 2 str, signed 4-byte length)
        const n = i32();
        if (n < 0) fail(`negative BINSTRING length ${n}`);
        stack.push(new PyBytes(slice(n)));
        break;
      }
      case 0x43: // SHORT_BINBYTES
        stack.push(new PyBytes(slice(u8())));
        break;
      case 0x42: // BINBYTES
        stack.push(new PyBytes(slice(u32())));
        break;
      case 0x8e: // BINBYTES8
        stack.push(new PyBytes(slice(u64())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(unicode(u8()));
        break;
      case 0x58: // BINUNICODE
        stack.push(unicode(u32()));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(unicode(u64()));
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(new PyTuple([]));
        break;
      case 0x74: // TUPLE
        stack.push(new PyTuple(popMark()));
        break;
      case 0x85: // TUPLE1
      case 0x86: // TUPLE2
      case 0x87: {
        // TUPLE3
        const n = op - 0x84;
        const items: PyValue[] = [];
        for (let i = 0; i < n; i++) items.unshift(pop());
        stack.push(new PyTuple(items));
        break;
      }
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x61: {
        // APPEND
        const item = pop();
        const list = top();
        if (!Array.isArray(list)) fail(`APPEND to a ${describe(list)}`);
        (list as PyValue[]).push(item);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        const list = top();
        if (!Array.isArray(list)) fail(`APPENDS to a ${describe(list)}`);
        (list as PyValue[]).push(...items);
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x64: {
        // DICT
        const items = popMark();
        const dict = new Map<PyValue, PyValue>();
        for (let i = 0; i + 1 < items.length; i += 2) dict.set(items[i], items[i + 1]);
        stack.push(dict);
        break;
      }
      case 0x73: {
        // SETITEM
        const value = pop();
        const key = pop();
        const dict = top();
        if (!(dict instanceof Map)) fail(`SETITEM on a ${describe(dict)}`);
        (dict as Map<PyValue, PyValue>).set(key, value);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        const dict = top();
        if (!(dict instanceof Map)) fail(`SETITEMS on a ${describe(dict)}`);
        for (let i = 0; i + 1 < items.length; i += 2) (dict as Map<PyValue, PyValue>).set(items[i], items[i + 1]);
        break;
      }
      case 0x52: {
        // REDUCE: callable(*args), for the allowed callables only
        const args = pop();
        const callable = pop();
        if (!(callable instanceof PyGlobal) || !(args instanceof PyTuple)) {
          fail(`REDUCE needs a global and a tuple, found ${describe(callable)} and ${describe(args)}`);
        }
        stack.push(reduce(callable as PyGlobal, (args as PyTuple).items, fail));
        break;
      }
      case 0x62: {
        // BUILD: obj.__setstate__(state)
        const state = pop();
        build(top(), state, fail);
        break;
      }
      default:
        fail(`unknown or unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')}; only numpy array pickles (protocol 2-4) can be read`);
    }
  }
}

type Fail = (message: string) => never;

function reduce(callable: PyGlobal, args: PyValue[], fail: Fail): PyValue {
  switch (callable.qualifiedName) {
    case 'numpy.core.multiarray._reconstruct':
    case 'numpy._core.multiarray._reconstruct': {
      // _reconstruct(ndarray, (0,), b'b') makes an empty array that BUILD then fills
      const cls = args[0];
      if (!(cls instanceof PyGlobal) || cls.qualifiedName !== 'numpy.ndarray') {
        fail(`_reconstruct of ${describe(cls)}; only numpy.ndarray is supported`);
      }
      return new NumpyArray();
    }
    case 'numpy.dtype': {
      const name = textOf(args[0]);
      if (name === undefined || !(name in DTYPE_SIZES)) {
        fail(`numpy dtype '${name ?? describe(args[0])}' is not supported; supported: ${Object.keys(DTYPE_SIZES).join(', ')}`);
      }
      return new NumpyDtype(name as NumpyDtypeName);
    }
    case '_codecs.encode': {
      // encode(text, 'latin1'): how Python 3 writes Python 2 byte strings; every char must be < 256
      const encoding = textOf(args[1] ?? null)?.toLowerCase().replace(/[-_]/g, '');
      if (encoding !== 'latin1' && encoding !== 'iso88591') fail(`_codecs.encode with encoding ${encoding ?? 'missing'}; only latin1 is supported`);
      const text = args[0];
      if (text instanceof PyLazyUnicode) return new PyBytes(utf8ToLatin1(text.utf8, fail));
      if (typeof text !== 'string') return fail(`_codecs.encode of ${describe(text)}`);
      const out = new Uint8Array(text.length);
      for (let i = 0; i < text.length; i++) {
        const code = text.charCodeAt(i);
        if (code > 255) fail('_codecs.encode: a character is outside latin-1');
        out[i] = code;
      }
      return new PyBytes(out);
    }
    default:
      // numpy.ndarray itself is only an argument of _reconstruct
      return fail(`${callable.qualifiedName} cannot be called`);
  }
}

/** UTF-8 bytes of text whose characters are all below 256 → the latin-1 bytes. */
function utf8ToLatin1(utf8: Uint8Array, fail: Fail): Uint8Array {
  const out = new Uint8Array(utf8.length);
  let n = 0;
  for (let i = 0; i < utf8.length; i++) {
    const b = utf8[i];
    if (b < 0x80) out[n++] = b;
    else if ((b === 0xc2 || b === 0xc3) && i + 1 < utf8.length && (utf8[i + 1] & 0xc0) === 0x80) {
      out[n++] = ((b & 0x03) << 6) | (utf8[++i] & 0x3f);
    } else fail('_codecs.encode: text is not latin-1 (or not valid UTF-8)');
  }
  return out.subarray(0, n);
}

function build(target: PyValue, state: PyValue, fail: Fail): void {
  if (!(state instanceof PyTuple)) fail(`BUILD with a ${describe(state)} state`);
  const items = (state as PyTuple).items;
  if (target instanceof NumpyDtype) {
    // (version, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata])
    const order = textOf(items[1] ?? null);
    if (order === '<' || order === '>' || order === '|') target.byteOrder = target.itemSize === 1 ? '|' : order;
    else if (order === '=') target.byteOrder = '<'; // native order of the machine that wrote it; all such are little-endian
    else fail(`numpy dtype byte order '${order ?? describe(items[1] ?? null)}' is not supported`);
    if (items[2] !== null || items[3] !== null) fail('structured or sub-array dtypes are not supported');
    return;
  }
  if (target instanceof NumpyArray) {
    // (version, shape, dtype, is_fortran, raw) or without the version
    const [shape, dtype, fortran, raw] = items.length === 5 ? items.slice(1) : items;
    if (!(shape instanceof PyTuple) || !shape.items.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 0)) {
      fail('array shape is not a tuple of non-negative integers');
    }
    if (!(dtype instanceof NumpyDtype)) return fail(`array dtype is a ${describe(dtype)}`);
    target.shape = (shape as PyTuple).items as number[];
    target.dtype = dtype;
    if (fortran === true && target.shape.filter((d) => d > 1).length > 1) {
      fail('the array is stored in Fortran (column-major) order, which is not supported; save it with numpy.ascontiguousarray');
    }
    if (!(raw instanceof PyBytes)) return fail(`array data is a ${describe(raw)}, expected raw bytes (object arrays are not supported)`);
    const expected = target.size * dtype.itemSize;
    if (raw.bytes.length !== expected) {
      fail(`array [${target.shape.join(', ')}] of ${dtype.name} needs ${expected} bytes of data, the pickle holds ${raw.bytes.length}`);
    }
    target.data = raw.bytes;
    return;
  }
  fail(`BUILD on a ${describe(target)}`);
}

/** The values of an array as float32 (converted; a view when the bytes are aligned little-endian f4). */
export function arrayToFloat32(array: NumpyArray): Float32Array {
  const { dtype, data } = array;
  if (!dtype || !data) throw new RangeError('arrayToFloat32: the array was never filled by BUILD');
  if (dtype.name === 'f4' && dtype.byteOrder === '<') {
    // The data sits at an arbitrary offset in the pickle: view it when aligned, else one memcpy
    // (much faster than reading element by element).
    if (data.byteOffset % 4 === 0) return new Float32Array(data.buffer, data.byteOffset, array.size);
    return new Float32Array(new Uint8Array(data).buffer, 0, array.size); // a copy (Buffer.slice would not be)
  }
  const out = new Float32Array(array.size);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const little = dtype.byteOrder !== '>';
  const size = dtype.itemSize;
  for (let i = 0, at = 0; i < out.length; i++, at += size) out[i] = readElement(view, at, dtype.name, little);
  return out;
}

/** The values of an array as JavaScript numbers (int64 values beyond 2^53 lose precision). */
export function arrayToNumbers(array: NumpyArray): Float64Array {
  const { dtype, data } = array;
  if (!dtype || !data) throw new RangeError('arrayToNumbers: the array was never filled by BUILD');
  const out = new Float64Array(array.size);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const little = dtype.byteOrder !== '>';
  for (let i = 0, at = 0; i < out.length; i++, at += dtype.itemSize) out[i] = readElement(view, at, dtype.name, little);
  return out;
}

function readElement(view: DataView, at: number, name: NumpyDtypeName, little: boolean): number {
  switch (name) {
    case 'u1':
    case 'b1':
      return view.getUint8(at);
    case 'i1':
      return view.getInt8(at);
    case 'i2':
      return view.getInt16(at, little);
    case 'u2':
      return view.getUint16(at, little);
    case 'i4':
      return view.getInt32(at, little);
    case 'u4':
      return view.getUint32(at, little);
    case 'i8':
      return Number(view.getBigInt64(at, little));
    case 'f4':
      return view.getFloat32(at, little);
    case 'f8':
      return view.getFloat64(at, little);
  }
}

/**
 * Images of one split. The tutorial's file stores pixel/256 as float32 (so 255 became 0.99609375).
 * When every value times 256 is an integer in 0..255 the file is exactly such an 8-bit image scaled
 * down, and we undo the scaling into uint8 with pixelMax 255: the pkl and the IDX copies of MNIST then
 * give bit-identical arrays (and a quarter of the memory). Note the model's input differs from the
 * tutorial's by a factor 256/255 (pixel/255 rather than pixel/256), the same as for IDX data.
 * Any other float data is kept as float32 with pixelMax 1.
 */
function splitImages(array: NumpyArray, path: string, what: string): Pick<Dataset, 'images' | 'count' | 'height' | 'width' | 'pixelMax'> {
  const shape = array.shape;
  let count: number;
  let height: number;
  let width: number;
  if (shape.length === 3) [count, height, width] = shape;
  else if (shape.length === 2) {
    count = shape[0];
    const side = Math.round(Math.sqrt(shape[1]));
    if (side * side !== shape[1] || side === 0) {
      throw new PickleFormatError(path, `${what} has rows of ${shape[1]} values, which is not a square image (784 = 28x28 expected)`);
    }
    height = width = side;
  } else {
    throw new PickleFormatError(path, `${what} has shape [${shape.join(', ')}]; expected [n, 784] or [n, h, w]`);
  }
  const dtype = array.dtype as NumpyDtype;
  if (dtype.name === 'u1') {
    const data = array.data as Uint8Array;
    return { images: new Uint8Array(data.buffer, data.byteOffset, data.length), count, height, width, pixelMax: 255 };
  }
  if (dtype.name !== 'f4' && dtype.name !== 'f8') {
    throw new PickleFormatError(path, `${what} has dtype ${dtype.name}; expected float32 (f4), float64 (f8) or uint8 (u1)`);
  }
  const values = arrayToFloat32(array);
  const bytes = new Uint8Array(values.length);
  let exact = true;
  for (let i = 0; i < values.length; i++) {
    const scaled = values[i] * 256;
    const rounded = scaled | 0;
    if (rounded !== scaled || rounded < 0 || rounded > 255) {
      exact = false;
      break;
    }
    bytes[i] = rounded;
  }
  if (exact) return { images: bytes, count, height, width, pixelMax: 255 };
  // Keep our own float copy when the values are a view into the (large) decompressed pickle.
  return { images: values.buffer === array.data?.buffer ? values.slice() : values, count, height, width, pixelMax: 1 };
}

function splitLabels(array: NumpyArray, path: string, what: string): Uint8Array {
  if (array.shape.length !== 1) throw new PickleFormatError(path, `${what} has shape [${array.shape.join(', ')}]; expected [n]`);
  const values = arrayToNumbers(array);
  const labels = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isInteger(v) || v < 0 || v > 255) throw new PickleFormatError(path, `${what}[${i}] is ${v}; labels must be integers in 0..255`);
    labels[i] = v;
  }
  return labels;
}

/**
 * Reads (and gunzips, when the content is gzip) a pickle file and runs the restricted unpickler.
 * `name` is the file as messages call it (default `path`; a download checked under a temporary name
 * is named by its target).
 */
export function readPickleFile(path: string, name = path): PyValue {
  const raw = readFileSync(path);
  let bytes: Uint8Array = raw;
  if (isGzip(raw)) {
    try {
      // large output chunks: the default 16 KB makes inflating 220 MB several times slower
      bytes = gunzipSync(raw, { chunkSize: 1 << 22 });
    } catch (error) {
      throw new PickleFormatError(name, `gzip data is corrupt or truncated (${(error as Error).message}); download the file again`);
    }
  } else if (name.endsWith('.gz')) {
    throw new PickleFormatError(name, 'the name ends in .gz but the content is not gzip; the download may have saved an error page: delete it and download again');
  }
  return unpickle(bytes, name);
}

/**
 * Loads `mnist.pkl.gz`: `((x_train, y_train), (x_valid, y_valid), (x_test, y_test))` with x of shape
 * [n, 784] and y integer labels. Images come back as [n, 28, 28]; labels as uint8. `file` is read;
 * `path` is the name messages and the source give (default `file`).
 */
export function loadMnistPickle(file: string, path = file): DatasetSplits {
  const top = readPickleFile(file, path);
  const names = ['train', 'validation', 'test'] as const;
  if (!(top instanceof PyTuple || Array.isArray(top)) || (top instanceof PyTuple ? top.items : top).length !== 3) {
    throw new PickleFormatError(path, `expected a tuple of 3 (train, validation, test) splits, found a ${describe(top)}`);
  }
  const splits = (top instanceof PyTuple ? top.items : (top as PyValue[])).map((split, i) => {
    const what = names[i];
    const pair = split instanceof PyTuple ? split.items : Array.isArray(split) ? split : [];
    const [x, y] = pair;
    if (pair.length !== 2 || !(x instanceof NumpyArray) || !(y instanceof NumpyArray)) {
      throw new PickleFormatError(path, `the ${what} split should be a pair (images, labels) of numpy arrays, found a ${describe(split)}`);
    }
    const images = splitImages(x, path, `${what} images`);
    const labels = splitLabels(y, path, `${what} labels`);
    if (labels.length !== images.count) {
      throw new PickleFormatError(path, `the ${what} split has ${images.count} images but ${labels.length} labels`);
    }
    return { ...images, labels };
  });
  let maxLabel = 0;
  for (const split of splits) for (const label of split.labels) if (label > maxLabel) maxLabel = label;
  const classes = maxLabel + 1;
  const [train, validation, test] = splits.map((s): Dataset => ({ ...s, classes }));
  if (train.height !== test.height || train.width !== test.width || train.height !== validation.height || train.width !== validation.width) {
    throw new PickleFormatError(path, 'the three splits have different image sizes');
  }
  return { source: `pkl:${path}`, train, validation, test };
}
