/**
 * The products of a first layer that read only the nonzero inputs (assembly/sparse.ts): listing the
 * nonzeros of a batch, the two gathered products, and the column-panel layout of the weights they read
 * (src/core/panels.ts). The TypeScript reference and the WebAssembly binding of each sit together.
 */
import { fromPanels, panelIndex, toPanels } from '../panels.js';
import { Operation } from '../pool-protocol.js';
import { asArgumentError, checkLength, PARALLEL_MIN_ELEMENTS, PARALLEL_MIN_MACS, splitPoint, type WasmRuntime } from '../wasm-runtime.js';

/**
 * The nonzero values of a mostly-zero [rows, cols] matrix X, listed by row (built by `indexNonzeros`)
 * and by column (built from that by `indexColumns`), read by the sparse products. Made by
 * `allocNonzeroIndex` for up to `rows` rows.
 */
export interface NonzeroIndex {
  readonly rows: number;
  readonly cols: number;
  /** [rows + 1]: row r's entries are rowCols/rowValues[rowStart[r] .. rowStart[r + 1]). */
  readonly rowStart: Int32Array;
  /** [rows · cols]: column numbers, row by row, ascending within a row. */
  readonly rowCols: Int32Array;
  /** [rows · cols]: the values X[r, rowCols[q]]. */
  readonly rowValues: Float32Array;
  /** [cols + 1]: column j's entries are colRows/colValues[colStart[j] .. colStart[j + 1]). */
  readonly colStart: Int32Array;
  /** [rows · cols]: row numbers, column by column, ascending within a column. */
  readonly colRows: Int32Array;
  /** [rows · cols]: the values X[colRows[q], j]. */
  readonly colValues: Float32Array;
}

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

export interface SparseKernels {
  /**
   * The largest fraction of nonzero inputs at which a first layer uses the sparse products
   * (`sparseGemmNN`, `sparseGemmTN`) instead of the dense GEMM; 0 turns the sparse path off.
   */
  readonly sparseDensityLimit: number;

  /** A nonzero index for inputs of up to `rows` rows of `cols` values. */
  allocNonzeroIndex(rows: number, cols: number): NonzeroIndex;

  /**
   * Lists the nonzero values of x [rows, cols] by row into `index` and returns how many there are
   * (−0 counts as zero, NaN as nonzero). The by-column listing is left as it was.
   */
  indexNonzeros(x: Float32Array, rows: number, cols: number, index: NonzeroIndex): number;

  /**
   * `indexNonzeros` of X = pixels · scale for bytes `pixels` [rows, cols], without writing X: each value
   * is the float nearest to pixel · scale (as a Float32Array stores `pixel * scale`), so the listing is
   * the one `indexNonzeros` makes of the scaled floats. `scale` must be positive and finite.
   */
  indexPixels(pixels: Uint8Array, rows: number, cols: number, scale: number, index: NonzeroIndex): number;

  /** out[i] = pixels[i] · scale for i < length, rounded as `indexPixels` rounds them. */
  scalePixels(pixels: Uint8Array, length: number, scale: number, out: Float32Array): void;

  /** Fills the by-column listing of `index` from its by-row listing of `rows` rows. */
  indexColumns(index: NonzeroIndex, rows: number): void;

  /**
   * C[rows, n] = X · W reading only the nonzero values of X [rows, k] (by row, from `index`), W [k, n]
   * (a layer's weights [in, out]) in column panels (src/core/panels.ts), C row-major, overwritten. The
   * forward product of a layer with sparse input.
   */
  sparseGemmNN(rows: number, n: number, k: number, index: NonzeroIndex, w: Float32Array, c: Float32Array): void;

  /**
   * dW[k, n] = Xᵀ · dZ reading only the nonzero values of X [rows, k] (by column, from `index`, see
   * `indexColumns`), dZ [rows, n] row-major, dW in column panels, overwritten. The weight gradient of a
   * layer with sparse input.
   */
  sparseGemmTN(k: number, n: number, rows: number, index: NonzeroIndex, dz: Float32Array, dw: Float32Array): void;

  /** out = x in column panels (src/core/panels.ts), for x [rows, n] row-major (out must not overlap x). */
  toPanels(x: Float32Array, rows: number, n: number, out: Float32Array): void;

  /** out = x row-major, for x [rows, n] in column panels (out must not overlap x). */
  fromPanels(x: Float32Array, rows: number, n: number, out: Float32Array): void;
}

