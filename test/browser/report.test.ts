import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { writeReport } from '../../src/study/report.js';
import { openStudy } from '../../src/study/results.js';
import { digitlab, writeSmallIdx } from '../cli/helpers.js';
import { writeSyntheticStudy } from '../study/synthetic.js';
import { launchChromium, type BrowserSession } from './chromium.js';

// The page state the wait below reads (it runs in the browser; this project's TypeScript has no DOM
// library).
declare const document: { body: { dataset: Record<string, string | undefined> } };

interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

interface ChartView {
  id: string;
  rendered: boolean;
  /** Data marks drawn (lines, areas, rects, points, rules, texts), by mark type. */
  marks: Record<string, number>;
  axes: Array<{ name: string; labels: Array<{ text: string; box: Box }> }>;
  legends: Array<{ name: string; labels: string[] }>;
  /** The accessible description Vega gives every data mark (its fields and values). */
  descriptions: string[];
  lineStrokes: string[];
  texts: string[];
}

/**
 * Reads the rendered report in the page. Written as page source text: the TypeScript transform
 * wraps named functions in a helper the page does not have.
 */
const INSPECT = `(() => {
  const all = (root, selector) => Array.from(root.querySelectorAll(selector));
  const box = (element) => {
    const { x, y, width, height } = element.getBoundingClientRect();
    return { x, y, width, height };
  };
  // Vega hides a label that would overlap its neighbour by setting its opacity to 0.
  const visible = (element) => element.getAttribute('opacity') !== '0' && (element.textContent || '') !== '';
  const charts = all(document, '.chart').map((chart) => {
    const marks = {};
    for (const group of all(chart, 'g.role-mark')) {
      const type = (/mark-(\\w+)/.exec(group.getAttribute('class') || '') || [])[1] || '?';
      marks[type] = (marks[type] || 0) + all(group, ':scope > *').length;
    }
    return {
      id: chart.id,
      rendered: chart.dataset.rendered === 'true',
      marks,
      axes: all(chart, 'g.role-axis[aria-label]').map((axis) => ({
        name: axis.getAttribute('aria-label') || '',
        labels: all(axis, 'g.role-axis-label text').filter(visible).map((label) => ({ text: label.textContent || '', box: box(label) })),
      })),
      legends: all(chart, 'g.role-legend').map((legend) => ({
        name: legend.getAttribute('aria-label') || '',
        labels: all(legend, 'g.role-legend-label text').map((label) => label.textContent || ''),
      })),
      descriptions: all(chart, 'g.role-mark > [aria-label]').map((mark) => mark.getAttribute('aria-label') || ''),
      lineStrokes: all(chart, 'g.mark-line.role-mark > path').map((path) => path.getAttribute('stroke') || ''),
      texts: all(chart, 'g.mark-text.role-mark > text').map((text) => text.textContent || ''),
    };
  });
  return {
    rows: document.querySelectorAll('#trials tbody tr').length,
    charts,
    // Everything the page shows (the script that holds the charts' data is not shown).
    text: all(document, 'body > :not(script)').map((element) => element.textContent || '').join(' '),
    recommendation: (document.getElementById('recommendation') || {}).textContent || '',
  };
})()`;

/** What a report shows once its charts are drawn, read from the rendered SVG. */
async function inspectReport(browser: BrowserSession, file: string) {
  await browser.page.goto(pathToFileURL(file).href);
  await browser.page.waitForFunction(() => document.body.dataset.chartsRendered !== undefined, null, { timeout: 30_000 });
  return (await browser.page.evaluate(INSPECT)) as { rows: number; charts: ChartView[]; text: string; recommendation: string };
}

type Report = Awaited<ReturnType<typeof inspectReport>>;

/** Two labels overlap or run together ("40,00050,000"): less than two pixels apart. */
const GAP = 2;
const tooClose = (a: Box, b: Box) => a.x < b.x + b.width + GAP && b.x < a.x + a.width + GAP && a.y < b.y + b.height + GAP && b.y < a.y + a.height + GAP;

