/**
 * The server with a model of 16×20 inputs: predictions from pictures and from pixels, reading a row,
 * the model list and the gallery all follow the model's own shape.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createKernels } from '../../src/core/index.js';
import { encodeGrayscalePng } from '../../src/data/images.js';
import { loadData } from '../../src/data/source.js';
import { Classifier } from '../../src/nn/classifier.js';
import { createServer, type DigitServer } from '../../src/serve/server.js';
import { modelConfigFor } from '../../src/train/model-config.js';
import { DEFAULT_SETTINGS, TrainingRun } from '../../src/train/trainer.js';
import { writeSmallIdx } from '../cli/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'digitlab-serve-shapes-'));
const runsDir = join(dir, 'runs');
const idx = join(dir, 'idx-16x20');
const servers: DigitServer[] = [];
let url: string;

before(async () => {
  writeSmallIdx(idx, 6000, 200, { height: 16, width: 20 });
  const data = loadData(`idx:${idx}`);
  const settings = { ...DEFAULT_SETTINGS, hidden: [64], epochs: 2, seed: 1 };
  const run = new TrainingRun({ kernels: await createKernels(), data, settings });
  const result = await run.run();
  await new Classifier(modelConfigFor(data, settings, result.best_epoch, { test_accuracy: result.test.accuracy }), run.model).save(join(runsDir, 'wide'));
  const server = await createServer({ runsDir, studiesDir: join(dir, 'studies'), data: `idx:${idx}` });
  servers.push(server);
  url = await server.listen(0);
});
after(async () => {
  for (const server of servers) await server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** MNIST test digit `index` as a picture: enlarged 4 times, dark on light, with a margin. */
function picture(index: number): { gray: Uint8Array; width: number; height: number } {
  const test = loadData('mnist', { validation: 0 }).test;
  const width = 28 * 4 + 24;
  const height = 28 * 4 + 8;
  const gray = new Uint8Array(width * height).fill(240);
  for (let y = 0; y < 112; y++) for (let x = 0; x < 112; x++) gray[(y + 4) * width + x + 12] = 240 - Math.round((test.images[index * 784 + (y >> 2) * 28 + (x >> 2)] * 230) / 255);
  return { gray, width, height };
}

function post(path: string, body: string | Uint8Array, type: string): Promise<Response> {
  return fetch(url + path, { method: 'POST', headers: { 'content-type': type }, body });
}

describe('a server with a 16×20 model', () => {
  it('lists the model with its input shape', async () => {
    const { models } = (await (await fetch(`${url}/api/models`)).json()) as { models: Array<{ id: string; inputShape: number[]; classes: number; params: number }> };
    assert.deepEqual(models.map((m) => [m.id, m.inputShape, m.classes, m.params]), [['wide', [16, 20], 10, 320 * 64 + 64 + 64 * 10 + 10]]);
  });

  it('predicts from a picture and from 320 pixel values, and says how many it needs', async () => {
    const { gray, width, height } = picture(0);
    const fromPicture = await post('/api/predict', encodeGrayscalePng(gray, width, height), 'image/png');
    assert.equal(fromPicture.status, 200, await fromPicture.clone().text());
    assert.equal(((await fromPicture.json()) as { probabilities: number[] }).probabilities.length, 10);
    const test = loadData(`idx:${idx}`).test;
    const pixels = Array.from(test.images.subarray(0, 320), (v) => v / 255);
    const fromPixels = await post('/api/predict', JSON.stringify({ pixels }), 'application/json');
    assert.equal(fromPixels.status, 200, await fromPixels.clone().text());
    assert.equal(((await fromPixels.json()) as { digit: number }).digit, test.labels[0]);
    const wrongSize = await post('/api/predict', JSON.stringify({ pixels: new Array(784).fill(0) }), 'application/json');
    assert.equal(wrongSize.status, 400);
    assert.match(((await wrongSize.json()) as { message: string }).message, /model wide reads 16×20 images: send 320 pixel values .*not 784/);
  });

  it('reads a row of three digits', async () => {
    const digits = [1, 2, 3].map(picture);
    const width = digits.reduce((sum, d) => sum + d.width, 0);
    const height = digits[0].height;
    const row = new Uint8Array(width * height);
    let left = 0;
    for (const d of digits) {
      for (let y = 0; y < height; y++) row.set(d.gray.subarray(y * d.width, (y + 1) * d.width), y * width + left);
      left += d.width;
    }
    const response = await post('/api/read', encodeGrayscalePng(row, width, height), 'image/png');
    assert.equal(response.status, 200, await response.clone().text());
    const body = (await response.json()) as { text: string; digits: unknown[] };
    assert.equal(body.digits.length, 3);
    const labels = loadData('mnist', { validation: 0 }).test.labels;
    assert.equal(body.text, `${labels[1]}${labels[2]}${labels[3]}`);
  });

  it('shows the gallery in the model\'s shape', async () => {
    const response = await fetch(`${url}/api/models/wide/gallery`);
    assert.equal(response.status, 200, await response.clone().text());
    const gallery = (await response.json()) as { inputShape: number[]; count: number; wrong: Array<{ pixels: string }> };
    assert.deepEqual(gallery.inputShape, [16, 20]);
    assert.equal(gallery.count, 200);
    assert.ok(gallery.wrong.length > 0);
    for (const w of gallery.wrong) assert.equal(Buffer.from(w.pixels, 'base64').length, 320);
  });

  it('refuses a gallery on data of another shape with a clear message', async () => {
    // the server told to score every model on MNIST (by default each gallery uses its model's own data)
    const mnistServer = await createServer({ runsDir, studiesDir: join(dir, 'studies'), evaluationData: 'mnist' });
    servers.push(mnistServer);
    const other = await mnistServer.listen(0);
    const response = await fetch(`${other}/api/models/wide/gallery`);
    assert.equal(response.status, 422);
    assert.match(((await response.json()) as { message: string }).message, /model wide reads 16×20 images into 10 classes; mnist has 28×28 images in 10 classes/);
  });
});
