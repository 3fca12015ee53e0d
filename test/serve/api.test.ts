import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createKernels } from '../../src/core/index.js';
import { encodeGrayscalePng } from '../../src/data/images.js';
import { loadData } from '../../src/data/source.js';
import { modelConfigFromV1, type ModelConfig } from '../../src/io/model-config.js';
import { Classifier } from '../../src/nn/classifier.js';
import { defaultLr } from '../../src/optim/index.js';
import { createServer, type DigitServer } from '../../src/serve/server.js';
import { DEFAULT_SETTINGS, TrainingRun } from '../../src/train/trainer.js';

const dir = mkdtempSync(join(tmpdir(), 'digitlab-api-'));
const runsDir = join(dir, 'runs');
let server: DigitServer;
let url: string;
const test = loadData('mnist').test;

before(async () => {
  const data = loadData('mnist');
  const settings = { ...DEFAULT_SETTINGS, hidden: [64], epochs: 1, seed: 1 };
  const run = new TrainingRun({ kernels: await createKernels(), data, settings });
  const result = await run.run();
  const config: ModelConfig = modelConfigFromV1({
    format: 'digitlab-mlp', version: 1, inputShape: [28, 28], classes: 10, hidden: [64], activation: 'relu',
    normalization: { pixelMax: 255 }, metrics: { test_accuracy: result.test.accuracy },
  });
  await new Classifier(config, run.model).save(join(runsDir, 'm64'));
  server = await createServer({ runsDir, studiesDir: join(dir, 'studies') });
  url = await server.listen(0);
});
after(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

function testPixels(index: number): number[] {
  return Array.from(test.images.subarray(index * 784, (index + 1) * 784), (v) => v / test.pixelMax);
}

function post(path: string, body: string | Uint8Array, type: string): Promise<Response> {
  return fetch(url + path, { method: 'POST', headers: { 'content-type': type }, body });
}

async function expectError(response: Response, status: number, message: RegExp): Promise<void> {
  assert.equal(response.status, status);
  assert.match(response.headers.get('content-type') ?? '', /application\/json/);
  const body = (await response.json()) as { message: string; statusCode: number };
  assert.equal(body.statusCode, status);
  assert.match(body.message, message);
}

describe('HTTP API', () => {
  it('predicts from JSON pixels and from a PNG, with probabilities and milliseconds', async () => {
    let right = 0;
    for (let i = 0; i < 20; i++) {
      const response = await post('/api/predict', JSON.stringify({ pixels: testPixels(i) }), 'application/json');
      assert.equal(response.status, 200);
      const body = (await response.json()) as { digit: number; probabilities: number[]; ms: number; model: string };
      assert.equal(body.model, 'm64');
      assert.equal(body.probabilities.length, 10);
      assert.ok(Math.abs(body.probabilities.reduce((a, b) => a + b, 0) - 1) < 1e-4);
      assert.ok(body.ms >= 0);
      if (body.digit === test.labels[i]) right++;
    }
    assert.ok(right >= 17, `${right} of 20 test digits right`);
    // a white-on-black PNG as MNIST stores it, 4x larger
    const big = new Uint8Array(112 * 112);
    for (let y = 0; y < 112; y++) for (let x = 0; x < 112; x++) big[y * 112 + x] = test.images[(y >> 2) * 28 + (x >> 2)];
    const response = await post('/api/predict', encodeGrayscalePng(big, 112, 112), 'image/png');
    assert.equal(response.status, 200);
    assert.equal(((await response.json()) as { digit: number }).digit, test.labels[0]);
    assert.equal(response.headers.get('cross-origin-embedder-policy'), 'require-corp');
  });

  it('reads a row of digits', async () => {
    const row = new Uint8Array(28 * 3 * 28);
    for (const [slot, index] of [0, 1, 2].entries()) {
      for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) row[y * 84 + slot * 28 + x] = 255 - test.images[index * 784 + y * 28 + x];
    }
    const response = await post('/api/read', encodeGrayscalePng(row, 84, 28), 'image/png');
    assert.equal(response.status, 200);
    const body = (await response.json()) as { text: string; digits: Array<{ confidence: number }> };
    assert.equal(body.text, `${test.labels[0]}${test.labels[1]}${test.labels[2]}`);
    assert.equal(body.digits.length, 3);
  });

  it('lists models and serves their files for the browser', async () => {
    const { models } = (await (await fetch(url + '/api/models')).json()) as { models: Array<{ id: string; default: boolean }> };
    assert.deepEqual(models.map((m) => [m.id, m.default]), [['m64', true]]);
    const info = (await (await fetch(url + '/api/models/m64')).json()) as { files: { weights: string } };
    const weights = await fetch(url + info.files.weights);
    assert.equal(weights.status, 200);
    assert.deepEqual(new Uint8Array(await weights.arrayBuffer()), new Uint8Array(readFileSync(join(runsDir, 'm64', 'model.safetensors'))));
  });

  it('answers bad requests with 4xx JSON errors and keeps serving', async () => {
    await expectError(await post('/api/predict', 'hello', 'text/plain'), 415, /content type "text\/plain" is not accepted/);
    await expectError(await post('/api/predict', 'not a picture', 'image/png'), 400, /not a PNG or JPEG/);
    await expectError(await post('/api/predict', JSON.stringify({ pixels: testPixels(0).slice(1) }), 'application/json'), 400, /reads 28×28 images: send 784 pixel values .*not 783/);
    await expectError(await post('/api/predict', `{"pixels":[${new Array(784).fill('NaN').join(',')}]}`, 'application/json'), 400, /JSON/);
    await expectError(await post('/api/predict', JSON.stringify({ pixels: new Array(784).fill('NaN') }), 'application/json'), 400, /must be number/);
    await expectError(await post('/api/predict', JSON.stringify({ pixels: new Array(784).fill(255) }), 'application/json'), 400, /must be <= 1/);
    await expectError(await post('/api/predict?model=nope', JSON.stringify({ pixels: testPixels(0) }), 'application/json'), 404, /no model with id "nope"/);
    await expectError(await fetch(url + '/api/models/nope'), 404, /no model/);
    await expectError(await fetch(url + '/api/models/..%2F..%2Fetc'), 400, /must match pattern/);
    await expectError(await fetch(url + '/api/models/m64/files/..%2Fm64%2Fconfig.json'), 400, /must be equal to one of/);
    await expectError(await post('/api/predict?model=..%2Fruns%2Fm64', JSON.stringify({ pixels: testPixels(0) }), 'application/json'), 400, /must match pattern/);
    await expectError(await fetch(url + '/api/studies/..%2F..%2Fetc'), 400, /must match pattern/);
    await expectError(await fetch(url + '/api/runs/nope/events'), 404, /no training run/);
    const huge = await post('/api/predict', new Uint8Array(100 * 1024 * 1024), 'image/png').catch((error: Error) => error);
    if (huge instanceof Response) await expectError(huge, 413, /too large/);
    else assert.fail(`the 100 MB request failed without an answer: ${huge.message}`);
    const still = await post('/api/predict', JSON.stringify({ pixels: testPixels(0) }), 'application/json');
    assert.equal(still.status, 200);
  });

  it('trains a run, streams its epochs as server-sent events, and offers the model', async () => {
    const started = await post('/api/runs', JSON.stringify({ hidden: [16], epochs: 2, trainImages: 2000, lr: 0.01 }), 'application/json');
    assert.equal(started.status, 201);
    const { id, events } = (await started.json()) as { id: string; events: string };
    const stream = await fetch(url + events);
    assert.equal(stream.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    const text = await stream.text(); // the stream ends with the run
    const names = [...text.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);
    assert.equal(names[0], 'start');
    assert.deepEqual(names.filter((n) => n === 'epoch').length, 2);
    assert.equal(names.at(-1), 'done');
    const models = (await (await fetch(url + '/api/models')).json()) as { models: Array<{ id: string }> };
    assert.ok(models.models.some((m) => m.id === id));
    await expectError(await post('/api/runs', JSON.stringify({ epochs: 0 }), 'application/json'), 400, /epochs/);
    await expectError(await post('/api/runs', JSON.stringify({ optimizer: 'lbfgs' }), 'application/json'), 400, /optimizer/);
  });

  it('trains a run on distorted digits when asked, and refuses a bad augmentation by name', async () => {
    const body = { hidden: [16], epochs: 1, trainImages: 1000, lr: 0.01, augment: { affine: { rotate: 12 }, elastic: true } };
    const started = await post('/api/runs', JSON.stringify(body), 'application/json');
    assert.equal(started.status, 201);
    const { id, events } = (await started.json()) as { id: string; events: string };
    const text = await (await fetch(url + events)).text();
    assert.match(text, /event: done/);
    const config = JSON.parse(readFileSync(join(runsDir, id, 'config.json'), 'utf8'));
    assert.deepEqual(config.training.augment, { affine: { rotate: 12, scale: 0.1, shear: 10, translate: 2 }, elastic: { alpha: 34, sigma: 4 } });
    await expectError(await post('/api/runs', JSON.stringify({ augment: 'affine,flip' }), 'application/json'), 400, /augment: 'flip' is not a distortion/);
    await expectError(await post('/api/runs', JSON.stringify({ augment: { affine: { rotate: -3 } } }), 'application/json'), 400, /augment: affine rotate must be a non-negative number, got -3/);
    await expectError(await post('/api/runs', JSON.stringify({ augment: { twirl: true } }), 'application/json'), 400, /augment/);
    await expectError(await post('/api/runs', JSON.stringify({ augment: 'x'.repeat(100) }), 'application/json'), 400, /augment/);
  });

  it('trains a recipe preset with its own schedule, epochs, batch size and augmentation unless the body says otherwise', async () => {
    const started = await post('/api/runs', JSON.stringify({ preset: 'best', epochs: 1, trainImages: 300 }), 'application/json');
    assert.equal(started.status, 201);
    const { id, events, request } = (await started.json()) as { id: string; events: string; request: Record<string, unknown> };
    assert.deepEqual({ schedule: request.schedule, batchSize: request.batchSize, augment: request.augment, epochs: request.epochs }, { schedule: 'onecycle:0.005', batchSize: 128, augment: 'affine', epochs: 1 });
    assert.match(await (await fetch(url + events)).text(), /event: done/);
    const config = JSON.parse(readFileSync(join(runsDir, id, 'config.json'), 'utf8'));
    assert.equal(config.training.schedule.type, 'onecycle');
    assert.equal(config.training.schedule.maxLr, 0.005);
    assert.equal(config.training.batchSize, 128);
    assert.ok(config.training.augment.affine, JSON.stringify(config.training.augment));
    // the body's own choices win: no distortions, a constant rate, another batch size
    const own = await post('/api/runs', JSON.stringify({ preset: 'best', epochs: 1, trainImages: 300, augment: null, schedule: 'none', batchSize: 100 }), 'application/json');
    const ownRun = (await own.json()) as { events: string; request: Record<string, unknown> };
    assert.deepEqual({ schedule: ownRun.request.schedule, batchSize: ownRun.request.batchSize, augment: ownRun.request.augment }, { schedule: 'none', batchSize: 100, augment: null });
    assert.match(await (await fetch(url + ownRun.events)).text(), /event: done/);
    // a rate of one's own leaves Adam constant, as on the command line
    const lr = (await (await post('/api/runs', JSON.stringify({ preset: 'lenet5', epochs: 1, trainImages: 300, lr: 0.002 }), 'application/json')).json()) as { events: string; request: Record<string, unknown> };
    assert.equal(lr.request.schedule, undefined);
    await fetch(url + lr.events).then((r) => r.text());
    await expectError(await post('/api/runs', JSON.stringify({ preset: 'best', schedule: 'wobble:3' }), 'application/json'), 400, /schedule 'wobble:3' is not understood/);
  });

  it('stops a run on DELETE, keeping its last checkpoint', async () => {
    // no lr given: RMSprop's default, the same as the command line's and a study's (PyTorch's 0.01)
    const started = await post('/api/runs', JSON.stringify({ hidden: [32], epochs: 50, trainImages: 5000, optimizer: 'rmsprop' }), 'application/json');
    const { id, events, request } = (await started.json()) as { id: string; events: string; request: { lr: number } };
    assert.equal(request.lr, defaultLr('rmsprop'));
    assert.equal(request.lr, 0.01);
    const stream = await fetch(url + events);
    const reader = stream.body!.getReader();
    let text = '';
    while (!/event: epoch/.test(text)) {
      const chunk = await reader.read();
      if (chunk.done) assert.fail(`the event stream ended before the first epoch: ${text}`);
      text += new TextDecoder().decode(chunk.value);
    }
    const stopped = await fetch(`${url}/api/runs/${id}`, { method: 'DELETE' });
    assert.equal(stopped.status, 202);
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) text += new TextDecoder().decode(chunk.value);
    assert.match(text, /event: stopped\ndata: .*"checkpointEpoch":[1-9]/);
    assert.ok(existsSync(join(runsDir, id, 'checkpoint.safetensors')));
    assert.equal(((await (await fetch(`${url}/api/runs/${id}`)).json()) as { status: string }).status, 'stopped');
  });
});
