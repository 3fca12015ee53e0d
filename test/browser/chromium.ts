/**
 * Launches Debian's Chromium (/usr/bin/chromium, installed by .ci/run) through playwright-core for
 * browser tests: headless, with a fresh profile, no network chatter, and every console error and
 * uncaught page error collected so a test can assert there were none.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.DIGITLAB_CHROMIUM ?? '/usr/bin/chromium';

/** Where browser tests leave screenshots (git-ignored; CI keeps it as an artifact). */
export const TEST_OUTPUT = join(import.meta.dirname, '..', '..', 'test-output');

export interface BrowserSession {
  context: BrowserContext;
  page: Page;
  /** Console messages of type 'error' and uncaught exceptions, in order, as text. */
  errors: string[];
  /** Writes a full-page PNG to test-output/NAME and returns its path. */
  screenshot(name: string): Promise<string>;
  /** Closes the browser and deletes its profile. */
  close(): Promise<void>;
}

export async function launchChromium(options: { width?: number; height?: number } = {}): Promise<BrowserSession> {
  // A throwaway profile: no state leaks between tests, and nothing is written to the user's home.
  const profile = mkdtempSync(join(tmpdir(), 'digitlab-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    viewport: { width: options.width ?? 1280, height: options.height ?? 900 },
    args: [
      // Containers and CI runners usually lack the user namespaces the sandbox needs.
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      // Keep the browser from reaching out to Google's services during a test.
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => errors.push(`page error: ${error.message}`));
  return {
    context,
    page,
    errors,
    async screenshot(name: string) {
      mkdirSync(TEST_OUTPUT, { recursive: true });
      const path = join(TEST_OUTPUT, name);
      await page.screenshot({ path, fullPage: true });
      return path;
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Drags the mouse through `points` (fractions of the canvas) as one stroke. */
export async function strokeOn(page: Page, selector: string, points: Array<[number, number]>): Promise<void> {
  const box = await page.locator(selector).boundingBox();
  assert.ok(box);
  const at = ([x, y]: [number, number]) => [box.x + x * box.width, box.y + y * box.height] as const;
  await page.mouse.move(...at(points[0]));
  await page.mouse.down();
  for (const point of points.slice(1)) await page.mouse.move(...at(point), { steps: 8 });
  await page.mouse.up();
}

/**
 * Polls `condition` from Node until it holds. (The page's content security policy forbids eval, which
 * page.waitForFunction relies on for its predicate.)
 */
export async function waitUntil(condition: () => Promise<boolean>, what: string, timeout = 20_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