/** What every report must be: each chart drawn with marks, no NaN anywhere, no axis label over another. */
function assertReadable(report: Report): void {
  const nan = /.{0,60}NaN.{0,60}/.exec(report.text);
  assert.equal(nan, null, `the page shows NaN: …${nan?.[0]}…`);
  for (const chart of report.charts) {
    assert.ok(chart.rendered, `${chart.id} rendered`);
    const total = Object.values(chart.marks).reduce((a, b) => a + b, 0);
    assert.ok(total > 0, `${chart.id} draws no marks`);
    for (const axis of chart.axes) {
      assert.ok(axis.labels.length >= 2, `${chart.id}: ${axis.name} has ${axis.labels.length} labels`);
      for (let i = 0; i < axis.labels.length; i++) {
        for (let j = i + 1; j < axis.labels.length; j++) {
          const [a, b] = [axis.labels[i], axis.labels[j]];
          assert.ok(!tooClose(a.box, b.box), `${chart.id}: labels '${a.text}' and '${b.text}' of ${axis.name} run together`);
        }
      }
    }
  }
}

const chartOf = (report: Report, id: string) => {
  const chart = report.charts.find((c) => c.id === id);
  assert.ok(chart, `the report has no ${id} chart (it has ${report.charts.map((c) => c.id).join(', ')})`);
  return chart;
};
const axisLabels = (chart: ChartView, axis: 'X' | 'Y') => chart.axes.find((a) => a.name.startsWith(`${axis}-axis`))?.labels.map((l) => l.text) ?? [];

