/**
 * Replace-or-nothing file writes: a reader (or a run that crashes mid-save) sees either the old file
 * or the complete new one, never a torn mix. The data goes to a temporary file in the same folder
 * (rename is atomic only within one file system), is flushed to disk, then renamed over the target.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { mkdir, open, rename, rm, rmdir } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

export interface AtomicWriteOptions {
  /** File permissions of a newly created file (default 0o666, less the umask). */
  mode?: number;
  /**
   * Called once the temporary file is complete and flushed, just before it replaces the target.
   * Tests throw from here to show that an interrupted write leaves the old file untouched.
   */
  beforeRename?: (temporaryPath: string) => void | Promise<void>;
}

function temporaryPathFor(path: string): string {
  // Hidden, and unique per process and call, so concurrent writers of one target never share a temp file.
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

function toBytes(data: Uint8Array | string): Uint8Array {
  return typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
}

/**
 * The rename itself lives in the folder's entry list; flushing the folder makes it survive a power
 * loss. Some platforms (Windows) cannot open a folder for this, which costs only that guarantee.
 */
async function syncFolder(folder: string): Promise<void> {
  try {
    const handle = await open(folder, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // best effort, see above
  }
}

function syncFolderSync(folder: string): void {
  try {
    const fd = openSync(folder, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // best effort, see syncFolder
  }
}

/** Writes `data` to `path` atomically. The folder must exist. */
export async function writeFileAtomic(path: string, data: Uint8Array | string, options: AtomicWriteOptions = {}): Promise<void> {
  const temporary = temporaryPathFor(path);
  try {
    // 'wx': never follow or reuse something already at the temporary name.
    const handle = await open(temporary, 'wx', options.mode ?? 0o666);
    try {
      await handle.writeFile(toBytes(data));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await options.beforeRename?.(temporary);
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true }).catch(() => undefined);
    throw error;
  }
  await syncFolder(dirname(path));
}

/** The synchronous form of `writeFileAtomic`, for callers that cannot await (e.g. on process exit). */
export function writeFileAtomicSync(path: string, data: Uint8Array | string, options: Omit<AtomicWriteOptions, 'beforeRename'> & {
  beforeRename?: (temporaryPath: string) => void;
} = {}): void {
  const temporary = temporaryPathFor(path);
  try {
    const fd = openSync(temporary, 'wx', options.mode ?? 0o666);
    try {
      const bytes = toBytes(data);
      let written = 0;
      while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    options.beforeRename?.(temporary);
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
  syncFolderSync(dirname(path));
}

/** The folders from `dir` up to `first` (the highest one mkdir created), deepest first. */
function createdChain(dir: string, first: string | undefined): string[] {
  if (first === undefined) return [];
  const top = resolve(first);
  const chain = [resolve(dir)];
  while (chain[chain.length - 1] !== top) {
    const parent = dirname(chain[chain.length - 1]);
    if (parent === chain[chain.length - 1]) return [];
    chain.push(parent);
  }
  return chain;
}

/**
 * Creates `dir` and its missing parents, and returns a function that takes back what this call
 * created: the new folders, deepest first, each only while it is still empty, so a command that
 * fails before it saved anything leaves no empty folder behind and never removes anything written.
 */
export async function createDirectories(dir: string): Promise<() => Promise<void>> {
  const chain = createdChain(dir, await mkdir(dir, { recursive: true }));
  return async () => {
    for (const folder of chain) {
      try {
        await rmdir(folder);
      } catch {
        return; // not empty (or gone): it and its parents stay
      }
    }
  };
}

