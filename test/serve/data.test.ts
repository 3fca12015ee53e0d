import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createKernels } from '../../src/core/index.js';
import type { Kernels } from '../../src/core/kernels.js';
import { modelConfigFromV1, type ModelConfig } from '../../src/io/model-config.js';
import { Classifier } from '../../src/nn/classifier.js';
import { Mlp } from '../../src/nn/mlp.js';
import { createServer, type DigitServer } from '../../src/serve/server.js';
import { writeSmallIdx } from '../cli/helpers.js';

/**
 * Each model's gallery is computed on the data that model was trained on (as its config.json
 * records it), not on one dataset for the whole server; `evaluationData` (serve --data) overrides it.
 * The models are untrained: only which test split they are scored on matters here.
 */
const dir = mkdtempSync(join(tmpdir(), 'digitlab-serve-data-'));
const runsDir = join(dir, 'runs');
const small = join(dir, 'small');
const servers: DigitServer[] = [];
let kernels: Kernels;

async function saveModel(id: string, training?: Record<string, unknown>): Promise<void> {
  const config: ModelConfig = modelConfigFromV1({
    format: 'digitlab-mlp', version: 1, inputShape: [28, 28], classes: 10, hidden: [8], activation: 'relu',
    normalization: { pixelMax: 255 }, ...(training ? { training } : {}),
  });
  const mlp = Mlp.create(kernels, { inputs: 784, hidden: [8], classes: 10, activation: 'relu' }, 1);
  await new Classifier(config, mlp).save(join(runsDir, id));
}

async function gallery(server: DigitServer, id: string): Promise<{ status: number; body: { data?: string; count?: number; message?: string } }> {
  const response = await server.app.inject({ method: 'GET', url: `/api/models/${id}/gallery` });
  return { status: response.statusCode, body: response.json() };
}

before(async () => {
  kernels = await createKernels({ threads: 1 });
  // more than the default validation split of 10,000, so the server's own --data loads it as is
  writeSmallIdx(small, 10_100, 40);
  await saveModel('on-small', { data: `idx:${small}`, validation: 100 });
  await saveModel('on-mnist', { data: 'mnist' });
  await saveModel('unrecorded');
  await saveModel('on-missing', { data: `idx:${join(dir, 'gone')}` });
});
after(async () => {
  for (const server of servers) await server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("a model's gallery", () => {
  it('is computed on the data the model was trained on, and names it', async () => {
    const server = await createServer({ runsDir, studiesDir: join(dir, 'studies'), kernels });
    servers.push(server);
    const onSmall = await gallery(server, 'on-small');
    assert.equal(onSmall.status, 200, onSmall.body.message);
    assert.equal(onSmall.body.data, `idx:${small}`);
    assert.equal(onSmall.body.count, 40);
    const onMnist = await gallery(server, 'on-mnist');
    assert.equal(onMnist.body.data, 'mnist');
    assert.equal(onMnist.body.count, 10000);
    // a model that does not say: the server's data for trainings
    const unrecorded = await gallery(server, 'unrecorded');
    assert.equal(unrecorded.body.data, 'mnist');
    const missing = await gallery(server, 'on-missing');
    assert.equal(missing.status, 422);
    assert.match(missing.body.message ?? '', /on-missing was trained on idx:.*gone, which cannot be loaded: .*gone does not exist; start the server with --data SOURCE/);
  });

  it('uses the data the server was given for every model when one is given', async () => {
    const server = await createServer({ runsDir, studiesDir: join(dir, 'studies'), kernels, evaluationData: `idx:${small}` });
    servers.push(server);
    const onMnist = await gallery(server, 'on-mnist');
    assert.equal(onMnist.status, 200, onMnist.body.message);
    assert.equal(onMnist.body.data, `idx:${small}`);
    assert.equal(onMnist.body.count, 40);
  });
});
