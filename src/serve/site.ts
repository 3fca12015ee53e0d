/**
 * The web app as a static site: the page, the kernels, the data as gzip IDX and the models as their
 * folders' files, all beside each other, so any static host serves it and the page reads digits and
 * trains in the tab with no digitlab server. The page needs cross-origin isolation (its kernels share
 * memory between threads): hosts that set headers get them from `_headers`, and on any other host a
 * small service worker of the page adds them (web/public/isolation-worker.js).
 */
import { cp, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import type { DatasetSplits } from '../data/dataset.js';
import { modelConfigToJson } from '../io/model-config.js';
import { loadModel, WEIGHTS_FILE, CONFIG_FILE } from '../io/model-files.js';
import { describeModel, summarizeModel } from '../io/model-spec.js';
import { packageFile } from '../io/package-files.js';
import { buildDataFiles } from './data-files.js';

export interface SiteOptions {
  /** The folder to write (replaced as a whole once the new site is complete). */
  out: string;
  /** Model folders the site offers; the first is its default. */
  models: string[];
  /** The data the page trains on. */
  data: DatasetSplits;
  /** The built web app (default: dist/web of the package). */
  webRoot?: string;
}

export interface SiteResult {
  out: string;
  models: string[];
  /** Bytes of the data files, the biggest part of the site. */
  dataBytes: number;
}

/** The headers the page needs, in the `_headers` form Netlify and Cloudflare Pages read. */
export const ISOLATION_HEADERS = '/*\n  Cross-Origin-Opener-Policy: same-origin\n  Cross-Origin-Embedder-Policy: require-corp\n';

export class SiteError extends Error {
  override readonly name = 'SiteError';
}

export async function writeStaticSite(options: SiteOptions): Promise<SiteResult> {
  const webRoot = options.webRoot ?? packageFile('dist', 'web');
  if (!webRoot || !existsSync(join(webRoot, 'index.html'))) throw new SiteError('the web app is not built (dist/web/index.html is missing): run `npm run build` first');
  if (options.models.length === 0) throw new SiteError('a site needs at least one model folder to read digits with');
  const out = resolve(options.out);
  // written beside the target, then swapped in: an interrupted build leaves the old site whole
  const staging = join(dirname(out), `.${basename(out)}.${process.pid}.tmp`);
  await rm(staging, { recursive: true, force: true });
  await mkdir(dirname(out), { recursive: true });
  try {
    await cp(webRoot, staging, { recursive: true });
    const page = await readFile(join(webRoot, 'index.html'), 'utf8');
    if (!page.includes('<meta charset="utf-8">')) throw new SiteError(`${join(webRoot, 'index.html')} is not the digitlab page (no charset meta to mark it static after)`);
    await writeFile(join(staging, 'index.html'), page.replace('<meta charset="utf-8">', '<meta charset="utf-8">\n  <meta name="digitlab-site" content="static">'));
    await writeFile(join(staging, '_headers'), ISOLATION_HEADERS);

    await mkdir(join(staging, 'kernels'));
    for (const file of ['kernels-simd.wasm', 'kernels-relaxed.wasm']) {
      const path = packageFile('build', file);
      if (!path) throw new SiteError(`build/${file} is missing: run \`npm run build\``);
      await cp(path, join(staging, 'kernels', file));
    }

    const { manifest, files } = await buildDataFiles(options.data);
    await mkdir(join(staging, 'data'));
    let dataBytes = 0;
    for (const [name, bytes] of files) {
      await writeFile(join(staging, 'data', name), bytes);
      dataBytes += bytes.length;
    }
    await writeFile(join(staging, 'data', 'index.json'), JSON.stringify(manifest, null, 2) + '\n');

    const summaries = [];
    const ids = new Set<string>();
    for (const [index, dir] of options.models.entries()) {
      const { config } = await loadModel(dir);
      let id = basename(resolve(dir)).replace(/[^A-Za-z0-9._-]/g, '-');
      while (ids.has(id)) id = `${id}-${index}`;
      ids.add(id);
      await mkdir(join(staging, 'models', id), { recursive: true });
      await writeFile(join(staging, 'models', id, CONFIG_FILE), JSON.stringify(modelConfigToJson(config), null, 2) + '\n');
      await cp(join(dir, WEIGHTS_FILE), join(staging, 'models', id, WEIGHTS_FILE));
      const accuracy = config.metrics?.test_accuracy;
      summaries.push({
        id, default: index === 0, inputShape: config.inputShape, classes: config.classes, network: describeModel(config.model),
        params: summarizeModel(config.model).params, testAccuracy: typeof accuracy === 'number' ? accuracy : null,
      });
    }
    await writeFile(join(staging, 'models', 'index.json'), JSON.stringify({ models: summaries }, null, 2) + '\n');

    await rm(out, { recursive: true, force: true });
    await rename(staging, out);
    return { out, models: summaries.map((s) => s.id), dataBytes };
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
}
