/**
 * The web app with a convolutional model, in real Chromium: the page builds LeNet-5 from its version-2
 * config.json and runs it on the WebAssembly kernels (Draw, Zip code, Gallery), the Train page
 * trains a preset on the server, and the study explorer sets a study's CNN and MLP designs side by side.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createKernels } from '../../src/core/index.js';
import { encodeGrayscalePng } from '../../src/data/images.js';
import { loadData } from '../../src/data/source.js';
import { presetLayers } from '../../src/io/layer-text.js';
import { Classifier } from '../../src/nn/classifier.js';
import { readDigits } from '../../src/read/read.js';
import { createServer, type DigitServer } from '../../src/serve/server.js';
import { StudyRunner } from '../../src/study/runner.js';
import { parseStudySpec } from '../../src/study/spec.js';
import { trainAndSave } from '../../src/train/model-config.js';
import { DEFAULT_SETTINGS, TrainingRun } from '../../src/train/trainer.js';
import { writeSmallIdx } from '../cli/helpers.js';
import { makeZipCodes } from '../fixtures/make_zipcodes.js';
import { launchChromium, strokeOn, waitUntil, type BrowserSession } from './chromium.js';

const WEB_ROOT = join(import.meta.dirname, '..', '..', 'dist', 'web');
const dir = mkdtempSync(join(tmpdir(), 'digitlab-web-cnn-'));
const runsDir = join(dir, 'runs');
let server: DigitServer;
let url: string;
let browser: BrowserSession;
let classifier: Classifier;

before(async () => {
  assert.ok(existsSync(join(WEB_ROOT, 'index.html')), `${WEB_ROOT} is missing: run \`npm run build\` first`);
  const kernels = await createKernels();
  const settings = { ...DEFAULT_SETTINGS, layers: presetLayers('lenet5'), optimizerOptions: { lr: 0.001 }, epochs: 2, batchSize: 128, seed: 1 };
  const run = new TrainingRun({ kernels, data: loadData('mnist'), settings });
  const modelDir = join(runsDir, 'lenet');
  const { result } = await trainAndSave(run, modelDir);
  assert.ok(result.test.accuracy > 0.97, `LeNet-5 read ${result.test.accuracy} of the test set after 2 epochs`);
  classifier = await Classifier.load(kernels, modelDir);
  // a tiny study of one CNN and one MLP design on 2,500 images
  const small = join(dir, 'idx');
  writeSmallIdx(small, 2500, 500);
  const text = `name: kinds\ndata: idx:${small}\nvalidation: 500\nbatch_size: 50\nepochs: 1\nseeds: [1]\nspace:\n` +
    `  - network: ["conv 4 5x5, relu, maxpool 2", "linear 16, relu"]\n    lr: 0.01\n`;
  await new StudyRunner({ spec: parseStudySpec(text, 'kinds.yaml'), specText: text, out: join(dir, 'studies', 'kinds'), workers: 1, backend: 'wasm' }).run();
  server = await createServer({ runsDir, studiesDir: join(dir, 'studies'), webRoot: WEB_ROOT });
  url = await server.listen(0);
  browser = await launchChromium({ width: 1100, height: 900 });
});

after(async () => {
  await browser?.close();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function openPage(hash: string): Promise<void> {
  await browser.page.goto(`${url}/#${hash}`);
  await browser.page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
}

const textOf = (selector: string) => browser.page.textContent(selector).then((text) => text ?? '');

describe('the web app with a LeNet-5 model', () => {
  it('lists the model by its layers and reads drawn digits with it', async () => {
    const { page } = browser;
    await openPage('draw');
    assert.equal(await page.getAttribute('body', 'data-model'), 'lenet');
    assert.match(await textOf('#model-select'), /lenet \(conv 6 5x5 pad 2, relu, maxpool 2, conv 16 5x5/);
    await strokeOn(page, '#pad', [[0.25, 0.22], [0.75, 0.22], [0.45, 0.85]]);
    await waitUntil(async () => (await textOf('#draw-digit')) !== '–', 'the pad is read');
    assert.equal(await textOf('#draw-digit'), '7');
    await page.click('#draw-undo');
    await strokeOn(page, '#pad', [[0.5, 0.15], [0.5, 0.85]]);
    assert.equal(await textOf('#draw-digit'), '1');
    await browser.screenshot('web-cnn-draw.png');
  });

  it('reads an uploaded zip code as the model does in Node', async () => {
    const { page } = browser;
    const code = makeZipCodes({ count: 20, seed: 5 }).find((c) => !c.touching && readDigits(classifier, c.gray, c.width, c.height).text === c.text);
    assert.ok(code, 'no zip code the model reads right');
    await openPage('zip');
    await page.setInputFiles('#zip-file', { name: 'zip.png', mimeType: 'image/png', buffer: encodeGrayscalePng(code.gray, code.width, code.height) });
    await waitUntil(async () => (await textOf('#zip-text')) !== '–', 'the zip code is read');
    assert.equal(await textOf('#zip-text'), code.text);
  });

  it('shows the gallery of the model\'s mistakes', async () => {
    const { page } = browser;
    await openPage('gallery');
    await page.locator('#gallery-summary', { hasText: /^lenet: test accuracy 9[789]\./ }).waitFor({ timeout: 30_000 });
    await page.waitForSelector('#gallery-wrong li', { timeout: 30_000 });
  });

  it('sets a study\'s CNN and MLP designs side by side', async () => {
    const { page } = browser;
    await openPage('studies');
    await page.click('#study-list button');
    await page.waitForSelector('#study-kinds tbody tr');
    assert.equal(await page.isHidden('#study-kinds-block'), false);
    const kinds = await page.locator('#study-kinds tbody tr td:first-child').allTextContents();
    assert.deepEqual([...kinds].sort(), ['CNN', 'MLP']);
    const rows = await page.locator('#study-kinds tbody tr').allTextContents();
    const cnn = rows.find((row) => row.startsWith('CNN')) ?? '';
    // the CNN's parameters (4·25 + 4, then 4·12·12·10 + 10) and its layers
    assert.match(cnn, /5,874/);
    assert.match(cnn, /conv 4 5x5, relu, maxpool 2/);
    await browser.screenshot('web-cnn-study.png');
  });

  it('trains a preset from the Train page and offers the new model', async () => {
    const { page } = browser;
    await openPage('train');
    await page.selectOption('#train-network', 'preset:lenet5');
    assert.equal(await page.isDisabled('input[name=hidden]'), true, 'the MLP fields are off for a preset');
    // a recipe preset fills in its own schedule, distortions, epochs and batch size
    await page.selectOption('#train-network', 'preset:best');
    assert.deepEqual(
      [await page.inputValue('#train-schedule'), await page.inputValue('#train-augment'), await page.inputValue('input[name=epochs]'), await page.inputValue('input[name=batchSize]')],
      ['onecycle:0.005', 'affine', '20', '128'],
    );
    await page.selectOption('#train-network', 'preset:lenet5');
    assert.equal(await page.inputValue('#train-schedule'), 'onecycle:0.01');
    await page.selectOption('#train-augment', '');
    await page.fill('input[name=epochs]', '1');
    await page.fill('input[name=trainImages]', '2000');
    await page.click('#train-start');
    await waitUntil(async () => /conv 6 5x5 pad 2/.test(await textOf('#train-progress')) || /done/.test(await textOf('#train-progress')), 'the run starts', 60_000);
    await waitUntil(async () => /is now selected/.test(await textOf('#train-progress')), 'the new model is selected', 120_000);
    assert.match(await page.inputValue('#model-select'), /^web-/);
    const runs = (await page.evaluate(async () => (await fetch('/api/runs')).json())) as { runs: Array<{ request: { schedule?: string; preset?: string } }> };
    assert.equal(runs.runs.find((run) => run.request.preset === 'lenet5')?.request.schedule, 'onecycle:0.01', 'the run trains with the schedule the page showed');
    // a bad layer list is refused by the server, naming the layer
    await page.selectOption('#train-network', 'layers');
    await page.fill('#train-layers', 'conv 6 5x5, relu, maxpol 2');
    await page.click('#train-start');
    await waitUntil(async () => /layer 3 \('maxpol 2'\)/.test(await textOf('#train-progress')), 'the page shows the server\'s reason');
    const refusals = browser.errors.filter((error) => /status of 400/.test(error));
    assert.equal(refusals.length, 1, browser.errors.join('\n'));
    browser.errors.splice(browser.errors.indexOf(refusals[0]), 1);
    assert.deepEqual(browser.errors, []);
  });
});
