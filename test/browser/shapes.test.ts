/**
 * The web app with a model of 16×20 inputs, in real Chromium: the drawing is prepared in the model's
 * shape and shown at its proportions, and the gallery's digits are 20 wide and 16 high.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createKernels } from '../../src/core/index.js';
import { loadData } from '../../src/data/source.js';
import { Classifier } from '../../src/nn/classifier.js';
import { createServer, type DigitServer } from '../../src/serve/server.js';
import { modelConfigFor } from '../../src/train/model-config.js';
import { DEFAULT_SETTINGS, TrainingRun } from '../../src/train/trainer.js';
import { writeSmallIdx } from '../cli/helpers.js';
import { launchChromium, type BrowserSession } from './chromium.js';

const WEB_ROOT = join(import.meta.dirname, '..', '..', 'dist', 'web');
const dir = mkdtempSync(join(tmpdir(), 'digitlab-web-shapes-'));
let server: DigitServer;
let url: string;
let browser: BrowserSession;

before(async () => {
  assert.ok(existsSync(join(WEB_ROOT, 'index.html')), `${WEB_ROOT} is missing: run \`npm run build\` first`);
  const idx = join(dir, 'idx-16x20');
  writeSmallIdx(idx, 6000, 200, { height: 16, width: 20 });
  const data = loadData(`idx:${idx}`);
  const settings = { ...DEFAULT_SETTINGS, hidden: [64], epochs: 2, seed: 1 };
  const run = new TrainingRun({ kernels: await createKernels(), data, settings });
  const result = await run.run();
  await new Classifier(modelConfigFor(data, settings, result.best_epoch, { test_accuracy: result.test.accuracy }), run.model).save(join(dir, 'runs', 'wide'));
  server = await createServer({ runsDir: join(dir, 'runs'), studiesDir: join(dir, 'studies'), webRoot: WEB_ROOT, data: `idx:${idx}` });
  url = await server.listen(0);
  browser = await launchChromium({ width: 1100, height: 900 });
});

after(async () => {
  await browser?.close();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the web app with a 16×20 model', () => {
  it('reads a drawing through a 16×20 input and shows it at that shape', async () => {
    const { page } = browser;
    await page.goto(`${url}/#draw`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
    assert.match((await page.textContent('#model-select')) ?? '', /wide \(320-64-10/);
    assert.equal(await page.textContent('#draw-input-size'), '16×20');
    const box = await page.locator('#pad').boundingBox();
    assert.ok(box);
    await page.mouse.move(box.x + 0.5 * box.width, box.y + 0.15 * box.height);
    await page.mouse.down();
    await page.mouse.move(box.x + 0.5 * box.width, box.y + 0.85 * box.height, { steps: 8 });
    await page.mouse.up();
    await page.locator('#draw-digit', { hasNotText: '–' }).waitFor({ timeout: 10_000 });
    assert.equal(await page.textContent('#draw-digit'), '1');
    const input = page.locator('#draw-input');
    assert.deepEqual(await input.evaluate((canvas) => [(canvas as { width: number }).width, (canvas as { height: number }).height]), [20, 16]);
    const shown = await input.boundingBox();
    assert.ok(shown && Math.abs(shown.width / shown.height - 20 / 16) < 0.05, `shown as ${shown?.width} × ${shown?.height}`);
    assert.deepEqual(browser.errors, []);
  });

  it('shows the gallery\'s mistakes as 20 by 16 digits', async () => {
    const { page } = browser;
    await page.goto(`${url}/#gallery`);
    await page.waitForSelector('#gallery-wrong li canvas', { timeout: 30_000 });
    const canvas = page.locator('#gallery-wrong li canvas').first();
    assert.deepEqual(await canvas.evaluate((c) => [(c as { width: number }).width, (c as { height: number }).height]), [20, 16]);
    assert.deepEqual(browser.errors, []);
  });
});
