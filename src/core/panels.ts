/**
 * The column-panel layout the sparse products keep a first layer's weights and weight gradient in
 * (see assembly/sparse.ts): a [rows, n] matrix is cut into panels of PANEL columns (the last panel
 * holds what is left), and panel p, columns [PANEL·p, PANEL·p + width), is stored row after row as a
 * dense [rows, width] block starting at element PANEL·p·rows. The weights one input meets within a
 * panel are then contiguous, and so is each panel.
 */

/** Columns per panel: seven 4-lane registers, the widest block the WebAssembly kernels keep in registers. */
export const PANEL = 28;

/** Where element [i, o] of a [rows, n] matrix in column panels is stored. */
export function panelIndex(i: number, o: number, rows: number, n: number): number {
  const first = o - (o % PANEL);
  return first * rows + i * Math.min(PANEL, n - first) + (o - first);
}

/** out = x in column panels, for x [rows, n] row-major. */
export function toPanels(x: ArrayLike<number>, rows: number, n: number, out: Float32Array): void {
  for (let i = 0; i < rows; i++) {
    for (let o = 0; o < n; o++) out[panelIndex(i, o, rows, n)] = x[i * n + o];
  }
}

/** out = x row-major, for x [rows, n] in column panels. */
export function fromPanels(x: ArrayLike<number>, rows: number, n: number, out: Float32Array): void {
  for (let i = 0; i < rows; i++) {
    for (let o = 0; o < n; o++) out[i * n + o] = x[panelIndex(i, o, rows, n)];
  }
}
