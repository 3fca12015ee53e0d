/**
 * Files of the digitlab package itself (build/, dist/web/, studies/), found from this module whether it
 * runs from source (src/io, two folders below the package's root) or built (dist/src/io, three).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The package's file at `parts` (joined by /), or null when the package has none. */
export function packageFile(...parts: string[]): string | null {
  for (const up of ['../..', '../../..']) {
    const path = fileURLToPath(new URL(`${up}/${parts.join('/')}`, import.meta.url));
    if (existsSync(path)) return path;
  }
  return null;
}
