/**
 * Downloading a dataset file (by default the PyTorch tutorial's mnist.pkl.gz) into a local cache:
 * skipped when already present, written atomically (temporary file + rename, so an interrupted
 * download never leaves a partial file under the final name), refused when the server sent a web page
 * or (for a .gz name) something that is not gzip, checked by MD5 when the digest is known, and retried
 * with exponential backoff on network errors, cut connections and server errors (not on 404). A
 * download that fails leaves nothing behind: no partial file, no folder it created.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { createDirectories } from '../io/atomic.js';
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
   * fails never appears under the final name. Read `temporaryPath`; name `targetPath` in messages,
   * since the temporary file is deleted once the check fails.
   */
  readonly verify?: (temporaryPath: string, targetPath: string) => void | Promise<void>;
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

/** A DownloadError worth another attempt (network failure, 5xx, cut connection). */
class RetryableDownloadError extends DownloadError {}

/** What to do when every attempt failed; nothing was kept, so running again starts afresh. */
const RETRY_ADVICE = 'nothing was kept: run the same command again to retry, pass --url for a mirror, or use --data mnist (bundled)';

/** The first bytes of a download, enough to recognize a web page or a gzip stream. */
const HEAD_BYTES = 512;

function isHtmlType(contentType: string): boolean {
  return /^\s*(text\/html|application\/xhtml\+xml)\s*(;|$)/i.test(contentType);
}

/** An HTML document starts (after blanks) with a doctype, a comment or one of its outer elements. */
function looksLikeHtml(head: Buffer): boolean {
  return /^\s*<(!doctype\s+html|html|head|body|!--)/i.test(head.toString('latin1'));
}

function hexBytes(head: Buffer, count = 4): string {
  return [...head.subarray(0, count)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
}

/** Why a download is not the file its name promises (null when it may be). */
function contentProblem(url: string, name: string, contentType: string, head: Buffer): string | null {
  if (/\.html?$/i.test(name)) return null;
  const host = new URL(url).host;
  const gzip = /\.gz$/i.test(name);
  if (isHtmlType(contentType) || looksLikeHtml(head)) {
    return (
      `${host} sent an HTML page, not ${gzip ? 'gzip' : `the file ${name}`}, for ${url}` +
      `${contentType ? ` (content type ${contentType})` : ''}: the address is a web page (an error, sign-in or download page), ` +
      'not the file itself; check --url, or use --data mnist (bundled)'
    );
  }
  if (gzip && head.length > 0 && !(head[0] === 0x1f && head[1] === 0x8b)) {
    return `${host} sent ${name} that is not gzip: it starts with the bytes ${hexBytes(head)} (gzip starts with 1f 8b), for ${url}; check --url`;
  }
  return null;
}

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
  const removeCreatedFolders = await createDirectories(dir);
  try {
    return await downloadWithRetries(url, path, expected, options);
  } catch (error) {
    await removeCreatedFolders();
    throw error;
  }
}

async function downloadWithRetries(url: string, path: string, expected: string | undefined, options: FetchDatasetOptions): Promise<FetchDatasetResult> {
  const retries = options.retries ?? 3;
  const backoffMs = options.backoffMs ?? 1000;
  for (let attempt = 0; ; attempt++) {
    try {
      return await downloadOnce(url, path, expected, options);
    } catch (error) {
      if (!(error instanceof RetryableDownloadError)) throw error;
      if (attempt >= retries) {
        throw new DownloadError(url, `${error.message} (gave up after ${attempt + 1} attempt${attempt ? 's' : ''}); ${RETRY_ADVICE}`, error.status);
      }
      await new Promise((resolve) => setTimeout(resolve, backoffMs * 2 ** attempt));
    }
  }
}

async function downloadOnce(url: string, path: string, expected: string | undefined, options: FetchDatasetOptions): Promise<FetchDatasetResult> {
  const host = new URL(url).host;
  const detailOf = (cause: unknown): string => {
    const reason = (cause as { cause?: { code?: string; message?: string } }).cause;
    return reason?.code ?? reason?.message ?? (cause as Error).message;
  };
  const unreachable = (cause: unknown) => new RetryableDownloadError(url, `could not reach ${host}: ${detailOf(cause)}; check the network`);

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
  const name = basename(path);
  const contentType = response.headers.get('content-type') ?? '';
  // A page declared as HTML is refused before its body is read.
  const declared = isHtmlType(contentType) ? contentProblem(url, name, contentType, Buffer.alloc(0)) : null;
  if (declared) {
    await response.body?.cancel().catch(() => undefined);
    throw new DownloadError(url, declared, response.status);
  }
  const lengthHeader = response.headers.get('content-length');
  const total = lengthHeader !== null && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : undefined;

  // A temporary name in the same directory, so the final rename is atomic (same file system).
  const temporary = `${path}.${process.pid}.${Date.now().toString(36)}.part`;
  const hash = createHash('md5');
  let bytes = 0;
  const headChunks: Buffer[] = [];
  const cut = (detail: string) => {
    const count = total === undefined ? bytes.toLocaleString('en-US') : `${bytes.toLocaleString('en-US')} of ${total.toLocaleString('en-US')}`;
    return new RetryableDownloadError(url, `the connection to ${host} was cut after ${count} bytes (${detail})`);
  };
  const file = await open(temporary, 'w');
  try {
    try {
      if (response.body) {
        for await (const chunk of response.body) {
          await file.write(chunk);
          hash.update(chunk);
          if (bytes < HEAD_BYTES) headChunks.push(Buffer.from(chunk.subarray(0, HEAD_BYTES - bytes)));
          bytes += chunk.length;
          options.onProgress?.({ bytes, total });
        }
      }
    } catch (error) {
      throw cut(detailOf(error));
    } finally {
      await file.close();
    }
    if (total !== undefined && bytes < total) throw cut('the server ended the body early');
    const problem = contentProblem(url, name, contentType, Buffer.concat(headChunks));
    if (problem) throw new DownloadError(url, problem, response.status);
    const md5 = hash.digest('hex');
    if (expected !== undefined && md5 !== expected) {
      throw new ChecksumError(path, expected, md5, `the server sent a different file than expected; try another --url or check the --md5 value`);
    }
    await options.verify?.(temporary, path);
    await rename(temporary, path);
    return { path, downloaded: true, bytes, md5 };
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
}
