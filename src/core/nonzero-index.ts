/** Allocation and checks of a NonzeroIndex (see kernels.ts), shared by both kernel implementations. */
import type { NonzeroIndex } from './kernels.js';

export function allocNonzeroIndex(
  allocI32: (length: number) => Int32Array, allocF32: (length: number) => Float32Array, rows: number, cols: number,
): NonzeroIndex {
  if (!Number.isInteger(rows) || rows < 0) throw new RangeError(`nonzero index: rows must be a non-negative integer, got ${rows}`);
  if (!Number.isInteger(cols) || cols < 0) throw new RangeError(`nonzero index: cols must be a non-negative integer, got ${cols}`);
  const entries = rows * cols;
  return {
    rows,
    cols,
    rowStart: allocI32(rows + 1),
    rowCols: allocI32(entries),
    rowValues: allocF32(entries),
    colStart: allocI32(cols + 1),
    colRows: allocI32(entries),
    colValues: allocF32(entries),
  };
}

/** Throws unless `index` can describe `rows` rows of `cols` values. */
export function checkNonzeroIndex(index: NonzeroIndex, rows: number, cols: number, what: string): void {
  if (index.cols !== cols || rows > index.rows) {
    throw new RangeError(
      `${what}: the nonzero index is for up to ${index.rows} rows of ${index.cols} values, the call has ${rows} rows of ${cols}`,
    );
  }
}

/** Throws unless `scale` (the factor from pixel bytes to input values) is positive and finite. */
export function checkScale(scale: number, what: string): void {
  if (!(scale > 0 && Number.isFinite(scale))) throw new RangeError(`${what}: scale must be a positive finite number, got ${scale}`);
}
