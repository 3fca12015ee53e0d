/**
 * The study report: a Markdown summary and an HTML page of Vega-Lite charts (loss curves, accuracy
 * against parameters, layers × nodes heatmaps, optimizers on one architecture, the Pareto front).
 * Vega, Vega-Lite and vega-embed are copied next to the page from the installed packages, so the
 * report opens offline, from the file system, with nothing fetched.
 */
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../io/atomic.js';
import { designName, type DesignResult, type StudyResults, type TrialResult } from './results.js';

export const REPORT_HTML = 'report.html';
export const REPORT_MARKDOWN = 'report.md';
const ASSETS = 'report-assets';
const LIBRARIES = [
  ['vega', 'build/vega.min.js'],
  ['vega-lite', 'build/vega-lite.min.js'],
  ['vega-embed', 'build/vega-embed.min.js'],
] as const;

export interface TrialTable {
  header: string[];
  rows: string[][];
  /** Columns that measure time (they differ between otherwise identical runs). */
  timingColumns: number[];
}

function pct(value: number | null): string {
  return value === null ? '–' : `${(value * 100).toFixed(2)}%`;
}

function bytesText(bytes: number | null): string {
  if (bytes === null) return '–';
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
}

function nodesText(t: Pick<TrialResult, 'hidden' | 'nodes'>): string {
  if (t.hidden.length === 0) return '–';
  return t.nodes !== null ? String(t.nodes) : t.hidden.join('-');
}

/** Every trial as a table row: the same table in the terminal, the Markdown and the HTML. */
export function trialTable(results: StudyResults): TrialTable {
  const header = ['#', 'layers', 'nodes', 'optimizer', 'lr', 'seed', 'params', 'size', 'best val acc', 'test acc', 'conv. epoch', 'conv. s', 'train s', 'status'];
  const rows = results.trials.map((t) => [
    String(t.number),
    String(t.layers),
    nodesText(t),
    t.optimizer,
    String(t.lr),
    String(t.seed),
    t.params === null ? '–' : t.params.toLocaleString('en-US'),
    bytesText(t.bytes),
    pct(t.bestValAccuracy),
    pct(t.testAccuracy),
    t.convergedEpoch === null ? '–' : String(t.convergedEpoch),
    t.secondsToConverge === null ? '–' : t.secondsToConverge.toFixed(1),
    t.seconds === null ? '–' : t.seconds.toFixed(1),
    t.status === 'pruned' ? `pruned at epoch ${t.epochsRun}` : t.status,
  ]);
  return { header, rows, timingColumns: [11, 12] };
}

