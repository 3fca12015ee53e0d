import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { digitlab, writeSmallIdx } from '../cli/helpers.js';
import { launchChromium } from './chromium.js';

// The few DOM features the page functions below use (they run in the browser; this project's
// TypeScript has no DOM library).
interface PageElement {
  id: string;
  dataset: Record<string, string | undefined>;
  textContent: string | null;
  querySelectorAll(selector: string): ArrayLike<PageElement>;
}
declare const document: PageElement & { body: PageElement; getElementById(id: string): PageElement | null };

const dir = mkdtempSync(join(tmpdir(), 'digitlab-report-'));
after(() => rmSync(dir, { recursive: true, force: true }));
before(() => writeSmallIdx(join(dir, 'small'), 3000, 500));

describe('the study report in Chromium', () => {
  it('runs a small study end to end and opens its report offline with every chart drawn and no console errors', async () => {
    const spec = join(dir, 'small.yaml');
    writeFileSync(
      spec,
      `name: small
data: idx:${join(dir, 'small')}
validation: 500
epochs: 4
batch_size: 32
seeds: [1, 2]
space:
  - layers: [1, 2]
    nodes: [16, 32]
    lr: 0.003
  - hidden: [16]
    optimizer: [sgd, adagrad, rmsprop]
    lr: 0.01
`,
    );
    const out = join(dir, 'study');
    const run = digitlab(['study', 'run', spec, '--out', out], { timeout: 120_000 });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`report: ${out}/report.html`));

    const browser = await launchChromium();
    try {
      // No request may leave the machine: the report is read from disk with its scripts beside it.
      const remote: string[] = [];
      browser.page.on('request', (request) => {
        if (!request.url().startsWith('file:') && !request.url().startsWith('data:')) remote.push(request.url());
      });
      await browser.page.goto(pathToFileURL(join(out, 'report.html')).href);
      await browser.page.waitForFunction(() => document.body.dataset.chartsRendered !== undefined, null, { timeout: 30_000 });
      const page = await browser.page.evaluate(() => ({
        rows: document.querySelectorAll('#trials tbody tr').length,
        charts: Array.from(document.querySelectorAll('.chart')).map((chart) => ({
          id: chart.id,
          rendered: chart.dataset.rendered === 'true',
          marks: chart.querySelectorAll('svg path, svg rect, svg line, svg text').length,
        })),
        recommendation: document.getElementById('recommendation')?.textContent ?? '',
        lossLines: document.querySelectorAll('#loss-curves svg g.mark-line path').length,
      }));
      await browser.screenshot('study-report.png');
      assert.deepEqual(browser.errors, []);
      assert.deepEqual(remote, []);
      assert.equal(page.rows, 14, 'one table row per trial (7 designs × 2 seeds)');
      assert.deepEqual(page.charts.map((c) => c.id), ['loss-curves', 'accuracy-vs-parameters', 'heatmap-accuracy', 'heatmap-convergence', 'optimizers', 'pareto']);
      for (const chart of page.charts) {
        assert.ok(chart.rendered, `${chart.id} rendered`);
        assert.ok(chart.marks > 10, `${chart.id} has ${chart.marks} marks`);
      }
      // Every trial's validation and training curves are drawn.
      assert.equal(page.lossLines, 28);
      assert.match(page.recommendation, /Most accurate: /);
    } finally {
      await browser.close();
    }
  });
});
