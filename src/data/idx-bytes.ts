/**
 * IDX bytes in memory, with no file or Node.js module: parsing, checking images and labels, encoding.
 * Header, big-endian: 0x00 0x00, a type byte, a dimension count, one uint32 per dimension; then the
 * data, row-major. uint8 data is returned as a view on the given bytes (no copy); other types are
 * converted to Float32Array once. Files and directories of them are in idx.ts; a browser page uses
 * this part directly (it gunzips with DecompressionStream).
 */
import type { Dataset } from './dataset.js';
import { IdxFormatError } from './errors.js';

export type IdxDtype = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';

interface DtypeInfo {
  readonly code: number;
  readonly size: number;
}

export const DTYPES: Record<IdxDtype, DtypeInfo> = {
  uint8: { code: 0x08, size: 1 },
  int8: { code: 0x09, size: 1 },
  int16: { code: 0x0b, size: 2 },
  int32: { code: 0x0c, size: 4 },
  float32: { code: 0x0d, size: 4 },
  float64: { code: 0x0e, size: 8 },
};

function dtypeFromCode(code: number): IdxDtype | undefined {
  return (Object.keys(DTYPES) as IdxDtype[]).find((d) => DTYPES[d].code === code);
}

/** The content of one IDX file. */
export interface IdxArray {
  /** The type stored in the file. */
  readonly dtype: IdxDtype;
  readonly shape: readonly number[];
  /** uint8 files keep their bytes; every other type is converted to float32. */
  readonly data: Uint8Array | Float32Array;
}

