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
