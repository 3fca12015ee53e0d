import type { ModelSummary } from '../io/model-spec.js';
import { formatCount } from './output.js';

/**
 * A model's layers as a table, one row per module of its Sequential (as Keras' summary() and
 * torchinfo print them): index and module, output shape per sample, parameters, multiply-adds.
 */
export function layerSummaryLines(summary: ModelSummary): string[] {
  const rows = [
    ['layer', 'module', 'output', 'parameters', 'multiply-adds'],
    ['', 'input', `[${summary.input.join(', ')}]`, '', ''],
    ...summary.layers.map((l) => [
      `layers.${l.index}`, l.module, `[${l.output.join(', ')}]`, l.params ? formatCount(l.params) : '–', l.multiplyAdds ? formatCount(l.multiplyAdds) : '–',
    ]),
    ['', 'total', '', formatCount(summary.params), formatCount(summary.multiplyAdds)],
  ];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  // text columns left-aligned, numbers right-aligned
  return rows.map((r) => r.map((cell, c) => (c >= 3 ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ').trimEnd());
}