/** True when the bytes start with the gzip magic 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}


/** Parses IDX bytes (already gunzipped). `path` is only used in error messages. */
export function parseIdx(bytes: Uint8Array, path = ''): IdxArray {
  if (bytes.length < 4) {
    throw new IdxFormatError(path, `file is ${bytes.length} bytes, too short for an IDX header (at least 4)`);
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new IdxFormatError(
      path,
      `not an IDX file: the first two bytes are ${hex(bytes[0])} ${hex(bytes[1])}, expected 00 00 ` +
        `(is it an MNIST train-images/labels file?)`,
    );
  }
  const dtype = dtypeFromCode(bytes[2]);
  if (dtype === undefined) {
    throw new IdxFormatError(
      path,
      `unknown IDX data type byte ${hex(bytes[2])}; known: 08 uint8, 09 int8, 0b int16, 0c int32, 0d float32, 0e float64`,
    );
  }
  const rank = bytes[3];
  if (rank === 0) throw new IdxFormatError(path, 'IDX header declares 0 dimensions');
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) {
    throw new IdxFormatError(path, `file is ${bytes.length} bytes, too short for an IDX header with ${rank} dimensions (${headerBytes} bytes)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape: number[] = [];
  let elements = 1;
  for (let i = 0; i < rank; i++) {
    const dim = view.getUint32(4 + 4 * i, false);
    shape.push(dim);
    elements *= dim;
  }
  const { size } = DTYPES[dtype];
  const expected = headerBytes + elements * size;
  if (bytes.length !== expected) {
    const what = bytes.length < expected ? 'truncated' : 'longer than its header says';
    throw new IdxFormatError(
      path,
      `file is ${what}: header [${shape.join(', ')}] of ${dtype} needs ${expected} bytes, the file has ${bytes.length}; ` +
        `download it again`,
    );
  }
  if (dtype === 'uint8') {
    // A view, not a copy: 47 MB of MNIST training images stay in the buffer they were read into.
    return { dtype, shape, data: new Uint8Array(bytes.buffer, bytes.byteOffset + headerBytes, elements) };
  }
  const data = new Float32Array(elements);
  for (let i = 0, at = headerBytes; i < elements; i++, at += size) {
    switch (dtype) {
      case 'int8':
        data[i] = view.getInt8(at);
        break;
      case 'int16':
        data[i] = view.getInt16(at, false);
        break;
      case 'int32':
        data[i] = view.getInt32(at, false);
        break;
      case 'float32':
        data[i] = view.getFloat32(at, false);
        break;
      case 'float64':
        data[i] = view.getFloat64(at, false);
        break;
    }
  }
  return { dtype, shape, data };
}

/** Images of an IDX file: data [count, height, width] and the value of a full-ink pixel. */
export interface IdxImages {
  readonly images: Uint8Array | Float32Array;
  readonly count: number;
  readonly height: number;
  readonly width: number;
  readonly pixelMax: number;
}

/**
 * Checks an IDX array holds images [n, h, w]. pixelMax is 255 for uint8; for converted types it is
 * 1 when every value is in [0, 1] (already normalized), 255 when within [0, 255], else the maximum.
 */
export function idxImages(array: IdxArray, path = ''): IdxImages {
  if (array.shape.length !== 3) {
    throw new IdxFormatError(
      path,
      `expected images with 3 dimensions [count, height, width], found [${array.shape.join(', ')}]; is this a labels file?`,
    );
  }
  const [count, height, width] = array.shape;
  if (height === 0 || width === 0) throw new IdxFormatError(path, `images have an empty size ${height}x${width}`);
  let pixelMax = 255;
  if (array.dtype !== 'uint8') {
    let max = 0;
    for (const v of array.data) {
      if (!Number.isFinite(v)) throw new IdxFormatError(path, `image data contains ${v}; pixels must be finite`);
      if (v > max) max = v;
    }
    pixelMax = max <= 1 ? 1 : max <= 255 ? 255 : max;
  }
  return { images: array.data, count, height, width, pixelMax };
}

/**
 * Checks an IDX array holds labels [n], integers in 0..255, and returns them as uint8 with the class
 * count (max + 1, or `classes` when given, which must exceed every label).
 */
export function idxLabels(array: IdxArray, path = '', classes?: number): { labels: Uint8Array; classes: number } {
  if (array.shape.length !== 1) {
    throw new IdxFormatError(path, `expected labels with 1 dimension [count], found [${array.shape.join(', ')}]; is this an images file?`);
  }
  let labels: Uint8Array;
  if (array.data instanceof Uint8Array) {
    labels = array.data;
  } else {
    labels = new Uint8Array(array.data.length);
    for (let i = 0; i < array.data.length; i++) {
      const v = array.data[i];
      if (!Number.isInteger(v) || v < 0 || v > 255) {
        throw new IdxFormatError(path, `label ${i} is ${v}; labels must be integers in 0..255`);
      }
      labels[i] = v;
    }
  }
  let max = -1;
  for (const v of labels) if (v > max) max = v;
  if (classes !== undefined) {
    if (max >= classes) {
      throw new IdxFormatError(path, `a label is ${max} but the dataset was declared to have ${classes} classes (0..${classes - 1})`);
    }
    return { labels, classes };
  }
  return { labels, classes: Math.max(max + 1, 1) };
}

/**
 * One dataset from the bytes of an images file and a labels file (gunzipped), checked to describe the
 * same number of examples. `names` name the two in error messages.
 */
export function idxDataset(
  imageBytes: Uint8Array, labelBytes: Uint8Array, names: { images?: string; labels?: string; classes?: number } = {},
): Dataset {
  const imagesName = names.images ?? 'images';
  const labelsName = names.labels ?? 'labels';
  const images = idxImages(parseIdx(imageBytes, imagesName), imagesName);
  const labels = idxLabels(parseIdx(labelBytes, labelsName), labelsName, names.classes);
  if (images.count !== labels.labels.length) {
    throw new IdxFormatError(
      imagesName,
      `has ${images.count} images but ${labelsName} has ${labels.labels.length} labels; the two files must come from the same set`,
    );
  }
  return { ...images, labels: labels.labels, classes: labels.classes };
}

/** Encodes an array as IDX bytes. `data` values are written as `dtype` (big-endian). */
export function encodeIdx(data: ArrayLike<number>, shape: readonly number[], dtype: IdxDtype = 'uint8'): Uint8Array {
  const elements = shape.reduce((a, b) => a * b, 1);
  if (elements !== data.length) {
    throw new RangeError(`encodeIdx: shape [${shape.join(', ')}] has ${elements} elements but data has ${data.length}`);
  }
  if (shape.length === 0 || shape.length > 255) throw new RangeError(`encodeIdx: IDX needs 1 to 255 dimensions, got ${shape.length}`);
  const { code, size } = DTYPES[dtype];
  const headerBytes = 4 + 4 * shape.length;
  const out = new Uint8Array(headerBytes + elements * size);
  const view = new DataView(out.buffer);
  out[2] = code;
  out[3] = shape.length;
  shape.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  if (dtype === 'uint8') {
    out.set(data, headerBytes);
    return out;
  }
  for (let i = 0, at = headerBytes; i < elements; i++, at += size) {
    const v = data[i];
    if (dtype === 'int8') view.setInt8(at, v);
    else if (dtype === 'int16') view.setInt16(at, v, false);
    else if (dtype === 'int32') view.setInt32(at, v, false);
    else if (dtype === 'float32') view.setFloat32(at, v, false);
    else view.setFloat64(at, v, false);
  }
  return out;
}

function hex(byte: number | undefined): string {
  return (byte ?? 0).toString(16).padStart(2, '0');
}
