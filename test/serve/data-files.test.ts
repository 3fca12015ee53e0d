/**
 * The training data the page fetches to train in the tab: GET /api/data/ (a manifest) and the six gzip
 * IDX files it names, which parse back to the server's own splits; and `digitlab site`, which writes the
 * same files into a static site beside the page, the kernels and the models.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { idxDataset } from '../../src/data/idx-bytes.js';
import { loadData } from '../../src/data/source.js';
import { DATA_FILES, type DataManifest } from '../../src/serve/data-files.js';
import { createServer, type DigitServer } from '../../src/serve/server.js';
import { writeStaticSite } from '../../src/serve/site.js';
import { digitlab, writeSmallIdx } from '../cli/helpers.js';
import { saveUntrainedModel } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'digitlab-serve-data-files-'));
const small = join(dir, 'small');
let server: DigitServer;

before(async () => {
  writeSmallIdx(small, 1200, 300);
  await saveUntrainedModel(join(dir, 'runs', 'tiny'));
  server = await createServer({ runsDir: join(dir, 'runs'), studiesDir: join(dir, 'studies'), data: `idx:${small}` });
});
after(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function get(url: string, headers: Record<string, string> = {}) {
  return server.app.inject({ method: 'GET', url, headers });
}

describe('the data for training in the browser', () => {
  it('names each split\'s gzip IDX files in a manifest, and they parse back to the server\'s splits', async () => {
    const response = await get('/api/data/');
    assert.equal(response.statusCode, 200);
    const manifest = response.json() as DataManifest;
    assert.equal(manifest.format, 'digitlab-data');
    assert.equal(manifest.source, `idx:${small}`);
    assert.match(manifest.id, /^[0-9a-f]{16}$/);
    const expected = loadData(`idx:${small}`);
    for (const split of ['train', 'validation', 'test'] as const) {
      const entry = manifest.splits[split];
      const [images, labels] = await Promise.all([get(`/api/data/${entry.images}`), get(`/api/data/${entry.labels}`)]);
      assert.equal(images.headers['content-type'], 'application/gzip');
      assert.equal(images.headers.etag, `"${manifest.id}"`);
      assert.equal(entry.bytes, images.rawPayload.length + labels.rawPayload.length);
      const dataset = idxDataset(gunzipSync(images.rawPayload), gunzipSync(labels.rawPayload));
      assert.equal(dataset.count, expected[split].count, split);
      assert.equal(entry.count, expected[split].count);
      assert.deepEqual(Buffer.from(dataset.images), Buffer.from(expected[split].images), `${split} images`);
      assert.deepEqual(Buffer.from(dataset.labels), Buffer.from(expected[split].labels), `${split} labels`);
    }
    // the training split is the server's: 1,200 images less the last sixth held out
    assert.deepEqual([manifest.splits.train.count, manifest.splits.validation.count, manifest.splits.test.count], [1000, 200, 300]);
  });

  it('answers a cached copy of the current version with 304, and refuses names it does not serve', async () => {
    const { id } = (await get('/api/data/')).json() as DataManifest;
    const again = await get(`/api/data/${DATA_FILES[0]}`, { 'if-none-match': `"${id}"` });
    assert.equal(again.statusCode, 304);
    const stale = await get(`/api/data/${DATA_FILES[0]}`, { 'if-none-match': '"0000000000000000"' });
    assert.equal(stale.statusCode, 200);
    for (const name of ['..%2Fpackage.json', 'train-images-idx3-ubyte', 'secrets.gz']) {
      const refused = await get(`/api/data/${name}`);
      assert.equal(refused.statusCode, 400, name);
      assert.match(refused.json().message, /must be equal to one of the allowed values/);
    }
  });
});

describe('digitlab site', () => {
  it('writes the page, its kernels, the data and the models, marked as a static site', async () => {
    const out = join(dir, 'site');
    const result = await writeStaticSite({ out, models: [join(dir, 'runs', 'tiny')], data: loadData(`idx:${small}`) });
    assert.deepEqual(result.models, ['tiny']);
    const page = readFileSync(join(out, 'index.html'), 'utf8');
    assert.match(page, /<meta name="digitlab-site" content="static">/);
    for (const file of ['kernels/kernels-simd.wasm', 'kernels/kernels-relaxed.wasm', 'isolation-worker.js', 'models/tiny/config.json', 'models/tiny/model.safetensors', ...DATA_FILES.map((f) => `data/${f}`)]) {
      assert.ok(existsSync(join(out, file)), file);
    }
    assert.match(readFileSync(join(out, '_headers'), 'utf8'), /Cross-Origin-Opener-Policy: same-origin\n {2}Cross-Origin-Embedder-Policy: require-corp/);
    const models = JSON.parse(readFileSync(join(out, 'models', 'index.json'), 'utf8'));
    assert.equal(models.models[0].id, 'tiny');
    assert.equal(models.models[0].default, true);
    const manifest = JSON.parse(readFileSync(join(out, 'data', 'index.json'), 'utf8')) as DataManifest;
    assert.equal(manifest.splits.test.count, 300);
  });

  it('refuses a model folder that does not exist, and leaves the site it would have replaced', () => {
    const out = join(dir, 'site');
    const result = digitlab(['site', out, '--model', join(dir, 'nothing-here'), '--data', `idx:${small}`]);
    assert.equal(result.status, 1);
    assert.match(result.stderr, /nothing-here/);
    assert.ok(existsSync(join(out, 'models', 'tiny', 'config.json')), 'the earlier site is whole');
  });
});
