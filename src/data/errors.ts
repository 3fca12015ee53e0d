/**
 * Typed errors of the data layer. Each names the file (or URL) at fault, says what was wrong, and
 * what the user can do about it, so a command can print `error.message` as is.
 */

/** Base class: a file that is not what it claims to be. */
export class DataFormatError extends Error {
  override name = 'DataFormatError';
  constructor(
    /** The file at fault ('' when the data came from memory). */
    readonly path: string,
    message: string,
  ) {
    super(path ? `${path}: ${message}` : message);
  }
}

/** An IDX file with a bad header, a truncated body or labels out of range. */
export class IdxFormatError extends DataFormatError {
  override name = 'IdxFormatError';
}

/** One images file and the IDX type its pixels are stored in. */
export interface IdxFileType {
  readonly path: string;
  /** The type's name, e.g. 'uint8'. */
  readonly type: string;
  /** The IDX type byte, e.g. 0x08. */
  readonly code: number;
}

/**
 * The training and test images of a set store their pixels in different IDX types (say signed bytes
 * beside unsigned ones): the splits would be read on different scales, so the set is refused.
 */
export class IdxPixelTypeError extends IdxFormatError {
  override name = 'IdxPixelTypeError';
  constructor(
    readonly train: IdxFileType,
    readonly test: IdxFileType,
  ) {
    const describe = (file: IdxFileType) => `${file.type} (IDX type 0x${file.code.toString(16).padStart(2, '0')})`;
    super(
      train.path,
      `the training images store ${describe(train)} pixels but the test images ${test.path} store ${describe(test)}: ` +
        `the network would be trained on one scale and tested on another. Write both files with the same type ` +
        `(MNIST-style sets use unsigned bytes, IDX type 0x08)`,
    );
  }
}

/** A pickle that is malformed or uses an opcode the restricted reader does not know. */
export class PickleFormatError extends DataFormatError {
  override name = 'PickleFormatError';
}

/**
 * A pickle that asks for a global outside the allowed numpy reconstruction functions. Loading it in
 * Python could run arbitrary code; we refuse it before acting on the opcode.
 */
export class PickleSecurityError extends DataFormatError {
  override name = 'PickleSecurityError';
  constructor(
    path: string,
    /** The refused global, as `module.name`. */
    readonly global: string,
    offset: number,
  ) {
    super(
      path,
      `refusing to load global '${global}' (at byte ${offset} of the pickle stream): only numpy array ` +
        `reconstruction is allowed. The file is not a plain mnist.pkl.gz and may try to run code; ` +
        `do not open it in Python either.`,
    );
  }
}

/** An image buffer that is not a PNG or JPEG, or that the decoder rejects. */
export class ImageDecodeError extends DataFormatError {
  override name = 'ImageDecodeError';
}

/** "12,345 pixels" below a megapixel, "16 megapixels" (one decimal at most) from there. */
export function describePixels(count: number): string {
  return count >= 1e6 ? `${Number((count / 1e6).toFixed(1))} megapixels` : `${count.toLocaleString('en-US')} pixels`;
}

/**
 * A picture whose header declares more pixels than the decoder is allowed to produce: refused before
 * decoding, since a few hundred kilobytes of PNG can declare a gigabyte of pixels.
 */
export class ImageTooLargeError extends ImageDecodeError {
  override name = 'ImageTooLargeError';
  constructor(
    path: string,
    readonly width: number,
    readonly height: number,
    /** The limit it exceeds, in pixels. */
    readonly maxPixels: number,
  ) {
    super(
      path,
      `the picture declares ${width} × ${height} pixels (${describePixels(width * height)}), more than the limit of ` +
        `${describePixels(maxPixels)}; scale it down (a digit needs no more than a few hundred pixels a side), ` +
        `or raise the limit with --max-pixels`,
    );
  }
}

/** A download that could not complete. */
export class DownloadError extends Error {
  override name = 'DownloadError';
  constructor(
    readonly url: string,
    message: string,
    /** HTTP status when the server answered, undefined for network failures. */
    readonly status?: number,
  ) {
    super(message);
  }
}

/** A file whose MD5 differs from the known digest. */
export class ChecksumError extends DataFormatError {
  override name = 'ChecksumError';
  constructor(
    path: string,
    readonly expected: string,
    readonly actual: string,
    advice: string,
  ) {
    super(path, `MD5 is ${actual}, expected ${expected}; ${advice}`);
  }
}

/** A `--data` spec that names no known source, or a source that cannot be found. */
export class DataSourceError extends Error {
  override name = 'DataSourceError';
}
