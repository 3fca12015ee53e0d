/**
 * The static site `npm run build` writes (dist/site, by `digitlab site`), served by a plain static
 * server that sends no headers of its own (Python's http.server): the page makes itself cross-origin
 * isolated through its service worker, reads a drawn digit with the bundled default model, and trains
 * in the tab on the site's data, with no digitlab server and no request to /api/.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../study/postgres-server.js';
import { launchChromium, strokeOn, waitUntil, type BrowserSession } from './chromium.js';

const SITE = join(import.meta.dirname, '..', '..', 'dist', 'site');
let server: ChildProcess;
let url: string;
let browser: BrowserSession;
const requests: string[] = [];

before(async () => {
  assert.ok(existsSync(join(SITE, 'index.html')), `${SITE} is missing: run \`npm run build\` first`);
  const port = await freePort();
  server = spawn('python3', ['-m', 'http.server', String(port), '--bind', '127.0.0.1', '--directory', SITE], { stdio: 'ignore' });
  url = `http://127.0.0.1:${port}`;
  await waitUntil(async () => fetch(`${url}/index.html`).then((r) => r.ok, () => false), 'the static server answers', 10_000);
  browser = await launchChromium({ width: 1100, height: 900 });
  browser.page.on('request', (request) => requests.push(new URL(request.url()).pathname));
});

after(async () => {
  await browser?.close();
  server?.kill();
});

const textOf = (selector: string) => browser.page.textContent(selector).then((text) => text ?? '');

describe('the static site on a plain static server', () => {
  it('serves files without the isolation headers: the page adds them through its service worker', async () => {
    const response = await fetch(`${url}/index.html`);
    assert.equal(response.headers.get('cross-origin-opener-policy'), null, 'the server itself sends no isolation headers');
    await browser.page.goto(`${url}/#draw`);
    await browser.page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
    assert.equal(await browser.page.evaluate(() => (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated), true);
  });

  it('reads a drawn digit with the bundled default model', async () => {
    const { page } = browser;
    assert.equal(await page.getAttribute('body', 'data-model'), 'default');
    assert.match(await textOf('#model-select'), /default \(784-128-10, 9\d\.\d%\)/);
    await strokeOn(page, '#pad', [[0.25, 0.22], [0.75, 0.22], [0.45, 0.85]]);
    await waitUntil(async () => (await textOf('#draw-digit')) !== '–', 'the pad is read');
    assert.equal(await textOf('#draw-digit'), '7');
  });

  it('trains in the tab on the site\'s data, with no server to ask', async () => {
    const { page } = browser;
    await page.click('nav a[data-page="train"]');
    assert.equal(await page.inputValue('#train-where'), 'browser');
    assert.equal(await page.isDisabled('#train-where option[value=server]'), true);
    assert.equal(await page.isHidden('nav a[data-page="studies"]'), true);
    await page.fill('input[name=epochs]', '1');
    await page.fill('#train-schedule', 'onecycle:0.01');
    await page.click('#train-start');
    await waitUntil(async () => ['done', 'failed', 'stopped'].includes((await page.getAttribute('body', 'data-train')) ?? ''), 'the run ends', 180_000);
    const text = await textOf('#train-progress');
    assert.equal(await page.getAttribute('body', 'data-train'), 'done', text);
    const accuracy = Number(/test accuracy (\d+\.\d)%/.exec(text)?.[1]);
    assert.ok(accuracy >= 96, text);
    assert.ok(requests.includes('/data/train-images-idx3-ubyte.gz'), 'the data came from the site');
    assert.deepEqual(requests.filter((path) => path.startsWith('/api/')), [], 'the page asked for a server');
    // the gallery of the default model is computed in the page, on the site's test set
    await page.selectOption('#model-select', 'default');
    await page.click('nav a[data-page="gallery"]');
    await page.locator('#gallery-summary', { hasText: /^default: test accuracy 9\d\.\d% on 10,000 images of mnist/ }).waitFor({ timeout: 60_000 });
    assert.deepEqual(browser.errors, []);
  });
});