/** The exports of assembly/sparse.ts. */
export interface SparseExports {
  indexNonzeros(x: number, rows: number, k: number, rowStart: number, rowCols: number, rowValues: number): number;
  indexNonzeroRows(x: number, r0: number, r1: number, k: number, rowStart: number, rowCols: number, rowValues: number,
    base: number, end: number): void;
  indexPixels(pixels: number, rows: number, k: number, scale: number, rowStart: number, rowCols: number, rowValues: number): number;
  scalePixels(pixels: number, length: number, scale: number, out: number): void;
  indexColumns(rows: number, k: number, rowStart: number, rowCols: number, rowValues: number, colStart: number,
    colRows: number, colValues: number): void;
  sparseGemmNN(rows: number, n: number, k: number, rowStart: number, rowCols: number, rowValues: number, w: number, c: number,
    n0: number, n1: number): void;
  sparseGemmTN(k: number, n: number, rows: number, colStart: number, colRows: number, colValues: number, dz: number, dw: number,
    n0: number, n1: number): void;
  toPanels(src: number, rows: number, n: number, dst: number): void;
  fromPanels(src: number, rows: number, n: number, dst: number): void;
}

/**
 * Fraction of nonzero inputs up to which the sparse products beat the dense GEMM. Measured on
 * Fashion-MNIST batches of 128 (784-800-10, a training step's forward and backward), the sparse path
 * took 0.72–0.82 of the dense path's time at densities 0.46–0.54, on 1 and 2 threads; its time grows
 * in proportion to the density, so they meet near 0.64.
 */
export const DEFAULT_SPARSE_DENSITY_LIMIT = 0.6;

/** Throws when x and out share memory (the layout conversions cannot work in place). */
function checkDistinct(x: Float32Array, out: Float32Array, what: string): void {
  if (x.buffer === out.buffer && x.byteOffset < out.byteOffset + out.byteLength && out.byteOffset < x.byteOffset + x.byteLength) {
    throw new RangeError(`${what}: x and out overlap; give out its own array`);
  }
}

export const sparseReference: SparseKernels = {
  sparseDensityLimit: DEFAULT_SPARSE_DENSITY_LIMIT,

  allocNonzeroIndex: (rows, cols) =>
    allocNonzeroIndex((length) => new Int32Array(length), (length) => new Float32Array(length), rows, cols),

  indexNonzeros(x, rows, cols, index) {
    checkNonzeroIndex(index, rows, cols, 'indexNonzeros');
    let count = 0;
    for (let r = 0; r < rows; r++) {
      index.rowStart[r] = count;
      for (let j = 0; j < cols; j++) {
        const value = x[r * cols + j];
        if (value !== 0) { // NaN !== 0; −0 === 0
          index.rowCols[count] = j;
          index.rowValues[count++] = value;
        }
      }
    }
    index.rowStart[rows] = count;
    return count;
  },

  indexPixels(pixels, rows, cols, scale, index) {
    checkNonzeroIndex(index, rows, cols, 'indexPixels');
    checkScale(scale, 'indexPixels');
    let count = 0;
    for (let r = 0; r < rows; r++) {
      index.rowStart[r] = count;
      for (let j = 0; j < cols; j++) {
        const pixel = pixels[r * cols + j];
        if (pixel !== 0) {
          index.rowCols[count] = j;
          index.rowValues[count++] = pixel * scale;
        }
      }
    }
    index.rowStart[rows] = count;
    return count;
  },

  scalePixels(pixels, length, scale, out) {
    checkScale(scale, 'scalePixels');
    for (let i = 0; i < length; i++) out[i] = pixels[i] * scale;
  },

  indexColumns(index, rows) {
    checkNonzeroIndex(index, rows, index.cols, 'indexColumns');
    const entries: number[][] = Array.from({ length: index.cols }, () => []);
    for (let r = 0; r < rows; r++) {
      for (let q = index.rowStart[r]; q < index.rowStart[r + 1]; q++) entries[index.rowCols[q]].push(r, index.rowValues[q]);
    }
    let at = 0;
    for (let j = 0; j < index.cols; j++) {
      index.colStart[j] = at;
      for (let e = 0; e < entries[j].length; e += 2) {
        index.colRows[at] = entries[j][e];
        index.colValues[at++] = entries[j][e + 1];
      }
    }
    index.colStart[index.cols] = at;
  },

  sparseGemmNN(rows, n, k, index, w, c) {
    checkNonzeroIndex(index, rows, k, 'sparseGemmNN');
    for (let r = 0; r < rows; r++) {
      for (let o = 0; o < n; o++) {
        let sum = 0;
        for (let q = index.rowStart[r]; q < index.rowStart[r + 1]; q++) sum += index.rowValues[q] * w[panelIndex(index.rowCols[q], o, k, n)];
        c[r * n + o] = sum;
      }
    }
  },

  sparseGemmTN(k, n, rows, index, dz, dw) {
    checkNonzeroIndex(index, rows, k, 'sparseGemmTN');
    for (let j = 0; j < k; j++) {
      for (let o = 0; o < n; o++) {
        let sum = 0;
        for (let q = index.colStart[j]; q < index.colStart[j + 1]; q++) sum += index.colValues[q] * dz[index.colRows[q] * n + o];
        dw[panelIndex(j, o, k, n)] = sum;
      }
    }
  },

  toPanels(x, rows, n, out) {
    checkDistinct(x, out, 'toPanels');
    toPanels(x, rows, n, out);
  },

  fromPanels(x, rows, n, out) {
    checkDistinct(x, out, 'fromPanels');
    fromPanels(x, rows, n, out);
  },
};

