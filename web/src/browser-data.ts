/**
 * Training data in the browser: the splits a manifest names (the server's /api/data/, or a static
 * site's data/index.json), fetched once as gzip IDX and kept in the Cache API under the data's id, or
 * IDX files the user chose. Gunzipped with DecompressionStream, parsed by the library's IDX reader.
 */
import {
  DataSourceError, defaultValidationSize, idxDataset, isGzip, splitValidation, type Dataset, type DatasetSplits,
} from '../../src/browser.js';

interface ManifestSplit {
  count: number;
  images: string;
  labels: string;
  bytes: number;
}
interface Manifest {
  format: string;
  source: string;
  id: string;
  classNames?: string[];
  splits: Record<'train' | 'validation' | 'test', ManifestSplit>;
}

const CACHE = 'digitlab-data';

export async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** The file's bytes from this browser's cache, or fetched (and cached) when the cache lacks this version. */
async function cachedBytes(url: string, version: string, fetched: (bytes: number) => void): Promise<Uint8Array> {
  const key = `${url}${url.includes('?') ? '&' : '?'}v=${version}`;
  const cache = typeof caches === 'undefined' ? null : await caches.open(CACHE).catch(() => null);
  const hit = await cache?.match(key);
  if (hit) return new Uint8Array(await hit.arrayBuffer());
  const response = await fetch(url, { cache: 'no-cache' });
  if (!response.ok) throw new DataSourceError(`${url}: HTTP ${response.status}; the data could not be fetched`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  fetched(bytes.length);
  if (cache) {
    // older versions of the same file go: a cache holds one copy of the data
    for (const old of await cache.keys()) if (old.url.startsWith(`${new URL(url, location.href).href}?v=`) || old.url.startsWith(`${new URL(url, location.href).href}&v=`)) await cache.delete(old);
    await cache.put(key, new Response(bytes as BlobPart, { headers: { 'content-type': 'application/gzip' } })).catch(() => {
      // a full or refused cache: the data is fetched again next time
    });
  }
  return bytes;
}

/** The three splits a manifest names; `progress` hears of each file fetched over the network. */
export async function loadManifestData(manifestUrl: string, progress: (text: string) => void = () => {}): Promise<DatasetSplits> {
  const absolute = new URL(manifestUrl, location.href);
  const response = await fetch(absolute, { cache: 'no-cache' });
  if (!response.ok) throw new DataSourceError(`${absolute.pathname}: HTTP ${response.status}; this page's data is not available`);
  const manifest = (await response.json()) as Manifest;
  if (manifest.format !== 'digitlab-data') throw new DataSourceError(`${absolute.pathname} is not a digitlab data manifest`);
  let fetchedBytes = 0;
  const split = async (name: 'train' | 'validation' | 'test'): Promise<Dataset> => {
    const entry = manifest.splits[name];
    const read = async (file: string) => gunzip(await cachedBytes(new URL(file, absolute).href, manifest.id, (n) => {
      fetchedBytes += n;
      progress(`downloading the data: ${(fetchedBytes / 1e6).toFixed(1)} MB`);
    }));
    const [images, labels] = await Promise.all([read(entry.images), read(entry.labels)]);
    const dataset = idxDataset(images, labels, { images: `${name} images`, labels: `${name} labels` });
    return manifest.classNames ? { ...dataset, classes: manifest.classNames.length, classNames: manifest.classNames } : dataset;
  };
  const [train, validation, test] = await Promise.all([split('train'), split('validation'), split('test')]);
  return { source: manifest.source, train, validation, test };
}

type Role = 'trainImages' | 'trainLabels' | 'testImages' | 'testLabels';

/** Which of a set's four files a name is: MNIST's names, or any name with train/test (or t10k) and images/labels (or idx3/idx1). */
function roleOf(name: string): Role | null {
  const lower = name.toLowerCase();
  const split = /train/.test(lower) ? 'train' : /t10k|test/.test(lower) ? 'test' : null;
  const kind = /images|idx3/.test(lower) ? 'Images' : /labels|idx1/.test(lower) ? 'Labels' : null;
  return split && kind ? (`${split}${kind}` as Role) : null;
}

/**
 * The splits of four IDX files (raw or gzip) the user chose: training and test images and labels; a
 * sixth of the training images, the last ones, held out for validation as `digitlab train` does.
 */
export async function loadIdxFiles(files: Array<{ name: string; bytes: ArrayBuffer }>): Promise<DatasetSplits> {
  const found = new Map<Role, { name: string; bytes: Uint8Array }>();
  for (const file of files) {
    const role = roleOf(file.name);
    if (role === null) {
      throw new DataSourceError(`${file.name}: not a name of an IDX set's file; choose four files named like train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (.gz or not)`);
    }
    if (found.has(role)) throw new DataSourceError(`${file.name} and ${found.get(role)?.name} are both ${role.replace(/[A-Z]/, (c) => ` ${c.toLowerCase()}`)}: choose one of each`);
    const raw = new Uint8Array(file.bytes);
    found.set(role, { name: file.name, bytes: isGzip(raw) ? await gunzip(raw).catch(() => {
      throw new DataSourceError(`${file.name}: gzip data is corrupt or truncated; download the file again`);
    }) : raw });
  }
  const missing = (['trainImages', 'trainLabels', 'testImages', 'testLabels'] as Role[]).filter((r) => !found.has(r));
  if (missing.length > 0) throw new DataSourceError(`the chosen files lack the ${missing.map((r) => r.replace(/[A-Z]/, (c) => ` ${c.toLowerCase()}`)).join(', ')}: choose all four files of the set`);
  const pair = (images: Role, labels: Role): Dataset => {
    const i = found.get(images) as { name: string; bytes: Uint8Array };
    const l = found.get(labels) as { name: string; bytes: Uint8Array };
    return idxDataset(i.bytes, l.bytes, { images: i.name, labels: l.name });
  };
  const all = pair('trainImages', 'trainLabels');
  const test = pair('testImages', 'testLabels');
  const classes = Math.max(all.classes, test.classes);
  const { train, validation } = splitValidation({ ...all, classes }, defaultValidationSize(all.count), found.get('trainImages')?.name);
  return { source: `files:${found.get('trainImages')?.name}`, train, validation, test: { ...test, classes } };
}
