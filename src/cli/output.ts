/**
 * How the command line talks: results on stdout (one JSON object with --json), progress and
 * messages on stderr, so `digitlab … --json | jq` always works.
 */
export interface Output {
  json: boolean;
  /** A line of the human-readable result (suppressed with --json). */
  print(line?: string): void;
  /** A message about progress, on stderr. */
  info(line: string): void;
  /** The single JSON result. */
  result(value: unknown): void;
}

export function createOutput(json: boolean): Output {
  return {
    json,
    print(line = '') {
      if (!json) process.stdout.write(line + '\n');
    },
    info(line) {
      process.stderr.write(line + '\n');
    },
    result(value) {
      if (json) process.stdout.write(JSON.stringify(value, null, 2) + '\n');
    },
  };
}

/** A user-facing error: printed as `digitlab: error: message`, exit code 1, no stack trace. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/** "1 epoch", "3 epochs", "10,000 images". */
export function countOf(n: number, noun: string): string {
  return `${formatCount(n)} ${noun}${n === 1 ? '' : 's'}`;
}

/**
 * Parses a list like "512,256" (or "none" / "" for no hidden layer) into layer sizes. A size of 0
 * is refused, not read as "none": a layer needs nodes, and a typo should not drop a layer silently.
 */
export function parseLayerList(text: string, option = '--hidden'): number[] {
  const trimmed = text.trim();
  if (trimmed === '' || trimmed === 'none') return [];
  if (trimmed.split(',').some((part) => part.trim() !== '' && Number(part) === 0)) {
    throw new UsageError(`${option} ${text}: a layer needs at least one node; write ${option} none for no hidden layer`);
  }
  return trimmed.split(',').map((part) => {
    const value = Number(part.trim());
    if (!Number.isInteger(value) || value <= 0) {
      throw new UsageError(`${option} takes positive integers separated by commas (e.g. 512,256), got '${text}'`);
    }
    return value;
  });
}

export function parseNumber(option: string, kind: 'int' | 'positive-int' | 'count' | 'number' | 'positive' | 'non-negative') {
  return (text: string): number => {
    const value = Number(text);
    const ok =
      text.trim() !== '' &&
      Number.isFinite(value) &&
      (kind === 'number' ||
        (kind === 'int' && Number.isInteger(value)) ||
        (kind === 'positive-int' && Number.isInteger(value) && value > 0) ||
        (kind === 'count' && Number.isInteger(value) && value >= 0) ||
        (kind === 'positive' && value > 0) ||
        (kind === 'non-negative' && value >= 0));
    if (!ok) {
      const what = {
        int: 'an integer',
        'positive-int': 'a positive integer',
        count: 'an integer ≥ 0',
        number: 'a number',
        positive: 'a positive number',
        'non-negative': 'a number ≥ 0',
      }[kind];
      throw new UsageError(`${option} takes ${what}, got '${text}'`);
    }
    return value;
  };
}
