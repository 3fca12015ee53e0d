/** Lines of a confusion matrix (rows: true class, columns: predicted), right-aligned. */
export function printConfusion(confusion: number[][]): string[] {
  const width = Math.max(4, ...confusion.flat().map((n) => String(n).length + 1));
  const pad = (s: string | number) => String(s).padStart(width);
  const lines = ['     ' + confusion.map((_, c) => pad(c)).join('')];
  confusion.forEach((row, r) => lines.push(`  ${String(r).padStart(2)} ` + row.map(pad).join('')));
  return lines;
}