/**
 * Split unit of the sparse products: every block path of assembly/sparse.ts adds with the same
 * multiply-add, only the last < 4 columns of a part run scalar, so parts must start at multiples of 4.
 */
const SPARSE_UNIT = 4;
/** Output columns of the sparse products' widest block (assembly/sparse.ts): a part holds at least one. */
const SPARSE_BLOCK = 28;

export function bindSparse(rt: WasmRuntime, wasm: SparseExports, sparseDensityLimit: number): SparseKernels {
  /** Where each thread's part of indexNonzeros stores its end (grown to the thread count). */
  let partEnds: Int32Array = new Int32Array(0);

  function checkIndex(index: NonzeroIndex, rows: number, cols: number, what: string): void {
    asArgumentError(() => checkNonzeroIndex(index, rows, cols, what));
  }

  function scaleOf(scale: number, what: string): number {
    asArgumentError(() => checkScale(scale, what));
    return scale;
  }

  /**
   * Runs a sparse product over its output columns [0, n), split by columns across threads when its
   * `entries` nonzeros make it large enough. Both products take (lists, n, rows of the gathered
   * matrix, start, at, values, gathered matrix, output) and then the columns [n0, n1) to compute.
   */
  function sparseProduct(
    operation: 'sparseGemmNN' | 'sparseGemmTN', entries: number,
    lists: number, n: number, gatheredRows: number, start: number, at: number, values: number, gathered: number, out: number,
  ): void {
    const run = wasm[operation];
    const parts = rt.parts(entries * n, PARALLEL_MIN_MACS, Math.floor(n / SPARSE_BLOCK));
    for (let t = parts - 1; t >= 0; t--) {
      const n0 = splitPoint(n, SPARSE_UNIT, parts, t);
      const n1 = splitPoint(n, SPARSE_UNIT, parts, t + 1);
      if (t > 0) rt.post(t, Operation[operation], lists, n, gatheredRows, start, at, values, gathered, out, n0, n1);
      else run(lists, n, gatheredRows, start, at, values, gathered, out, n0, n1);
    }
    rt.finish(parts);
  }

  return {
    sparseDensityLimit,

    allocNonzeroIndex(rows, cols) {
      let index: NonzeroIndex | undefined;
      asArgumentError(() => {
        index = allocNonzeroIndex((length) => rt.allocI32(length), (length) => rt.allocF32(length), rows, cols);
      });
      return index as NonzeroIndex;
    },

    indexNonzeros(x, rows, cols, index) {
      checkLength(rows, 'rows');
      checkIndex(index, rows, cols, 'indexNonzeros');
      const entries = rows * cols;
      const px = rt.pointer(x, entries, 'indexNonzeros: x');
      const ps = rt.pointer(index.rowStart, rows + 1, 'indexNonzeros: rowStart');
      const pc = rt.pointer(index.rowCols, entries, 'indexNonzeros: rowCols');
      const pv = rt.pointer(index.rowValues, entries, 'indexNonzeros: rowValues');
      const parts = rt.parts(entries, PARALLEL_MIN_ELEMENTS, rows);
      if (parts === 1) return wasm.indexNonzeros(px, rows, cols, ps, pc, pv);
      // each part lists its rows from entry r0·cols on (room for all of them), then the parts move together
      if (partEnds.length < parts) partEnds = rt.allocI32(parts);
      const ends = partEnds;
      for (let t = parts - 1; t >= 0; t--) {
        const r0 = splitPoint(rows, 1, parts, t);
        const r1 = splitPoint(rows, 1, parts, t + 1);
        const end = ends.byteOffset + 4 * t;
        if (t > 0) rt.post(t, Operation.indexNonzeroRows, px, r0, r1, cols, ps, pc, pv, r0 * cols, end);
        else wasm.indexNonzeroRows(px, r0, r1, cols, ps, pc, pv, 0, end);
      }
      rt.finish(parts);
      let count = ends[0];
      for (let t = 1; t < parts; t++) {
        const r0 = splitPoint(rows, 1, parts, t);
        const r1 = splitPoint(rows, 1, parts, t + 1);
        const base = r0 * cols;
        if (base !== count) {
          index.rowCols.copyWithin(count, base, ends[t]);
          index.rowValues.copyWithin(count, base, ends[t]);
          for (let r = r0; r < r1; r++) index.rowStart[r] -= base - count;
        }
        count += ends[t] - base;
      }
      index.rowStart[rows] = count;
      return count;
    },

    indexPixels(pixels, rows, cols, scale, index) {
      checkLength(rows, 'rows');
      checkIndex(index, rows, cols, 'indexPixels');
      const entries = rows * cols;
      return wasm.indexPixels(
        rt.pointer(pixels, entries, 'indexPixels: pixels'), rows, cols, scaleOf(scale, 'indexPixels'),
        rt.pointer(index.rowStart, rows + 1, 'indexPixels: rowStart'), rt.pointer(index.rowCols, entries, 'indexPixels: rowCols'),
        rt.pointer(index.rowValues, entries, 'indexPixels: rowValues'),
      );
    },

    scalePixels(pixels, length, scale, out) {
      checkLength(length, 'length');
      wasm.scalePixels(
        rt.pointer(pixels, length, 'scalePixels: pixels'), length, scaleOf(scale, 'scalePixels'), rt.pointer(out, length, 'scalePixels: out'),
      );
    },

    indexColumns(index, rows) {
      checkLength(rows, 'rows');
      const cols = index.cols;
      checkIndex(index, rows, cols, 'indexColumns');
      const entries = rows * cols;
      wasm.indexColumns(
        rows, cols, rt.pointer(index.rowStart, rows + 1, 'indexColumns: rowStart'),
        rt.pointer(index.rowCols, entries, 'indexColumns: rowCols'), rt.pointer(index.rowValues, entries, 'indexColumns: rowValues'),
        rt.pointer(index.colStart, cols + 1, 'indexColumns: colStart'), rt.pointer(index.colRows, entries, 'indexColumns: colRows'),
        rt.pointer(index.colValues, entries, 'indexColumns: colValues'),
      );
    },

    sparseGemmNN(rows, n, k, index, w, c) {
      checkLength(rows, 'rows');
      checkLength(n, 'n');
      checkIndex(index, rows, k, 'sparseGemmNN');
      sparseProduct(
        'sparseGemmNN', index.rowStart[rows], rows, n, k,
        rt.pointer(index.rowStart, rows + 1, 'sparseGemmNN: rowStart'), rt.pointer(index.rowCols, 0, 'sparseGemmNN: rowCols'),
        rt.pointer(index.rowValues, 0, 'sparseGemmNN: rowValues'), rt.pointer(w, k * n, 'sparseGemmNN: w'), rt.pointer(c, rows * n, 'sparseGemmNN: c'),
      );
    },

    sparseGemmTN(k, n, rows, index, dz, dw) {
      checkLength(rows, 'rows');
      checkLength(n, 'n');
      checkIndex(index, rows, k, 'sparseGemmTN');
      sparseProduct(
        'sparseGemmTN', index.colStart[k], k, n, rows,
        rt.pointer(index.colStart, k + 1, 'sparseGemmTN: colStart'), rt.pointer(index.colRows, 0, 'sparseGemmTN: colRows'),
        rt.pointer(index.colValues, 0, 'sparseGemmTN: colValues'), rt.pointer(dz, rows * n, 'sparseGemmTN: dz'), rt.pointer(dw, k * n, 'sparseGemmTN: dw'),
      );
    },

    toPanels(x, rows, n, out) {
      checkLength(rows, 'rows');
      checkLength(n, 'n');
      const [px, pout] = rt.distinct(rt.pointer(x, rows * n, 'toPanels: x'), rt.pointer(out, rows * n, 'toPanels: out'), 4 * rows * n, 'toPanels');
      wasm.toPanels(px, rows, n, pout);
    },

    fromPanels(x, rows, n, out) {
      checkLength(rows, 'rows');
      checkLength(n, 'n');
      const [px, pout] = rt.distinct(rt.pointer(x, rows * n, 'fromPanels: x'), rt.pointer(out, rows * n, 'fromPanels: out'), 4 * rows * n, 'fromPanels');
      wasm.fromPanels(px, rows, n, pout);
    },
  };
}
