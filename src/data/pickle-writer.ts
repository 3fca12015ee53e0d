/**
 * Writes numpy arrays (nested in tuples) as a pickle in the exact form Python 2's cPickle gives
 * (protocol 2, `numpy.core.multiarray._reconstruct`, byte strings as SHORT_BINSTRING/BINSTRING,
 * everything memoized), so tests and tools can make `mnist.pkl.gz` files like the tutorial's without
 * Python. Only what such a file contains is supported.
 */
import { writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import type { Dataset, DatasetSplits } from './dataset.js';

export type PickleDtype = 'u1' | 'i4' | 'i8' | 'f4' | 'f8';

/** A numpy array to write: little-endian raw bytes in C order. */
export interface PickleNdarray {
  readonly dtype: PickleDtype;
  readonly shape: readonly number[];
  readonly bytes: Uint8Array;
}

/** A pickle tree: arrays, and tuples of trees (written as Python tuples). */
export type PickleTree = PickleNdarray | readonly PickleTree[];

const ITEM_SIZE: Record<PickleDtype, number> = { u1: 1, i4: 4, i8: 8, f4: 4, f8: 8 };

/** Makes a numpy array description from values (converted to the dtype, little-endian). */
export function ndarray(values: ArrayLike<number>, shape: readonly number[], dtype: PickleDtype): PickleNdarray {
  const size = shape.reduce((a, b) => a * b, 1);
  if (size !== values.length) throw new RangeError(`ndarray: shape [${shape.join(', ')}] needs ${size} values, got ${values.length}`);
  const bytes = new Uint8Array(size * ITEM_SIZE[dtype]);
  const view = new DataView(bytes.buffer);
  if (dtype === 'u1') bytes.set(values);
  else if (dtype === 'f4') new Float32Array(bytes.buffer).set(values); // little-endian hosts only, as Node's are
  else {
    for (let i = 0; i < size; i++) {
      if (dtype === 'i4') view.setInt32(4 * i, values[i], true);
      else if (dtype === 'i8') view.setBigInt64(8 * i, BigInt(values[i]), true);
      else view.setFloat64(8 * i, values[i], true);
    }
  }
  return { dtype, shape, bytes };
}

class Emitter {
  readonly chunks: Uint8Array[] = [];
  private pending: number[] = [];
  private memoCount = 0;
  private readonly memo = new Map<string, number>();

  byte(...values: number[]): void {
    this.pending.push(...values);
  }
  ascii(text: string): void {
    for (let i = 0; i < text.length; i++) this.pending.push(text.charCodeAt(i));
  }
  uint32(value: number): void {
    this.byte(value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff);
  }
  raw(bytes: Uint8Array): void {
    this.flush();
    this.chunks.push(bytes);
  }
  flush(): void {
    if (this.pending.length) this.chunks.push(Uint8Array.from(this.pending));
    this.pending = [];
  }

  int(value: number): void {
    if (value >= 0 && value < 256) this.byte(0x4b, value); // BININT1
    else if (value >= 0 && value < 65536) this.byte(0x4d, value & 0xff, value >> 8); // BININT2
    else {
      this.byte(0x4a); // BININT
      this.uint32(value >>> 0);
    }
  }
  /** A Python 2 str: SHORT_BINSTRING below 256 bytes, else BINSTRING. */
  string(bytes: Uint8Array): void {
    if (bytes.length < 256) {
      this.byte(0x55, bytes.length);
      this.raw(bytes);
    } else {
      this.byte(0x54);
      this.uint32(bytes.length);
      this.raw(bytes);
    }
  }
  /** BINPUT (or LONG_BINPUT) the value on top of the stack, optionally remembered under `key`. */
  put(key?: string): void {
    const index = this.memoCount++;
    if (index < 256) this.byte(0x71, index);
    else {
      this.byte(0x72);
      this.uint32(index);
    }
    if (key !== undefined) this.memo.set(key, index);
  }
  /** BINGET when `key` was memoized; else emits it and memoizes it. */
  memoized(key: string, emit: () => void): void {
    const index = this.memo.get(key);
    if (index === undefined) {
      emit();
      this.put(key);
    } else if (index < 256) this.byte(0x68, index);
    else {
      this.byte(0x6a);
      this.uint32(index);
    }
  }
  shortString(text: string): void {
    this.memoized(`str:${text}`, () => this.string(Uint8Array.from(text, (c) => c.charCodeAt(0))));
  }
  global(module: string, name: string): void {
    this.memoized(`global:${module}.${name}`, () => {
      this.byte(0x63);
      this.ascii(`${module}\n${name}\n`);
    });
  }

  tuple(count: number, items: () => void): void {
    if (count === 0) {
      this.byte(0x29); // EMPTY_TUPLE (not memoized by cPickle)
      return;
    }
    if (count > 3) this.byte(0x28); // MARK
    items();
    this.byte(count > 3 ? 0x74 : 0x84 + count); // TUPLE or TUPLE1..3
    this.put();
  }

  dtype(name: PickleDtype): void {
    const key = `dtype:${name}`;
    if (this.memo.has(key)) {
      this.memoized(key, () => undefined);
      return;
    }
    // numpy.dtype('f4', False, True), memoized before BUILD sets its byte order like cPickle does
    this.global('numpy', 'dtype');
    this.tuple(3, () => {
      this.shortString(name);
      this.byte(0x89, 0x88); // NEWFALSE NEWTRUE
    });
    this.byte(0x52); // REDUCE
    this.put(key);
    this.tuple(8, () => {
      this.int(3);
      this.shortString(ITEM_SIZE[name] === 1 ? '|' : '<');
      this.byte(0x4e, 0x4e, 0x4e); // NONE x3
      this.byte(0x4a, 0xff, 0xff, 0xff, 0xff, 0x4a, 0xff, 0xff, 0xff, 0xff); // BININT -1 x2
      this.int(0);
    });
    this.byte(0x62); // BUILD
  }

  array(array: PickleNdarray): void {
    const expected = array.shape.reduce((a, b) => a * b, 1) * ITEM_SIZE[array.dtype];
    if (array.bytes.length !== expected) throw new RangeError(`pickle array: ${array.bytes.length} bytes for shape [${array.shape.join(', ')}] ${array.dtype}`);
    // _reconstruct(ndarray, (0,), 'b')
    this.global('numpy.core.multiarray', '_reconstruct');
    this.tuple(3, () => {
      this.global('numpy', 'ndarray');
      this.tuple(1, () => this.int(0));
      this.shortString('b');
    });
    this.byte(0x52); // REDUCE
    this.put();
    // BUILD with (1, shape, dtype, False, raw)
    this.tuple(5, () => {
      this.int(1);
      this.tuple(array.shape.length, () => array.shape.forEach((d) => this.int(d)));
      this.dtype(array.dtype);
      this.byte(0x89); // NEWFALSE: C order
      this.string(array.bytes);
      this.put(); // cPickle memoizes every string, the data included
    });
    this.byte(0x62); // BUILD
  }

  tree(tree: PickleTree): void {
    if (Array.isArray(tree)) {
      const items = tree as readonly PickleTree[];
      this.tuple(items.length, () => items.forEach((item) => this.tree(item)));
    } else this.array(tree as PickleNdarray);
  }
}

/** Encodes a tree as pickle protocol 2 (as chunks, to avoid copying large arrays once more). */
export function encodePickleChunks(tree: PickleTree): Uint8Array[] {
  const emitter = new Emitter();
  emitter.byte(0x80, 2); // PROTO 2
  emitter.tree(tree);
  emitter.byte(0x2e); // STOP
  emitter.flush();
  return emitter.chunks;
}

export function encodePickle(tree: PickleTree): Uint8Array {
  return Buffer.concat(encodePickleChunks(tree));
}

/**
 * One split in the tutorial's layout: images as float32 [n, h*w] (uint8 pixels divided by 256, as the
 * original file has them; float images as they are) and labels as int64 [n].
 */
export function datasetToPickleTree(dataset: Dataset): PickleTree {
  const pixels = dataset.height * dataset.width;
  const scale = dataset.images instanceof Uint8Array ? 1 / 256 : 1;
  const floats = new Float32Array(dataset.images.length);
  for (let i = 0; i < floats.length; i++) floats[i] = dataset.images[i] * scale;
  return [
    { dtype: 'f4', shape: [dataset.count, pixels], bytes: new Uint8Array(floats.buffer) },
    ndarray(dataset.labels, [dataset.count], 'i8'),
  ];
}

/** Writes splits as a gzipped pickle like the tutorial's mnist.pkl.gz. `level` is the gzip level (1 is fast). */
export function writeMnistPickle(path: string, splits: Pick<DatasetSplits, 'train' | 'validation' | 'test'>, options: { level?: number } = {}): void {
  const tree = [datasetToPickleTree(splits.train), datasetToPickleTree(splits.validation), datasetToPickleTree(splits.test)];
  writeFileSync(path, gzipSync(Buffer.concat(encodePickleChunks(tree)), { level: options.level ?? 6 }));
}
