/**
 * Training in the browser tab, in real Chromium: the Train page's "in this browser" runs TrainingRun in
 * a worker on the WebAssembly kernels (its threads Web Workers), on the server's data fetched once as
 * gzip IDX, never asking the server to train. The trained model is selected at once, reads a drawn
 * digit, and downloads as a model folder's files and ONNX that Node and ONNX Runtime read the same way;
 * a reload mid-training resumes from the checkpoint in IndexedDB; a user's own IDX files train too.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-web';
import { createKernels } from '../../src/core/index.js';
import { loadData } from '../../src/data/source.js';
import { validateModelConfig } from '../../src/io/model-config.js';
import { decodeSafetensors } from '../../src/io/safetensors.js';
import { Predictor } from '../../src/nn/predictor.js';
import { Sequential } from '../../src/nn/sequential.js';
import { createServer, type DigitServer } from '../../src/serve/server.js';
import { evaluate } from '../../src/train/evaluate.js';
import { writeSmallIdx } from '../cli/helpers.js';
import { launchChromium, strokeOn, waitUntil, type BrowserSession } from './chromium.js';

ort.env.wasm.numThreads = 1;

const WEB_ROOT = join(import.meta.dirname, '..', '..', 'dist', 'web');
const dir = mkdtempSync(join(tmpdir(), 'digitlab-web-tab-'));
let server: DigitServer;
let url: string;
let browser: BrowserSession;
const requests: string[] = [];

before(async () => {
  assert.ok(existsSync(join(WEB_ROOT, 'index.html')), `${WEB_ROOT} is missing: run \`npm run build\` first`);
  // no model at all on the server: whatever the page reads with, it trained itself
  server = await createServer({ runsDir: join(dir, 'runs'), studiesDir: join(dir, 'studies'), webRoot: WEB_ROOT });
  url = await server.listen(0);
  browser = await launchChromium({ width: 1100, height: 900 });
  browser.page.on('request', (request) => requests.push(`${request.method()} ${new URL(request.url()).pathname}`));
});

after(async () => {
  await browser?.close();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

const textOf = (selector: string) => browser.page.textContent(selector).then((text) => text ?? '');
const trainState = () => browser.page.getAttribute('body', 'data-train');

let loads = 0;
/** Loads the page afresh (a new document each time: a change of hash alone would keep the old one). */
async function openPage(hash: string): Promise<void> {
  await browser.page.goto(`${url}/?load=${++loads}#${hash}`);
  await browser.page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
}

/** Fills the Train form for a run in this tab and starts it. */
async function startInTab(fields: { network?: string; hidden?: string; epochs: number; schedule?: string; trainImages?: number; batchSize?: number }): Promise<void> {
  const { page } = browser;
  await page.selectOption('#train-where', 'browser');
  if (fields.network) await page.selectOption('#train-network', fields.network);
  if (fields.hidden !== undefined) await page.fill('input[name=hidden]', fields.hidden);
  await page.fill('input[name=epochs]', String(fields.epochs));
  if (fields.schedule !== undefined) await page.fill('#train-schedule', fields.schedule);
  if (fields.batchSize !== undefined) await page.fill('input[name=batchSize]', String(fields.batchSize));
  await page.fill('input[name=trainImages]', String(fields.trainImages ?? 50000));
  await page.click('#train-start');
}

async function waitForEnd(timeout: number): Promise<string> {
  await waitUntil(async () => ['done', 'stopped', 'failed'].includes((await trainState()) ?? ''), 'the run in the tab ends', timeout);
  return textOf('#train-progress');
}

function accuracyIn(text: string): number {
  const match = /test accuracy (\d+\.\d)%/.exec(text);
  assert.ok(match, `no test accuracy in "${text}"`);
  return Number(match[1]) / 100;
}

/** Saves what a download link of the page offers and returns its bytes. */
async function download(selector: string): Promise<Buffer> {
  const [file] = await Promise.all([browser.page.waitForEvent('download'), browser.page.click(selector)]);
  const path = join(dir, `download-${Date.now()}`);
  await file.saveAs(path);
  return readFileSync(path);
}

