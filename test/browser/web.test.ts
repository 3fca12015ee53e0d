/**
 * The web app in real Chromium against the real server and a freshly trained model: drawing a digit,
 * reading an uploaded zip code, training from the dashboard with live curves, the study explorer and
 * the gallery. A screenshot of every page goes to test-output/.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createKernels } from '../../src/core/index.js';
import { encodeGrayscalePng } from '../../src/data/images.js';
import { FASHION_MNIST_CLASSES } from '../../src/data/known-sets.js';
import { loadData } from '../../src/data/source.js';
import { modelConfigFromV1, type ModelConfig } from '../../src/io/model-config.js';
import { Classifier } from '../../src/nn/classifier.js';
import { readDigits } from '../../src/read/read.js';
import { createServer, type DigitServer } from '../../src/serve/server.js';
import { StudyRunner } from '../../src/study/runner.js';
import { parseStudySpec } from '../../src/study/spec.js';
import { DEFAULT_SETTINGS, TrainingRun } from '../../src/train/trainer.js';
import { writeSmallIdx } from '../cli/helpers.js';
import { makeZipCodes } from '../fixtures/make_zipcodes.js';
import { launchChromium, strokeOn, waitUntil, type BrowserSession } from './chromium.js';

const WEB_ROOT = join(import.meta.dirname, '..', '..', 'dist', 'web');
const dir = mkdtempSync(join(tmpdir(), 'digitlab-web-'));
const runsDir = join(dir, 'runs');
const studiesDir = join(dir, 'studies');
let server: DigitServer;
let url: string;
let browser: BrowserSession;
let classifier: Classifier;
/** The servers the page may talk to. */
const origins: string[] = [];

before(async () => {
  assert.ok(existsSync(join(WEB_ROOT, 'index.html')), `${WEB_ROOT} is missing: run \`npm run build\` first`);
  const data = loadData('mnist');
  const settings = { ...DEFAULT_SETTINGS, hidden: [128], optimizer: 'adam' as const, optimizerOptions: { lr: 0.001 }, epochs: 2, seed: 1 };
  const run = new TrainingRun({ kernels: await createKernels(), data, settings });
  const result = await run.run();
  const config: ModelConfig = modelConfigFromV1({
    format: 'digitlab-mlp', version: 1, inputShape: [28, 28], classes: 10, hidden: [128], activation: 'relu',
    normalization: { pixelMax: data.train.pixelMax }, metrics: { test_accuracy: result.test.accuracy },
  });
  // the same network under Fashion-MNIST's class names, saved first so that 'small' is the newest
  const named = join(runsDir, 'named');
  await new Classifier({ ...config, labels: [...FASHION_MNIST_CLASSES] }, run.model).save(named);
  const past = new Date(Date.now() - 60_000);
  utimesSync(join(named, 'model.safetensors'), past, past);
  classifier = new Classifier(config, run.model);
  await classifier.save(join(runsDir, 'small'));

  // a tiny study: two trials on 2,500 images
  const small = join(dir, 'idx');
  writeSmallIdx(small, 2500, 500);
  const text = `name: tiny\ndata: idx:${small}\nvalidation: 500\nbatch_size: 50\nepochs: 2\nseeds: [1]\nspace:\n  - layers: [1]\n    nodes: [8, 16]\n    lr: 0.01\n`;
  await new StudyRunner({ spec: parseStudySpec(text, 'tiny.yaml'), specText: text, out: join(studiesDir, 'tiny'), workers: 1, backend: 'wasm' }).run();

  server = await createServer({ runsDir, studiesDir, webRoot: WEB_ROOT });
  url = await server.listen(0);
  origins.push(url);
  browser = await launchChromium({ width: 1100, height: 900 });
  const requests: string[] = [];
  browser.page.on('request', (request) => {
    if (!origins.some((origin) => request.url().startsWith(origin)) && !request.url().startsWith('data:') && !request.url().startsWith('blob:')) requests.push(request.url());
  });
  after(() => assert.deepEqual(requests, [], 'the page made requests outside its server'));
});

