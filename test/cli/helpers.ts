import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadData } from '../../src/data/source.js';
import { writeIdxFile } from '../../src/data/idx.js';

export const BIN = join(import.meta.dirname, '..', '..', 'bin', 'digitlab.js');

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `digitlab ARGS` (the built executable) and collects its output. */
export function digitlab(args: string[], options: { cwd?: string; timeout?: number } = {}): CliResult {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    cwd: options.cwd,
    encoding: 'utf8',
    timeout: options.timeout ?? 120_000,
    env: { ...process.env, FORCE_COLOR: '0' },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Runs `digitlab ARGS` without blocking this process (needed when this process also serves HTTP to it). */
export function digitlabAsync(args: string[], options: { cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** Starts `digitlab ARGS` in the background (with `env` added to this process's environment). */
export function digitlabProcess(args: string[], cwd?: string, env: Record<string, string> = {}) {
  return spawn(process.execPath, [BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
}

/**
 * Writes a small MNIST-style IDX folder (the first `train` training and `test` test images of the
 * bundled MNIST), for command-line runs that should take seconds. With `height` and `width`, every
 * 28×28 digit is scaled to fit that shape keeping its proportions (area averaging) and centred, so the
 * folder holds images of any [h, w] whose digits look as MNIST's do.
 */
export function writeSmallIdx(
  dir: string,
  train: number,
  test: number,
  options: { gzip?: boolean; height?: number; width?: number } = {},
): void {
  mkdirSync(dir, { recursive: true });
  const full = loadData('mnist', { validation: 0 });
  const suffix = options.gzip ? '.gz' : '';
  const height = options.height ?? 28;
  const width = options.width ?? 28;
  for (const [name, split, count] of [['train', full.train, train], ['t10k', full.test, test]] as const) {
    const images = height === 28 && width === 28 ? split.images.subarray(0, count * 784) : fitImages(split.images as Uint8Array, count, height, width);
    writeIdxFile(join(dir, `${name}-images-idx3-ubyte${suffix}`), images, [count, height, width], options);
    writeIdxFile(join(dir, `${name}-labels-idx1-ubyte${suffix}`), split.labels.subarray(0, count), [count], options);
  }
}

/**
 * The first `count` 28×28 images scaled by min(height, width) / 28 and centred in height × width:
 * each output pixel averages the source area it covers (outside the source counts as background).
 */
function fitImages(source: Uint8Array, count: number, height: number, width: number): Uint8Array {
  const span = Math.min(height, width);
  // weights[t][s]: the share of target pixel t covered by source pixel s along one axis
  const weights = (target: number) => {
    const offset = (target - span) / 2;
    return Array.from({ length: target }, (_, t) => {
      const start = ((t - offset) * 28) / span;
      const end = ((t + 1 - offset) * 28) / span;
      return Array.from({ length: 28 }, (_, s) => Math.max(0, Math.min(end, s + 1) - Math.max(start, s)) / (end - start));
    });
  };
  const rows = weights(height);
  const cols = weights(width);
  const out = new Uint8Array(count * height * width);
  for (let n = 0; n < count; n++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let sum = 0;
        for (let sy = 0; sy < 28; sy++) {
          if (rows[y][sy] === 0) continue;
          for (let sx = 0; sx < 28; sx++) sum += rows[y][sy] * cols[x][sx] * source[n * 784 + sy * 28 + sx];
        }
        out[(n * height + y) * width + x] = Math.round(sum);
      }
    }
  }
  return out;
}

/** A failure the user can act on: a message, a non-zero status, and no stack trace. */
export function assertCleanFailure(result: CliResult, pattern: RegExp): string | null {
  if (result.status === 0 || result.status === null) return `expected a non-zero exit, got ${result.status}`;
  if (!pattern.test(result.stderr)) return `stderr does not match ${pattern}: ${result.stderr}`;
  if (/\n\s+at .+:\d+:\d+/.test(result.stderr)) return `stderr has a stack trace: ${result.stderr}`;
  return null;
}