/** A table as aligned plain text: names left-aligned, numbers right-aligned. */
export function formatTextTable(table: { header: string[]; rows: string[][] }): string[] {
  const left = new Set(['optimizer', 'status', 'design']);
  const widths = table.header.map((h, i) => Math.max(h.length, ...table.rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (left.has(table.header[i]) ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  return [line(table.header), ...table.rows.map(line)];
}

function markdownTable(header: string[], rows: string[][]): string[] {
  const escape = (cell: string) => cell.replace(/\|/g, '\\|');
  return [`| ${header.map(escape).join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(escape).join(' | ')} |`)];
}

function designRows(designs: DesignResult[]): string[][] {
  return designs.map((d) => [
    d.label,
    d.params.toLocaleString('en-US'),
    bytesText(d.bytes),
    `${pct(d.testAccuracy.mean)}${d.runs > 1 ? ` ± ${(d.testAccuracy.std * 100).toFixed(2)}` : ''}`,
    d.seconds.mean.toFixed(1),
    d.secondsToConverge ? d.secondsToConverge.mean.toFixed(1) : '–',
    String(d.runs),
  ]);
}
const DESIGN_HEADER = ['design', 'params', 'size', 'test acc (mean ± sd)', 'train s', 'conv. s', 'runs'];

function describeData(results: StudyResults): string {
  const s = results.spec;
  return (
    `data ${s.data}` + (s.trainSubset ? ` (first ${s.trainSubset.toLocaleString('en-US')} training images)` : '') +
    `, ${s.validation.toLocaleString('en-US')} validation images, ${s.epochs} epochs, batch ${s.batchSize}, seeds ${s.seeds.join(', ')}`
  );
}

export function markdownReport(results: StudyResults): string {
  const { summary } = results;
  const table = trialTable(results);
  const counts = Object.entries(summary.counts).filter(([, n]) => n > 0).map(([status, n]) => `${n} ${status}`).join(', ');
  const lines = [
    `# Study ${results.name}`,
    '',
    `${summary.trials} trials (${counts}); ${describeData(results)}; ${summary.epochsTrained} epochs trained.`,
    '',
    '## Recommendation',
    '',
    ...(summary.recommendation.length ? summary.recommendation.map((r) => `- ${r}`) : ['- No trial has finished yet.']),
    '',
    '## Trials',
    '',
    ...markdownTable(table.header, table.rows),
    '',
    '## Designs (mean and spread over seeds)',
    '',
    ...markdownTable(DESIGN_HEADER, designRows([...results.designs].sort((a, b) => b.bestValAccuracy.mean - a.bestValAccuracy.mean))),
    '',
    '## Pareto front (accuracy vs training time vs size)',
    '',
    ...markdownTable(DESIGN_HEADER, designRows(summary.pareto)),
    '',
  ];
  const pruned = results.trials.filter((t) => t.prunedReason);
  if (pruned.length) lines.push('## Pruned trials', '', ...pruned.map((t) => `- #${t.number} ${designLabelOf(t)}: ${t.prunedReason}`), '');
  const failed = results.trials.filter((t) => t.status === 'failed');
  if (failed.length) lines.push('## Failed trials', '', ...failed.map((t) => `- #${t.number} ${designLabelOf(t)}: ${t.error}`), '');
  lines.push(`Charts: ${REPORT_HTML} in the same folder.`, '');
  return lines.join('\n');
}

const designLabelOf = designName;

type VegaLiteSpec = Record<string, unknown>;

/** The charts, as Vega-Lite specs with their data inline. */
export function reportCharts(results: StudyResults): Array<{ id: string; title: string; note: string; spec: VegaLiteSpec }> {
  const label = (t: TrialResult) => `#${t.number} ${designLabelOf(t)}` + (results.spec.seeds.length > 1 ? ` s${t.seed}` : '');
  const curves = results.trials.flatMap((t) =>
    t.epochs.flatMap((e) => [
      { trial: label(t), epoch: e.epoch, loss: Number.isFinite(e.val_loss) ? e.val_loss : null, split: 'validation', status: t.status },
      { trial: label(t), epoch: e.epoch, loss: Number.isFinite(e.train_loss) ? e.train_loss : null, split: 'training', status: t.status },
    ]),
  ).filter((p) => p.loss !== null);
  const designs = results.designs.map((d) => ({
    design: d.label,
    layers: d.layers,
    nodes: d.nodes,
    optimizer: d.optimizer,
    params: d.params,
    bytes: d.bytes,
    kib: Math.round(d.bytes / 1024),
    accuracy: d.testAccuracy.mean * 100,
    accuracyLow: d.testAccuracy.min * 100,
    accuracyHigh: d.testAccuracy.max * 100,
    valAccuracy: d.bestValAccuracy.mean * 100,
    seconds: d.seconds.mean,
    converge: d.secondsToConverge ? d.secondsToConverge.mean : null,
    runs: d.runs,
    pareto: d.pareto ? 'on the front' : 'dominated',
  }));
  const width = 640;
  const charts: Array<{ id: string; title: string; note: string; spec: VegaLiteSpec }> = [];
  charts.push({
    id: 'loss-curves',
    title: 'Loss curves',
    note: 'Validation (solid) and training (dashed) loss of every trial, epoch by epoch.',
    spec: {
      width, height: 320,
      data: { values: curves },
      mark: { type: 'line', point: false, strokeWidth: 1.5 },
      encoding: {
        x: { field: 'epoch', type: 'quantitative', axis: { tickMinStep: 1 } },
        y: { field: 'loss', type: 'quantitative', scale: { type: 'log' }, title: 'cross-entropy loss' },
        color: { field: 'trial', type: 'nominal', legend: { columns: 1, symbolLimit: 60, labelLimit: 260 } },
        strokeDash: { field: 'split', type: 'nominal', sort: ['validation', 'training'] },
        tooltip: [{ field: 'trial' }, { field: 'split' }, { field: 'epoch' }, { field: 'loss', format: '.4f' }],
      },
    },
  });
  charts.push({
    id: 'accuracy-vs-parameters',
    title: 'Accuracy vs parameters',
    note: 'Mean test accuracy of each design; the bars span the seeds\' lowest and highest.',
    spec: {
      width, height: 320,
      data: { values: designs },
      encoding: { x: { field: 'params', type: 'quantitative', scale: { type: 'log' }, title: 'parameters' } },
      layer: [
        { mark: 'rule', encoding: { y: { field: 'accuracyLow', type: 'quantitative', scale: { zero: false }, title: 'test accuracy (%)' }, y2: { field: 'accuracyHigh' }, color: { field: 'optimizer', type: 'nominal' } } },
        {
          mark: { type: 'point', filled: true, size: 80 },
          encoding: {
            y: { field: 'accuracy', type: 'quantitative' },
            color: { field: 'optimizer', type: 'nominal' },
            shape: { field: 'layers', type: 'nominal', title: 'hidden layers' },
            tooltip: [{ field: 'design' }, { field: 'params', format: ',' }, { field: 'accuracy', format: '.2f', title: 'test accuracy %' }, { field: 'runs' }],
          },
        },
      ],
    },
  });
  // Heatmaps over layers × nodes: the designs with equal-width layers, trained with the optimizer and
  // rate most of them used (so the cells differ only in shape).
  const grid = results.designs.filter((d) => d.nodes !== null);
  const counts = new Map<string, number>();
  for (const d of grid) counts.set(`${d.optimizer} ${d.lr}`, (counts.get(`${d.optimizer} ${d.lr}`) ?? 0) + 1);
  const common = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
  const cells = designs.filter((d, i) => results.designs[i].nodes !== null && `${d.optimizer} ${results.designs[i].lr}` === common);
  const heatmap = (field: string, title: string, format: string, scheme: string, reverse = false): VegaLiteSpec => ({
    width: 320, height: 200,
    data: { values: cells },
    encoding: {
      x: { field: 'nodes', type: 'ordinal', title: 'nodes per layer' },
      y: { field: 'layers', type: 'ordinal', title: 'hidden layers' },
    },
    // Cells without a value (a run that never converged) stay blank rather than print "null".
    transform: [{ filter: `isValid(datum.${field})` }],
    layer: [
      { mark: 'rect', encoding: { color: { field, type: 'quantitative', title, scale: { scheme, reverse } }, tooltip: [{ field: 'design' }, { field, format, title }] } },
      { mark: { type: 'text', fontSize: 12 }, encoding: { text: { field, type: 'quantitative', format } } },
    ],
  });
  charts.push({
    id: 'heatmap-accuracy',
    title: 'Accuracy over layers × nodes',
    note: `Mean test accuracy (%) of each depth and width (${common ?? 'no grid'}).`,
    spec: heatmap('accuracy', 'test accuracy %', '.2f', 'viridis'),
  });
  charts.push({
    id: 'heatmap-convergence',
    title: 'Time to converge over layers × nodes',
    note: 'Mean seconds of training until the validation loss converged (blank: it had not).',
    spec: heatmap('converge', 'seconds to converge', '.1f', 'orangered'),
  });
  // Optimizers on the architecture trained with the most of them.
  const byArchitecture = new Map<string, DesignResult[]>();
  for (const d of results.designs) byArchitecture.set(JSON.stringify(d.hidden), [...(byArchitecture.get(JSON.stringify(d.hidden)) ?? []), d]);
  const compared = [...byArchitecture.values()].filter((list) => new Set(list.map((d) => d.optimizer)).size > 1).sort((a, b) => b.length - a.length)[0] ?? [];
  const comparedKeys = new Set(compared.flatMap((d) => d.trials));
  const optimizerCurves = results.trials
    .filter((t) => comparedKeys.has(t.number))
    .flatMap((t) => t.epochs.filter((e) => Number.isFinite(e.val_loss)).map((e) => ({ optimizer: `${t.optimizer} lr ${t.lr}`, seed: t.seed, epoch: e.epoch, loss: e.val_loss, accuracy: e.val_accuracy * 100 })));
  charts.push({
    id: 'optimizers',
    title: `Optimizers on ${compared[0] ? compared[0].hidden.join('-') || 'no hidden layer' : 'one architecture'}`,
    note: 'Validation accuracy per epoch of each optimizer on the same architecture (mean over seeds; the band spans ± one standard deviation).',
    spec: {
      width, height: 280,
      data: { values: optimizerCurves },
      encoding: { x: { field: 'epoch', type: 'quantitative', axis: { tickMinStep: 1 } }, color: { field: 'optimizer', type: 'nominal' } },
      layer: [
        { mark: { type: 'errorband', extent: 'stdev', opacity: 0.2 }, encoding: { y: { field: 'accuracy', type: 'quantitative', title: 'validation accuracy (%)', scale: { zero: false } } } },
        { mark: { type: 'line', point: true }, encoding: { y: { aggregate: 'mean', field: 'accuracy', type: 'quantitative' }, tooltip: [{ field: 'optimizer' }, { field: 'epoch' }, { aggregate: 'mean', field: 'accuracy', format: '.2f', title: 'mean accuracy %' }] } },
      ],
    },
  });
  charts.push({
    id: 'pareto',
    title: 'Pareto front: accuracy vs training time vs size',
    note: 'Each design at its mean training time and test accuracy; the point\'s area is the model size. Highlighted: no other design is at once as accurate, as fast and as small.',
    spec: {
      width, height: 320,
      data: { values: designs },
      mark: { type: 'point', filled: true, opacity: 0.8 },
      encoding: {
        x: { field: 'seconds', type: 'quantitative', title: 'training time (s)' },
        y: { field: 'accuracy', type: 'quantitative', scale: { zero: false }, title: 'test accuracy (%)' },
        size: { field: 'kib', type: 'quantitative', title: 'model size (KiB)' },
        color: { field: 'pareto', type: 'nominal', title: '', scale: { domain: ['on the front', 'dominated'], range: ['#d62728', '#9e9e9e'] } },
        tooltip: [{ field: 'design' }, { field: 'accuracy', format: '.2f', title: 'test accuracy %' }, { field: 'seconds', format: '.1f', title: 'training s' }, { field: 'kib', title: 'KiB' }],
      },
    },
  });
  return charts;
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** JSON that is safe inside a <script> element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

export function htmlReport(results: StudyResults): string {
  const table = trialTable(results);
  const charts = reportCharts(results);
  const { summary } = results;
  const statusClass = (status: string) => (status.startsWith('pruned') ? 'pruned' : status);
  const rows = table.rows
    .map((row) => `<tr class="${statusClass(row[row.length - 1])}">${row.map((cell) => `<td>${escapeHtml(cell)}</td>`).join('')}</tr>`)
    .join('\n');
  const sections = charts
    .map((c) => `<section><h2>${escapeHtml(c.title)}</h2><p class="note">${escapeHtml(c.note)}</p><div class="chart" id="${c.id}"></div></section>`)
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Study ${escapeHtml(results.name)} — digitlab</title>
<link rel="icon" href="data:,">
<style>
  body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; padding: 0 1em; }
  table { border-collapse: collapse; margin: 1em 0; font-variant-numeric: tabular-nums; }
  th, td { padding: 3px 8px; border-bottom: 1px solid #ddd; text-align: right; white-space: nowrap; }
  th { background: #f4f4f4; }
  td:nth-child(4), td:last-child { text-align: left; }
  tr.pruned td, tr.pending td, tr.running td { color: #888; }
  tr.diverged td, tr.failed td { color: #b00; }
  .note { color: #555; margin: 0.2em 0 0.6em; }
  section { margin: 2em 0; }
  .chart { min-height: 120px; }
</style>
</head>
<body>
<h1>Study ${escapeHtml(results.name)}</h1>
<p>${summary.trials} trials; ${escapeHtml(describeData(results))}; ${summary.epochsTrained} epochs trained.</p>
<h2>Recommendation</h2>
<ul id="recommendation">${(summary.recommendation.length ? summary.recommendation : ['No trial has finished yet.']).map((r) => `<li>${escapeHtml(r)}</li>`).join('')}</ul>
<h2>Trials</h2>
<table id="trials"><thead><tr>${table.header.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead>
<tbody>
${rows}
</tbody></table>
${sections}
<script src="${ASSETS}/vega.min.js"></script>
<script src="${ASSETS}/vega-lite.min.js"></script>
<script src="${ASSETS}/vega-embed.min.js"></script>
<script>
  const charts = ${scriptJson(charts.map((c) => ({ id: c.id, spec: { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', ...c.spec } })))};
  // Rendered one after another; each chart's SVG gets data-rendered once it is drawn.
  (async () => {
    for (const chart of charts) {
      const element = document.getElementById(chart.id);
      await vegaEmbed(element, chart.spec, { actions: false, renderer: 'svg' });
      element.dataset.rendered = 'true';
    }
    document.body.dataset.chartsRendered = String(charts.length);
  })().catch((error) => console.error('chart failed:', error));
</script>
</body>
</html>
`;
}

/** Finds an installed package's file by walking up from this module to a node_modules folder. */
function packageFile(name: string, file: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'node_modules', name, file);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find ${name}/${file}: is ${name} installed (npm install)?`);
    dir = parent;
  }
}

/** Writes report.html (with its scripts in report-assets/) and report.md into `dir`; returns their paths. */
export async function writeReport(results: StudyResults, dir: string): Promise<{ html: string; markdown: string }> {
  mkdirSync(join(dir, ASSETS), { recursive: true });
  for (const [name, file] of LIBRARIES) copyFileSync(packageFile(name, file), join(dir, ASSETS, file.split('/').pop() as string));
  const html = join(dir, REPORT_HTML);
  const markdown = join(dir, REPORT_MARKDOWN);
  await writeFileAtomic(html, htmlReport(results));
  await writeFileAtomic(markdown, markdownReport(results));
  return { html, markdown };
}
