/**
 * Downloading a dataset file (by default the PyTorch tutorial's mnist.pkl.gz) into a local cache:
 * skipped when already present, written atomically (temporary file + rename, so an interrupted
 * download never leaves a partial file under the final name), checked by MD5 when the digest is known,
 * and retried with exponential backoff on network errors and server errors (not on 404).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { ChecksumError, DownloadError } from './errors.js';

/** Where the PyTorch "What is torch.nn really?" tutorial downloads MNIST from. */
export const TUTORIAL_MNIST_URL = 'https://github.com/pytorch/tutorials/raw/master/_static/mnist.pkl.gz';
/** The tutorial's local layout: data/mnist/mnist.pkl.gz. */
export const DEFAULT_DATA_DIR = join('data', 'mnist');

export interface FetchProgress {
  /** Bytes received so far. */
  readonly bytes: number;
  /** Total size from Content-Length, when the server sent it. */
  readonly total?: number;
}

export interface FetchDatasetOptions {
  readonly url?: string;
  readonly dir?: string;
  /** Defaults to the last segment of the URL's path. */
  readonly fileName?: string;
  /** Expected MD5 (hex). When given, an existing file is checked and a download must match. */
  readonly md5?: string;
  /** Extra attempts after the first on network errors and 5xx answers (default 3). */
  readonly retries?: number;
  /** Delay before the first retry, doubled for each further one (default 1000 ms). */
  readonly backoffMs?: number;
  /** Abort an attempt that takes longer than this (default 10 minutes). */
  readonly timeoutMs?: number;
  readonly onProgress?: (progress: FetchProgress) => void;
  /**
   * Checks the downloaded content before it is renamed into place (throw to refuse it): a file that
   * fails never appears under the final name.
   */
  readonly verify?: (temporaryPath: string) => void | Promise<void>;
}

/**
 * MD5 digests published for well-known files, by file name. mnist.pkl.gz's is the one published with
 * the copy first distributed by deeplearning.net, which the PyTorch tutorial's file reproduces.
 */
export const PUBLISHED_MD5: Readonly<Record<string, string>> = {
  'mnist.pkl.gz': 'a02cd19f81d51c426d7ca14024243ce9',
};

export interface FetchDatasetResult {
  readonly path: string;
  /** False when a valid file was already there. */
  readonly downloaded: boolean;
  readonly bytes: number;
  readonly md5: string;
}

/** A DownloadError worth another attempt (network failure, 5xx, truncated body). */
class RetryableDownloadError extends DownloadError {}

function md5OfFile(path: string): string {
  return createHash('md5').update(readFileSync(path)).digest('hex');
}

function fileNameOf(url: string): string {
  let name = '';
  try {
    name = basename(new URL(url).pathname);
  } catch {
    throw new DownloadError(url, `'${url}' is not a valid URL; pass a full http(s) address with --url`);
  }
  return name || 'download';
}

/** Downloads `url` into `dir` unless a valid copy is already there. */
export async function fetchDataset(options: FetchDatasetOptions = {}): Promise<FetchDatasetResult> {
  const url = options.url ?? TUTORIAL_MNIST_URL;
  const dir = options.dir ?? DEFAULT_DATA_DIR;
  const path = join(dir, options.fileName ?? fileNameOf(url));
  const expected = options.md5?.toLowerCase();

  if (existsSync(path) && statSync(path).size > 0) {
    const md5 = md5OfFile(path);
    if (expected === undefined || md5 === expected) return { path, downloaded: false, bytes: statSync(path).size, md5 };
    // a stale or corrupted copy: download it again
  }
  await mkdir(dir, { recursive: true });

  const retries = options.retries ?? 3;
  const backoffMs = options.backoffMs ?? 1000;
  for (let attempt = 0; ; attempt++) {
    try {
      return await downloadOnce(url, path, expected, options);
    } catch (error) {
      if (!(error instanceof RetryableDownloadError) || attempt >= retries) {
        if (error instanceof RetryableDownloadError) {
          throw new DownloadError(url, `${error.message} (gave up after ${attempt + 1} attempt${attempt ? 's' : ''})`, error.status);
        }
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, backoffMs * 2 ** attempt));
    }
  }
}

async function downloadOnce(url: string, path: string, expected: string | undefined, options: FetchDatasetOptions): Promise<FetchDatasetResult> {
  const host = new URL(url).host;
  const unreachable = (cause: unknown): RetryableDownloadError => {
    const reason = (cause as { cause?: { code?: string; message?: string } }).cause;
    const detail = reason?.code ?? reason?.message ?? (cause as Error).message;
    return new RetryableDownloadError(
      url,
      `could not reach ${host}: ${detail}; check the network or pass --url for a mirror, or use --data mnist (bundled)`,
    );
  };

  let response: Response;
  try {
    response = await fetch(url, {
      redirect: 'follow',
      // the file is already gzip: ask for it as is, so Content-Length counts the bytes we store
      headers: { 'accept-encoding': 'identity' },
      signal: AbortSignal.timeout(options.timeoutMs ?? 600_000),
    });
  } catch (error) {
    throw unreachable(error);
  }
  if (!response.ok) {
    const message = `${host} answered ${response.status} ${response.statusText} for ${url}`;
    if (response.status >= 500 || response.status === 429) throw new RetryableDownloadError(url, `${message}; the server may be busy`, response.status);
    throw new DownloadError(url, `${message}; check the address, pass --url for a mirror, or use --data mnist (bundled)`, response.status);
  }
  const lengthHeader = response.headers.get('content-length');
  const total = lengthHeader !== null && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : undefined;

  // A temporary name in the same directory, so the final rename is atomic (same file system).
  const temporary = `${path}.${process.pid}.${Date.now().toString(36)}.part`;
  const hash = createHash('md5');
  let bytes = 0;
  const file = await open(temporary, 'w');
  try {
    try {
      if (response.body) {
        for await (const chunk of response.body) {
          await file.write(chunk);
          hash.update(chunk);
          bytes += chunk.length;
          options.onProgress?.({ bytes, total });
        }
      }
    } catch (error) {
      throw unreachable(error);
    } finally {
      await file.close();
    }
    if (total !== undefined && bytes !== total) {
      throw new RetryableDownloadError(url, `the download from ${host} stopped after ${bytes} of ${total} bytes`);
    }
    const md5 = hash.digest('hex');
    if (expected !== undefined && md5 !== expected) {
      throw new ChecksumError(path, expected, md5, `the server sent a different file than expected; try another --url or check the --md5 value`);
    }
    await options.verify?.(temporary);
    await rename(temporary, path);
    return { path, downloaded: true, bytes, md5 };
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
}
