import { className, type Dataset } from '../data/dataset.js';
import { renderGrid } from '../data/images.js';
import { writeFileAtomic } from '../io/atomic.js';
import { mostConfidentlyWrong, type DetailedEvaluation } from '../train/evaluate.js';

/**
 * Lines of a confusion matrix (rows: true class, columns: predicted), right-aligned. With `names`,
 * rows and columns are headed by the classes' names instead of their numbers.
 */
export function printConfusion(confusion: number[][], names?: readonly string[]): string[] {
  if (!names) {
    const width = Math.max(4, ...confusion.flat().map((n) => String(n).length + 1));
    const pad = (s: string | number) => String(s).padStart(width);
    const lines = ['     ' + confusion.map((_, c) => pad(c)).join('')];
    confusion.forEach((row, r) => lines.push(`  ${String(r).padStart(2)} ` + row.map(pad).join('')));
    return lines;
  }
  const name = (c: number) => names[c] ?? String(c);
  const counts = Math.max(...confusion.flat().map((n) => String(n).length));
  // each column as wide as its name or the largest count, and a space
  const widths = confusion.map((_, c) => Math.max(3, counts, name(c).length) + 1);
  const rowHead = Math.max(...confusion.map((_, r) => name(r).length));
  const cells = (values: (string | number)[]) => values.map((v, c) => String(v).padStart(widths[c])).join('');
  const lines = [' '.repeat(2 + rowHead) + cells(confusion.map((_, c) => name(c)))];
  confusion.forEach((row, r) => lines.push(`  ${name(r).padStart(rowHead)}` + cells(row)));
  return lines;
}

/** The picture `train` and `eval` write: up to 36 misread digits, surest first, labelled true/predicted. */
export const WRONG_DIGITS_SHOWN = 36;

/**
 * Writes the misread digits of `data` the model was surest about as a PNG grid (6 a row, each
 * labelled true/predicted); returns how many it shows (0: nothing misread, no file written).
 */
export async function writeMostConfidentlyWrong(path: string, evaluation: DetailedEvaluation, data: Dataset): Promise<number> {
  const wrong = mostConfidentlyWrong(evaluation, data, WRONG_DIGITS_SHOWN);
  if (wrong.length === 0) return 0;
  const png = renderGrid(wrong.map((w) => w.image), wrong.map((w) => `${className(data, w.label)}/${className(data, w.predicted)}`), 6, Math.ceil(wrong.length / 6), 3, { width: data.width, height: data.height });
  await writeFileAtomic(path, png);
  return wrong.length;
}
