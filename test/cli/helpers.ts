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
 * bundled MNIST), for command-line runs that should take seconds.
 */
export function writeSmallIdx(dir: string, train: number, test: number, options: { gzip?: boolean } = {}): void {
  mkdirSync(dir, { recursive: true });
  const full = loadData('mnist', { validation: 0 });
  const suffix = options.gzip ? '.gz' : '';
  for (const [name, split, count] of [['train', full.train, train], ['t10k', full.test, test]] as const) {
    writeIdxFile(join(dir, `${name}-images-idx3-ubyte${suffix}`), split.images.subarray(0, count * 784), [count, 28, 28], options);
    writeIdxFile(join(dir, `${name}-labels-idx1-ubyte${suffix}`), split.labels.subarray(0, count), [count], options);
  }
}

/** A failure the user can act on: a message, a non-zero status, and no stack trace. */
export function assertCleanFailure(result: CliResult, pattern: RegExp): string | null {
  if (result.status === 0 || result.status === null) return `expected a non-zero exit, got ${result.status}`;
  if (!pattern.test(result.stderr)) return `stderr does not match ${pattern}: ${result.stderr}`;
  if (/\n\s+at .+:\d+:\d+/.test(result.stderr)) return `stderr has a stack trace: ${result.stderr}`;
  return null;
}
