/** Allocation and checks of a BlockIndex (see kernels.ts), shared by both kernel implementations. */
import type { BlockIndex } from './kernels.js';

/** Room for the nonzero 4-blocks of up to `rows` rows of `cols` values (cols a multiple of 4). */
export function allocBlockIndex(allocI32: (length: number) => Int32Array, rows: number, cols: number): BlockIndex {
  if (!Number.isInteger(rows) || rows < 0) throw new RangeError(`block index: rows must be a non-negative integer, got ${rows}`);
  if (!Number.isInteger(cols) || cols < 0 || cols % 4 !== 0) {
    throw new RangeError(`block index: cols must be a non-negative multiple of 4, got ${cols}`);
  }
  const blocks = cols / 4;
  return {
    rows,
    cols,
    rowStart: allocI32(rows + 1),
    rowBlocks: allocI32(rows * blocks),
    blockStart: allocI32(blocks + 1),
    blockRows: allocI32(rows * blocks),
  };
}

/** Throws unless `index` can describe `rows` rows of `cols` values. */
export function checkBlockIndex(index: BlockIndex, rows: number, cols: number, what: string): void {
  if (cols % 4 !== 0) throw new RangeError(`${what}: the width ${cols} is not a multiple of 4`);
  if (index.cols !== cols || rows > index.rows) {
    throw new RangeError(`${what}: the block index is for up to ${index.rows} rows of ${index.cols} values, the call has ${rows} rows of ${cols}`);
  }
}