describe('training in the browser tab', () => {
  it('trains 784-128-10 for one epoch to ≥ 96% with no request to /api/runs, and the model is ready at once', async () => {
    const { page } = browser;
    await openPage('train');
    const seen = new Set<string>();
    let threads = '';
    const at = requests.length;
    await startInTab({ hidden: '128', epochs: 1, schedule: 'onecycle:0.01' });
    await waitUntil(async () => {
      const text = await textOf('#train-progress');
      seen.add(text);
      threads = /, (\d+) threads?/.exec(text)?.[1] ?? threads;
      return (await trainState()) !== 'running';
    }, 'the run ends', 180_000);
    const text = await textOf('#train-progress');
    assert.equal(await trainState(), 'done', text);
    const accuracy = accuracyIn(text);
    assert.ok(accuracy >= 0.96, `784-128-10 read ${accuracy} of the test set after one epoch in the tab`);
    assert.equal(Number(threads), cpus().length, `the tab trained on ${threads} threads, the machine has ${cpus().length}`);
    const made = requests.slice(at);
    assert.deepEqual(made.filter((r) => r.includes('/api/runs')), [], 'the server was asked to train');
    assert.ok(made.includes('GET /api/data/train-images-idx3-ubyte.gz'), `the data came as gzip IDX: ${made.join(', ')}`);
    assert.ok([...seen].some((line) => /epoch 1, batch \d+\/782/.test(line)), 'the progress line followed the batches');
    assert.equal(await page.locator('#train-epochs tbody tr').count(), 1);
    // the new model is selected, for every page
    const id = await page.inputValue('#model-select');
    assert.match(id, /^tab:run-/);
    assert.equal(await page.getAttribute('body', 'data-model'), id);
    await browser.screenshot('web-train-in-tab.png');

    // its files: a model folder Node loads with the same accuracy, and ONNX that ONNX Runtime reads alike
    const config = validateModelConfig(JSON.parse((await download('#download-config')).toString('utf8')), 'config.json');
    const weights = decodeSafetensors(await download('#download-weights'), 'model.safetensors');
    assert.equal(config.training?.trainedIn, 'browser');
    const kernels = await createKernels();
    try {
      const model = new Sequential(kernels, config.model);
      model.loadTensors([...weights.tensors].map(([name, t]) => ({ name, shape: t.shape, data: t.data })));
      const test = loadData('mnist').test;
      const node = evaluate(model, test);
      assert.ok(Math.abs(node.accuracy - accuracy) <= 0.0005 + 1e-9, `Node reads the downloaded model at ${node.accuracy}, the tab reported ${accuracy}`);
      const session = await ort.InferenceSession.create(await download('#download-onnx'));
      const rows = 32;
      const pixels = Float32Array.from(test.images.subarray(0, rows * 784), (v) => v / 255);
      const out = await session.run({ pixels: new ort.Tensor('float32', pixels, [rows, 1, 28, 28]) });
      const probabilities = out.probabilities.data as Float32Array;
      new Predictor(model).predictBatch(pixels, rows).forEach((p, r) => p.probabilities.forEach((q, c) => assert.ok(Math.abs(probabilities[r * 10 + c] - q) <= 1e-5, `row ${r}, class ${c}`)));
      await session.release();
    } finally {
      await kernels.close();
    }

    // it reads a drawn digit on the Draw page
    await page.click('nav a[data-page="draw"]');
    await strokeOn(page, '#pad', [[0.25, 0.22], [0.75, 0.22], [0.45, 0.85]]);
    await waitUntil(async () => (await textOf('#draw-digit')) !== '–', 'the pad is read');
    assert.equal(await textOf('#draw-digit'), '7');
    await page.click('#draw-clear');
    await strokeOn(page, '#pad', [[0.5, 0.15], [0.5, 0.85]]);
    assert.equal(await textOf('#draw-digit'), '1');
    // its gallery was computed where it trained
    await page.click('nav a[data-page="gallery"]');
    await page.locator('#gallery-summary', { hasText: /^tab:run-[^:]+: test accuracy 9\d\.\d%/ }).waitFor({ timeout: 30_000 });
    await page.waitForSelector('#gallery-wrong li');
    // and it stays in this browser: a reload lists it again
    await openPage('draw');
    assert.ok((await page.locator('#model-select option').allTextContents()).some((t) => t.startsWith(id) && t.includes('trained in this browser')));
    assert.deepEqual(browser.errors, []);
  });

  it('resumes from the last epoch after a reload mid-training', async () => {
    const { page } = browser;
    await openPage('train');
    await startInTab({ hidden: '800', epochs: 3, trainImages: 30000 });
    await waitUntil(async () => (await page.locator('#train-epochs tbody tr').count()) >= 1, 'the first epoch ends', 180_000);
    const first = await page.locator('#train-epochs tbody tr').first().textContent();
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
    await page.waitForSelector('#train-resume:not([hidden])', { timeout: 10_000 });
    const offer = await textOf('#train-resume-text');
    const kept = Number(/stopped after epoch (\d) of 3/.exec(offer)?.[1]);
    assert.ok(kept >= 1 && kept < 3, offer);
    const beforeResume = requests.length;
    await page.click('#train-resume-yes');
    let resumedLine = '';
    await waitUntil(async () => {
      const text = await textOf('#train-progress');
      if (/resumed after epoch/.test(text)) resumedLine = text;
      return (await trainState()) !== 'running';
    }, 'the resumed run ends', 300_000);
    assert.equal(await trainState(), 'done', await textOf('#train-progress'));
    const rows = await page.locator('#train-epochs tbody tr').allTextContents();
    assert.equal(rows.length, 3, rows.join(' | '));
    assert.equal(rows[0], first, 'the epochs before the reload are the ones the checkpoint kept');
    assert.ok(resumedLine === '' || new RegExp(`resumed after epoch ${kept}`).test(resumedLine), resumedLine);
    assert.equal(await page.isHidden('#train-resume'), true);
    assert.ok(accuracyIn(await textOf('#train-progress')) > 0.95);
    // the data came from this browser's cache: the server was asked for its manifest only
    assert.deepEqual(requests.slice(beforeResume).filter((r) => r.startsWith('GET /api/data/')), ['GET /api/data/']);
  });

  it('stops on Stop, keeping what it trained for a resume', async () => {
    const { page } = browser;
    await openPage('train');
    await startInTab({ hidden: '800', epochs: 4, trainImages: 30000 });
    await waitUntil(async () => (await page.locator('#train-epochs tbody tr').count()) >= 1, 'the first epoch ends', 180_000);
    await page.click('#train-stop');
    const text = await waitForEnd(30_000);
    assert.equal(await trainState(), 'stopped', text);
    assert.match(text, /stopped; its checkpoint after epoch [1-3] is kept in this browser, to resume/);
    await page.waitForSelector('#train-resume:not([hidden])', { timeout: 10_000 });
    await openPage('train');
    await page.waitForSelector('#train-resume:not([hidden])', { timeout: 10_000 });
    await page.click('#train-resume-no');
    await openPage('train');
    assert.equal(await page.isHidden('#train-resume'), true, 'a discarded run is not offered again');
  });

  it('trains on IDX files the user drops on the page', async () => {
    const { page } = browser;
    const small = join(dir, 'idx');
    writeSmallIdx(small, 6000, 1000, { gzip: true });
    await openPage('train');
    const files = readdirSync(small).map((name) => ({ name, bytes: [...readFileSync(join(small, name))] }));
    // a drop as the browser delivers one: a DataTransfer of File objects (built in the page)
    const transfer = await page.evaluateHandle((list) => {
      const scope = globalThis as unknown as {
        DataTransfer: new () => { items: { add(file: unknown): void } };
        File: new (parts: Uint8Array[], name: string) => unknown;
      };
      const data = new scope.DataTransfer();
      for (const file of list) data.items.add(new scope.File([new Uint8Array(file.bytes)], file.name));
      return data;
    }, files);
    await page.dispatchEvent('#train-form', 'drop', { dataTransfer: transfer });
    assert.equal(await page.inputValue('#train-where'), 'browser');
    assert.equal(await page.inputValue('#train-data'), 'files');
    assert.match(await textOf('#train-progress'), /^data: .*train-images-idx3-ubyte\.gz/);
    await startInTab({ hidden: '64', epochs: 2, schedule: 'onecycle:0.01' });
    const text = await waitForEnd(120_000);
    assert.equal(await trainState(), 'done', text);
    assert.ok(accuracyIn(text) > 0.85, text);
    // a sixth of the 6,000 images held out for validation, as digitlab train does
    assert.equal((await page.locator('#train-epochs tbody tr').count()), 2);
    // a set missing a file is refused, naming what is missing
    await page.setInputFiles('#train-files', readdirSync(small).filter((n) => !n.startsWith('t10k-labels')).map((name) => join(small, name)));
    await page.click('#train-start');
    const refused = await waitForEnd(30_000);
    assert.match(refused, /the chosen files lack the test labels: choose all four files of the set/);
  });

  it('trains with any optimizer, schedule and distortion the form offers', async () => {
    const { page } = browser;
    await openPage('train');
    await page.selectOption('select[name=optimizer]', 'sgd');
    await page.fill('input[name=lr]', '0.05');
    await page.selectOption('#train-augment', 'affine,elastic');
    await page.selectOption('#train-network', 'layers');
    await page.fill('#train-layers', 'conv 4 5x5, relu, maxpool 2, linear 32, relu');
    await startInTab({ epochs: 2, schedule: 'cosine', trainImages: 3000, batchSize: 50 });
    const text = await waitForEnd(120_000);
    assert.equal(await trainState(), 'done', text);
    assert.ok(accuracyIn(text) > 0.6, text);
    const id = await page.inputValue('#model-select');
    const config = validateModelConfig(JSON.parse((await download('#download-config')).toString('utf8')), 'config.json');
    assert.match(id, /^tab:/);
    assert.equal(config.training?.optimizer, 'sgd');
    assert.equal((config.training?.schedule as { type?: string } | null)?.type, 'cosine');
    assert.match(await textOf('#model-select'), /conv 4 5x5, relu, maxpool 2, linear 32, relu/);
    assert.ok(config.training?.augment && typeof config.training.augment === 'object' && 'affine' in config.training.augment && 'elastic' in config.training.augment);
  });

  it('trains LeNet-5 for one epoch to ≥ 97%', async () => {
    await openPage('train');
    await startInTab({ network: 'preset:lenet5', epochs: 1 });
    const text = await waitForEnd(900_000);
    assert.equal(await trainState(), 'done', text);
    assert.ok(accuracyIn(text) >= 0.97, text);
  });
});