after(async () => {
  await browser?.close();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function openPage(hash: string): Promise<void> {
  const { page } = browser;
  await page.goto(`${url}/#${hash}`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
}

const stroke = (selector: string, points: Array<[number, number]>) => strokeOn(browser.page, selector, points);

const textOf = (selector: string) => browser.page.textContent(selector).then((text) => text ?? '');

describe('the web app in Chromium', () => {
  it('is cross-origin isolated and loads the model onto the WebAssembly kernels', async () => {
    await openPage('draw');
    assert.equal(await browser.page.evaluate('crossOriginIsolated'), true);
    assert.equal(await browser.page.getAttribute('body', 'data-model'), 'small');
  });

  it('reads a digit drawn with the mouse, and undo clears it', async () => {
    const { page } = browser;
    // a 7: the bar, then the slanted stem
    await stroke('#pad', [[0.25, 0.22], [0.75, 0.22], [0.45, 0.85]]);
    await waitUntil(async () => (await textOf('#draw-digit')) !== '–', 'the pad is read');
    assert.equal(await page.textContent('#draw-digit'), '7');
    await browser.screenshot('web-draw.png');
    await page.click('#draw-undo');
    assert.equal(await page.textContent('#draw-digit'), '–');
    // a 1: one vertical stroke
    await stroke('#pad', [[0.5, 0.15], [0.5, 0.85]]);
    assert.equal(await page.textContent('#draw-digit'), '1');
    const bar = await page.getAttribute('#bar-1', 'style');
    assert.match(bar ?? '', /width: (9\d|100)/);
    // The bars are drawn, not only styled: the winner's bar fills most of its track, a digit the
    // model rules out has a bar of (almost) no width, and every bar has a visible height.
    const boxes = await Promise.all(Array.from({ length: 10 }, (_, d) => page.locator(`#bar-${d}`).boundingBox()));
    const track = await page.locator('#bar-1').locator('..').boundingBox();
    assert.ok(track && track.width > 50, `the bar's track is ${track?.width ?? 0}px wide`);
    const winner = boxes[1];
    assert.ok(winner && winner.height >= 8, `the winning bar is ${winner?.width ?? 0} × ${winner?.height ?? 0} px`);
    assert.ok(winner.width > 0.85 * track.width, `the winning bar is ${winner.width}px of a ${track.width}px track`);
    const probabilities = await Promise.all(Array.from({ length: 10 }, (_, d) => textOf(`#bar-text-${d}`)));
    const unlikely = probabilities.findIndex((text) => parseFloat(text) < 1);
    assert.ok(unlikely >= 0, `no digit below 1%: ${probabilities.join(', ')}`);
    const low = boxes[unlikely];
    assert.ok(low && low.width < 0.05 * track.width, `digit ${unlikely} (${probabilities[unlikely]}) has a ${low?.width}px bar`);
    for (const box of boxes) assert.ok(box && box.height === winner.height, 'every bar has the same height');
  });

  it('reads an uploaded zip code made of MNIST test digits', async () => {
    const { page } = browser;
    // the first code (no touching pair) that the same model reads right in Node: the page must agree
    const codes = makeZipCodes({ count: 20, seed: 5 });
    const code = codes.find((c) => !c.touching && readDigits(classifier, c.gray, c.width, c.height).text === c.text);
    assert.ok(code, 'no zip code the model reads right');
    await openPage('zip');
    await page.setInputFiles('#zip-file', { name: 'zip.png', mimeType: 'image/png', buffer: encodeGrayscalePng(code.gray, code.width, code.height) });
    await waitUntil(async () => (await textOf('#zip-text')) !== '–', 'the zip code is read');
    assert.equal(await page.textContent('#zip-text'), code.text);
    assert.equal(await page.locator('#zip-digits li').count(), 5);
    await browser.screenshot('web-zip.png');
  });

  it('trains from the dashboard, with the curves updating live, and offers the new model', async () => {
    const { page } = browser;
    await openPage('train');
    await page.fill('input[name=hidden]', '32');
    await page.fill('input[name=epochs]', '2');
    await page.fill('input[name=trainImages]', '3000');
    await page.click('#train-start');
    // the first epoch's point arrives over SSE before the run ends
    await page.waitForSelector('#train-accuracy circle', { timeout: 60_000 });
    await waitUntil(async () => /done: test accuracy/.test(await textOf('#train-progress')), 'the run is done', 60_000);
    assert.equal(await page.locator('#train-epochs tbody tr').count(), 2);
    assert.equal(await page.locator('#train-accuracy circle').count(), 2);
    // the new model is loaded after the run's end is shown: wait for the page to say it is selected
    await waitUntil(async () => /is now selected/.test(await textOf('#train-progress')), 'the new model is selected');
    assert.match(await page.inputValue('#model-select'), /^web-/);
    await browser.screenshot('web-train.png');
  });

  it('on a server that needs an access token, takes it from the printed address and starts and stops trainings with it', async () => {
    const { page } = browser;
    const token = 'a-page-token-0123456789';
    const guarded = await createServer({ runsDir, studiesDir, webRoot: WEB_ROOT, token });
    const guardedUrl = await guarded.listen(0);
    origins.push(guardedUrl);
    const trainFor = async (epochs: number, images: number) => {
      await page.fill('input[name=hidden]', '16');
      await page.fill('input[name=epochs]', String(epochs));
      await page.fill('input[name=trainImages]', String(images));
      await page.click('#train-start');
    };
    try {
      // opened without the token, the page passes on the server's advice
      await page.goto(`${guardedUrl}/#train`);
      await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
      await trainFor(1, 1000);
      await waitUntil(async () => /needs the server's access token.*\?token=/.test(await textOf('#train-progress')), 'the page says a token is needed');
      // the browser logs the refusal; it is the one this test asked for
      const refusals = browser.errors.filter((error) => /status of 401/.test(error));
      assert.equal(refusals.length, 1, browser.errors.join('\n'));
      browser.errors.splice(browser.errors.indexOf(refusals[0]), 1);
      // opened from the address `digitlab serve` prints
      await page.goto(`${guardedUrl}/?token=${token}#train`);
      await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
      assert.equal(new URL(page.url()).search, '', 'the token is taken out of the address');
      assert.equal(new URL(page.url()).hash, '#train');
      assert.equal(await page.evaluate("localStorage.getItem('digitlab-access-token')"), token);
      await trainFor(50, 5000);
      await page.waitForSelector('#train-epochs tbody tr', { timeout: 60_000 });
      await page.click('#train-stop');
      await waitUntil(async () => /stopped/.test(await textOf('#train-progress')), 'the run is stopped', 60_000);
    } finally {
      await guarded.close();
    }
  });

  it('opens the study explorer: sortable table, curves and Pareto chart', async () => {
    const { page } = browser;
    await openPage('studies');
    await page.click('#study-list button');
    await page.waitForSelector('#study-table tbody tr');
    assert.equal(await page.locator('#study-table tbody tr').count(), 2);
    assert.equal(await page.locator('#study-curves path').count(), 2);
    assert.ok((await page.locator('#study-pareto circle').count()) >= 1);
    // sort by parameters, descending (second click): the 16-node trial first
    const header = page.locator('#study-table th', { hasText: 'params' });
    await header.click();
    await header.click();
    const firstNodes = await page.locator('#study-table tbody tr:first-child td').nth(2).textContent();
    assert.equal(firstNodes, '16');
    await browser.screenshot('web-studies.png');
  });

  it('shows the gallery of mistakes with a clickable confusion matrix', async () => {
    const { page } = browser;
    await openPage('gallery');
    await page.selectOption('#model-select', 'small');
    // the gallery of the chosen model, not of the one shown before
    await page.locator('#gallery-summary', { hasText: /^small: test accuracy/ }).waitFor({ timeout: 30_000 });
    await page.waitForSelector('#gallery-wrong li', { timeout: 30_000 });
    const cells = page.locator('#confusion td:not(.diagonal)');
    // choose the largest off-diagonal count, which must show at least one mistake
    const counts = (await cells.allTextContents()).map(Number);
    await cells.nth(counts.indexOf(Math.max(...counts))).click();
    assert.match((await page.textContent('#gallery-filter')) ?? '', /^true \d, predicted \d/);
    await browser.screenshot('web-gallery.png');
  });

  it('names the classes of a model that has names: the bars, the reading and the gallery', async () => {
    const { page } = browser;
    const names = [...FASHION_MNIST_CLASSES];
    await openPage('draw');
    await page.selectOption('#model-select', 'named');
    await waitUntil(async () => (await page.getAttribute('body', 'data-model')) === 'named', 'the named model is loaded');
    assert.deepEqual(await page.locator('#draw-bars .bar-name').allTextContents(), names);
    await stroke('#pad', [[0.5, 0.15], [0.5, 0.85]]);
    await waitUntil(async () => (await textOf('#draw-digit')) !== '–', 'the pad is read');
    // the network read a 1 as class 1, which this model calls Trouser
    assert.equal(await page.textContent('#draw-digit'), 'Trouser');
    await page.click('nav a[data-page=gallery]');
    await page.locator('#gallery-summary', { hasText: /^named: test accuracy/ }).waitFor({ timeout: 30_000 });
    await page.waitForSelector('#gallery-wrong li', { timeout: 30_000 });
    assert.deepEqual((await page.locator('#confusion thead th').allTextContents()).slice(1), names);
    assert.deepEqual(await page.locator('#confusion tbody th').allTextContents(), names);
    const first = (await page.locator('#gallery-wrong li').first().textContent()) ?? '';
    assert.ok(names.some((name) => first.startsWith(`true ${name}, read `)), first);
    await browser.screenshot('web-names.png');
    // a fresh page for the next test, which tabs from the top (the focus is on the Gallery link here)
    await page.reload();
  });

  it('fits a phone-sized screen, and the pages are reachable from the keyboard', async () => {
    const { page } = browser;
    await page.setViewportSize({ width: 375, height: 740 });
    await openPage('draw');
    // page code runs in the browser: passed as text, since this project compiles without DOM types
    const overflow = (await page.evaluate('document.documentElement.scrollWidth - window.innerWidth')) as number;
    assert.ok(overflow <= 0, `the page is ${overflow}px wider than the screen`);
    // Tab through the page until the Zip code link has the focus, then follow it with Enter
    let tabs = 0;
    while ((await page.evaluate('document.activeElement && document.activeElement.textContent')) !== 'Zip code') {
      assert.ok(++tabs <= 6, 'the Zip code link is not reachable with Tab');
      await page.keyboard.press('Tab');
    }
    await page.keyboard.press('Enter');
    await waitUntil(async () => new URL(page.url()).hash === '#zip', 'the address moves to the zip page');
    // the page switches on the hashchange event, which the browser dispatches after the address changes
    await page.waitForSelector('#zip-pad', { state: 'visible', timeout: 5_000 });
    await browser.screenshot('web-phone.png');
    assert.deepEqual(browser.errors, []);
  });
});