const dir = mkdtempSync(join(tmpdir(), 'digitlab-report-'));
let browser: BrowserSession;
after(async () => {
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
});
before(async () => {
  writeSmallIdx(join(dir, 'small'), 3000, 500);
  browser = await launchChromium();
});

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

    // No request may leave the machine: the report is read from disk with its scripts beside it.
    const remote: string[] = [];
    const onRequest = (request: { url(): string }) => {
      if (!request.url().startsWith('file:') && !request.url().startsWith('data:')) remote.push(request.url());
    };
    browser.page.on('request', onRequest);
    const report = await inspectReport(browser, join(out, 'report.html'));
    browser.page.off('request', onRequest);
    await browser.screenshot('study-report.png');
    assert.deepEqual(browser.errors, []);
    assert.deepEqual(remote, []);
    assert.equal(report.rows, 14, 'one table row per trial (7 designs × 2 seeds)');
    assert.deepEqual(report.charts.map((c) => c.id), ['loss-curves', 'accuracy-vs-parameters', 'heatmap-accuracy', 'heatmap-convergence', 'optimizers', 'pareto']);
    assertReadable(report);
    // One mean line per design and split (the seeds make a band around it), one colour per design.
    const curves = chartOf(report, 'loss-curves');
    assert.equal(curves.lineStrokes.length, 14, '7 designs × (validation, training)');
    assert.equal(new Set(curves.lineStrokes).size, 7);
    assert.match(report.recommendation, /Most accurate: /);
  });

  it('shows a study with pruned trials, designs that never converged, one optimizer and three seeds', async () => {
    // Six designs (1–2 layers × 16, 64, 256 nodes) × three seeds. The 16-16 design is pruned in every
    // seed, one seed of 16 and one of 64 are pruned too; the 64-node designs never converge.
    const out = join(dir, 'synthetic');
    await writeSyntheticStudy(out, {
      prunedAt: (p) => (p.hidden[0] === 16 && (p.hidden.length === 2 || p.seed === 3) ? 1 + (p.seed === 3 ? 2 : 0) : p.hidden[0] === 64 && p.hidden.length === 1 && p.seed === 3 ? 3 : null),
      convergedAt: (p) => (p.hidden[0] === 64 ? null : p.hidden[0] === 256 ? 6 : 3 + p.seed),
    });
    const results = (await openStudy(out));
    await writeReport(results, out);
    const report = await inspectReport(browser, join(out, 'report.html'));
    await browser.screenshot('study-report-pruned.png');
    assert.deepEqual(browser.errors, []);
    assertReadable(report);
    // With one optimizer there is nothing to compare: no empty chart for it.
    assert.deepEqual(report.charts.map((c) => c.id), ['loss-curves', 'accuracy-vs-parameters', 'heatmap-accuracy', 'heatmap-convergence', 'pareto']);

    // Loss curves: a line per design and split, each design its own colour, the legend in the spec's order.
    const designs = results.designs.map((d) => d.label);
    assert.deepEqual(designs, ['16 adam lr 0.001', '64 adam lr 0.001', '256 adam lr 0.001', '64-64 adam lr 0.001', '256-256 adam lr 0.001']);
    const curves = chartOf(report, 'loss-curves');
    assert.equal(curves.lineStrokes.length, designs.length * 2);
    assert.equal(new Set(curves.lineStrokes).size, designs.length, 'a colour per design');
    assert.ok((curves.marks.area ?? 0) >= designs.length, 'a band spans the seeds of each design');
    assert.deepEqual(curves.legends.find((l) => /design/.test(l.name))?.labels, designs);

    // Heatmaps: every depth and width of the grid, including the pruned design and those that never converged.
    for (const id of ['heatmap-accuracy', 'heatmap-convergence']) {
      const chart = chartOf(report, id);
      assert.deepEqual(axisLabels(chart, 'X'), ['16', '64', '256'], `${id}: nodes axis`);
      assert.deepEqual(axisLabels(chart, 'Y'), ['1', '2'], `${id}: layers axis`);
      assert.equal(chart.marks.rect, 6, `${id}: a cell per design`);
    }
    const converge = chartOf(report, 'heatmap-convergence');
    assert.equal(converge.texts.filter((t) => t === 'did not converge').length, 2, converge.texts.join(' | '));
    assert.equal(converge.texts.filter((t) => t === 'pruned').length, 1, converge.texts.join(' | '));

    // Accuracy is plotted on validation, as designs are ranked; the test set is only in the table.
    const validation = results.designs.map((d) => (d.bestValAccuracy.mean * 100).toFixed(2)).sort();
    const test = results.designs.map((d) => (d.testAccuracy.mean * 100).toFixed(2));
    const accuracy = chartOf(report, 'heatmap-accuracy');
    assert.deepEqual(accuracy.texts.filter((t) => /^\d/.test(t)).sort(), validation);
    assert.ok(accuracy.texts.includes('pruned'));
    for (const id of ['accuracy-vs-parameters', 'pareto']) {
      const chart = chartOf(report, id);
      const plotted = chart.descriptions.flatMap((d) => /best validation accuracy ([\d.]+)%/.exec(d)?.[1] ?? []).sort();
      assert.deepEqual(plotted, validation, `${id} plots validation accuracy`);
      assert.ok(!chart.descriptions.some((d) => /test/.test(d)), `${id} mentions the test set`);
      assert.ok(!test.some((value) => chart.descriptions.some((d) => d.includes(`: ${value};`))), `${id} shows a test accuracy`);
    }
    // The parameter axis spans 12,730 to 269,322 on a log scale: abbreviated, and not crowded.
    assert.ok(axisLabels(chartOf(report, 'accuracy-vs-parameters'), 'X').every((label) => /^\d+(\.\d+)?[kM]$/.test(label)), axisLabels(chartOf(report, 'accuracy-vs-parameters'), 'X').join(' '));
    // Every seed of 256-256 converged at epoch 6: an epoch is a whole number.
    assert.match(report.recommendation, /256-256 adam lr 0\.001, [\d.]+ s \(epoch 6\)/);
    assert.doesNotMatch(report.recommendation, /epoch \d+\.0\b/);
  });

  it('shows a study in which no design converged without an empty chart', async () => {
    const out = join(dir, 'never');
    await writeSyntheticStudy(out, { nodes: [16, 32], seeds: [1], epochs: 3, prunedAt: (p) => (p.hidden.length === 2 && p.hidden[0] === 32 ? 1 : null) });
    await writeReport((await openStudy(out)), out);
    const report = await inspectReport(browser, join(out, 'report.html'));
    await browser.screenshot('study-report-never.png');
    assert.deepEqual(browser.errors, []);
    assertReadable(report);
    const converge = chartOf(report, 'heatmap-convergence');
    assert.deepEqual(converge.texts.sort(), ['did not converge', 'did not converge', 'did not converge', 'pruned']);
    assert.equal(converge.legends.length, 0, 'no colour legend without a value');
  });

  it('compares CNN and MLP designs in a table and a chart of their own, keeping the MLP charts as they were', async () => {
    const out = join(dir, 'kinds');
    await writeSyntheticStudy(out, {
      nodes: [16, 64, 256], seeds: [1, 2], epochs: 4,
      networks: ['lenet5', 'conv 8 5x5, relu, maxpool 2, linear 32, relu', 'linear 100, relu, linear 50, relu'],
      convergedAt: (p) => (p.network ? 3 : null),
    });
    const results = (await openStudy(out));
    await writeReport(results, out);
    const report = await inspectReport(browser, join(out, 'report.html'));
    await browser.screenshot('study-report-kinds.png');
    assert.deepEqual(browser.errors, []);
    assertReadable(report);
    assert.deepEqual(report.charts.map((c) => c.id), ['loss-curves', 'accuracy-vs-parameters', 'heatmap-accuracy', 'heatmap-convergence', 'pareto', 'cnn-vs-mlp']);
    assert.equal(results.designs.length, 9);
    assert.deepEqual(results.designs.map((d) => d.kind), ['MLP', 'MLP', 'MLP', 'MLP', 'MLP', 'MLP', 'CNN', 'CNN', 'MLP']);

    // The heatmaps are still the MLPs' layers × nodes: the network designs have no cell there.
    for (const id of ['heatmap-accuracy', 'heatmap-convergence']) assert.equal(chartOf(report, id).marks.rect, 6, id);
    // Points show their kind where there are networks.
    assert.deepEqual(chartOf(report, 'accuracy-vs-parameters').legends.find((l) => /kind/.test(l.name))?.labels, ['MLP', 'CNN']);

    const kinds = chartOf(report, 'cnn-vs-mlp');
    assert.deepEqual(kinds.legends.find((l) => /kind/.test(l.name))?.labels, ['MLP', 'CNN']);
    assert.equal(kinds.marks.symbol, 2 * 9, 'every design in both panels');
    assert.ok(kinds.axes.some((a) => /parameters/.test(a.name)) && kinds.axes.some((a) => /training time/.test(a.name)), kinds.axes.map((a) => a.name).join(' | '));
    assert.ok(kinds.descriptions.some((d) => /^lenet5 adam lr 0\.001: best validation accuracy/.test(d)), kinds.descriptions.join('\n'));
    assert.ok(kinds.descriptions.some((d) => /^linear 100, relu, linear 50, relu adam lr 0\.001: /.test(d)));

    // The table by kind: the best kind first, each design with its layers.
    assert.match(report.text, /CNN vs MLP/);
    assert.match(report.recommendation, /CNN vs MLP: the best CNN, (lenet5|conv 8 5x5, relu, maxpool 2, linear 32, relu) adam lr 0\.001, reaches/);
    const table = await browser.page.evaluate(`Array.from(document.querySelectorAll('#kinds tbody tr')).map((tr) => Array.from(tr.cells).map((td) => td.textContent))`) as string[][];
    assert.equal(table.length, 9);
    assert.deepEqual(table.map((row) => row[0]), ['CNN', 'CNN', 'MLP', 'MLP', 'MLP', 'MLP', 'MLP', 'MLP', 'MLP']);
    assert.ok(table.some((row) => row[1] === 'lenet5 adam lr 0.001' && row[2] === '61,706' && row[3] === '416,520' && /^conv 6 5x5 pad 2, relu/.test(row[9])));
    assert.ok(table.some((row) => row[1] === '256-256 adam lr 0.001' && row[3] === '–' && row[9] === 'linear 256, relu, linear 256, relu'));
  });
});
