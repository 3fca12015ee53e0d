/**
 * The study report: a Markdown summary and an HTML page of Vega-Lite charts (loss curves, accuracy
 * against parameters, layers × nodes heatmaps, optimizers on one architecture, the Pareto front, and
 * for studies with network designs, CNNs against MLPs by parameters and by training time).
 * Vega, Vega-Lite and vega-embed are copied next to the page from the installed packages, so the
 * report opens offline, from the file system, with nothing fetched.
 */
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../io/atomic.js';
import { formatLayers, mlpLayers, type MlpActivation } from '../io/model-spec.js';
import {
  architectureName, architectureTitle, bestByKind, designKey, designName, optimizerComparison, type DesignResult, type StudyResults, type TrialResult,
} from './results.js';

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

/** Whether the study has network designs (then its tables name each design's kind and network). */
export function hasNetworks(results: Pick<StudyResults, 'trials'>): boolean {
  return results.trials.some((t) => t.network !== null);
}

/**
 * Every trial as a table row: the same table in the terminal, the Markdown and the HTML. An MLP-only
 * study shows each design as layers × nodes; a study with networks as its kind and network (the
 * preset's name or the layer text; an MLP's hidden sizes).
 */
export function trialTable(results: StudyResults): TrialTable {
  const networks = hasNetworks(results);
  const shape = networks ? ['kind', 'network'] : ['layers', 'nodes'];
  const header = ['#', ...shape, 'optimizer', 'lr', 'seed', 'params', 'size', 'best val acc', 'test acc', 'conv. epoch', 'conv. s', 'train s', 'status'];
  const rows = results.trials.map((t) => [
    String(t.number),
    ...(networks ? [t.kind, architectureName(t)] : [String(t.layers), nodesText(t)]),
    t.optimizer,
    String(Number(t.lr.toPrecision(3))),
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

/** Columns of names, aligned left (numbers align right). */
const LEFT_COLUMNS = new Set(['optimizer', 'status', 'design', 'kind', 'network', 'layers (before the output layer)']);

/** A table as aligned plain text: names left-aligned, numbers right-aligned. */
export function formatTextTable(table: { header: string[]; rows: string[][] }): string[] {
  const left = LEFT_COLUMNS;
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
    `${pct(d.bestValAccuracy.mean)}${d.runs > 1 ? ` ± ${(d.bestValAccuracy.std * 100).toFixed(2)}` : ''}`,
    `${pct(d.testAccuracy.mean)}${d.runs > 1 ? ` ± ${(d.testAccuracy.std * 100).toFixed(2)}` : ''}`,
    d.seconds.mean.toFixed(1),
    d.secondsToConverge ? d.secondsToConverge.mean.toFixed(1) : '–',
    String(d.runs),
  ]);
}
const DESIGN_HEADER = ['design', 'params', 'size', 'best val acc (mean ± sd)', 'test acc (mean ± sd)', 'train s', 'conv. s', 'runs'];

/** A design's layers before the output layer in the `--layers` grammar: a network's text, or an MLP's linear and activation layers. */
export function layerText(d: Pick<DesignResult, 'hidden' | 'network' | 'activation'>): string {
  return d.network ? d.network.layers : formatLayers(mlpLayers(d.hidden, d.activation as MlpActivation));
}

/** Seconds per epoch: training time over the epochs trained. */
function secondsPerEpoch(d: DesignResult, trials: TrialResult[]): number | null {
  const runs = trials.filter((t) => d.trials.includes(t.number) && t.status === 'done' && t.epochsRun > 0 && t.seconds !== null);
  return runs.length ? runs.reduce((sum, t) => sum + (t.seconds as number) / t.epochsRun, 0) / runs.length : null;
}

/**
 * CNN and MLP designs side by side, the kind with the best design first and each kind's designs by
 * accuracy: what the networks cost (parameters, multiply-adds per image, time) for what they reach.
 */
export function kindTable(results: StudyResults): { header: string[]; rows: string[][] } {
  const best = bestByKind(results.designs);
  const kindOrder = (['CNN', 'MLP'] as const).filter((k) => best[k]).sort((a, b) => best[b]!.bestValAccuracy.mean - best[a]!.bestValAccuracy.mean);
  const designs = [...results.designs].sort(
    (a, b) => kindOrder.indexOf(a.kind) - kindOrder.indexOf(b.kind) || b.bestValAccuracy.mean - a.bestValAccuracy.mean || a.params - b.params,
  );
  const header = ['kind', 'design', 'params', 'multiply-adds', 'size', 'best val acc', 'test acc', 's / epoch', 'train s', 'layers (before the output layer)'];
  const rows = designs.map((d) => {
    const perEpoch = secondsPerEpoch(d, results.trials);
    return [
      d.kind,
      d.label,
      d.params.toLocaleString('en-US'),
      d.multiplyAdds === null ? '–' : d.multiplyAdds.toLocaleString('en-US'),
      bytesText(d.bytes),
      `${pct(d.bestValAccuracy.mean)}${d.runs > 1 ? ` ± ${(d.bestValAccuracy.std * 100).toFixed(2)}` : ''}`,
      `${pct(d.testAccuracy.mean)}${d.runs > 1 ? ` ± ${(d.testAccuracy.std * 100).toFixed(2)}` : ''}`,
      perEpoch === null ? '–' : perEpoch.toFixed(2),
      d.seconds.mean.toFixed(1),
      layerText(d),
    ];
  });
  return { header, rows };
}

function describeData(results: StudyResults): string {
  const s = results.spec;
  return (
    `data ${s.data}` + (s.trainSubset ? ` (first ${s.trainSubset.toLocaleString('en-US')} training images)` : '') +
    `, ${s.validation === null ? "the data's default validation split" : `${s.validation.toLocaleString('en-US')} validation images`}, ${s.epochs} epochs, batch ${s.batchSize}, seeds ${s.seeds.join(', ')}`
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
  if (hasNetworks(results)) {
    const kinds = kindTable(results);
    lines.push(
      '## CNN vs MLP',
      '',
      'Each design by kind (CNN: convolutions or pooling; MLP: only flat layers), with what it costs: parameters, multiply-adds of one image\'s forward pass, seconds per epoch.',
      '',
      ...markdownTable(kinds.header, kinds.rows),
      '',
    );
  }
  const pruned = results.trials.filter((t) => t.prunedReason);
  if (pruned.length) lines.push('## Pruned trials', '', ...pruned.map((t) => `- #${t.number} ${designLabelOf(t)}: ${t.prunedReason}`), '');
  const failed = results.trials.filter((t) => t.status === 'failed');
  if (failed.length) lines.push('## Failed trials', '', ...failed.map((t) => `- #${t.number} ${designLabelOf(t)}: ${t.error}`), '');
  lines.push(`Charts: ${REPORT_HTML} in the same folder.`, '');
  return lines.join('\n');
}

const designLabelOf = designName;

type VegaLiteSpec = Record<string, unknown>;

export interface ReportChart {
  id: string;
  title: string;
  note: string;
  spec: VegaLiteSpec;
}

/** A name per design, unique even where two designs differ only in what the short label leaves out. */
function designNames(designs: DesignResult[]): Map<DesignResult, string> {
  const seen = new Map<string, number>();
  for (const d of designs) seen.set(d.label, (seen.get(d.label) ?? 0) + 1);
  return new Map(designs.map((d) => [d, (seen.get(d.label) ?? 0) > 1 ? `${d.label} (#${d.trials[0]})` : d.label]));
}

/** A trial trained to the end: the trials a design's means and spreads are made of. */
function complete(t: TrialResult): boolean {
  return t.status === 'done' && t.testAccuracy !== null && t.bestValAccuracy !== null;
}

/** What a design is, besides its hidden layers: the heatmaps compare only designs alike in all of it. */
function settingsKey(t: Pick<TrialResult, 'activation' | 'optimizer' | 'lr' | 'options' | 'schedule' | 'augment'>): string {
  return JSON.stringify([t.activation, t.optimizer, t.lr, t.options, t.schedule, t.augment]);
}

/** Why a design has no value of its own: none of its trials trained to the end. */
function missingReason(trials: TrialResult[]): string {
  const words = new Set(trials.map((t) => (t.status === 'pending' || t.status === 'running' ? 'not finished' : t.status)));
  return [...words].join(', ');
}

function percentText(value: number, runs: number): string {
  return `${value.toFixed(2)}%` + (runs > 1 ? ` (mean of ${runs} seeds)` : '');
}

/** The kinds, in legend order. */
const KINDS = ['MLP', 'CNN'];

/** Axis labels a little apart, so neighbours never touch (Vega drops the ones that would). */
const CHART_CONFIG = { axis: { labelSeparation: 6 }, legend: { labelLimit: 280 } };

/** The charts, as Vega-Lite specs with their data inline. Accuracy is validation accuracy: the data designs are ranked on. */
export function reportCharts(results: StudyResults): ReportChart[] {
  const names = designNames(results.designs);
  const order = results.designs.map((d) => names.get(d) as string);
  const severalSeeds = results.spec.seeds.length > 1;
  const width = 640;
  const charts: ReportChart[] = [];

  // Loss curves: a line per design and split (the mean over its seeds), a band from the seeds' lowest to highest.
  const designOfTrial = new Map<number, string>();
  for (const d of results.designs) for (const number of d.trials) designOfTrial.set(number, names.get(d) as string);
  const curves = results.trials.filter(complete).flatMap((t) =>
    t.epochs.flatMap((e) => [
      { design: designOfTrial.get(t.number), epoch: e.epoch, split: 'validation', loss: e.val_loss ?? NaN },
      { design: designOfTrial.get(t.number), epoch: e.epoch, split: 'training', loss: e.train_loss },
    ]),
  ).filter((p) => p.design !== undefined && Number.isFinite(p.loss) && p.loss > 0);
  const left = results.trials.filter((t) => !complete(t)).length;
  const lossScale = { type: 'log', nice: false, padding: 8 };
  charts.push({
    id: 'loss-curves',
    title: 'Loss curves',
    note:
      'Validation (solid) and training (dashed) loss of each design, epoch by epoch' +
      (severalSeeds ? ': the line is the mean over its seeds, the band spans the lowest and highest seed.' : '.') +
      (left ? ` ${left} trial${left === 1 ? '' : 's'} that did not train to the end (pruned, diverged or unfinished) ${left === 1 ? 'is' : 'are'} left out; the table has ${left === 1 ? 'it' : 'them'}.` : ''),
    spec: {
      width, height: 320,
      data: { values: curves },
      encoding: {
        x: { field: 'epoch', type: 'quantitative', axis: { tickMinStep: 1, format: 'd' } },
        color: {
          field: 'design', type: 'nominal', title: 'design',
          scale: { domain: order, scheme: order.length > 10 ? 'tableau20' : 'tableau10' },
          legend: { columns: 1, symbolLimit: 0, symbolType: 'stroke', symbolStrokeWidth: 2.5, symbolOpacity: 1 },
        },
      },
      layer: [
        ...(severalSeeds
          ? [{
              mark: { type: 'area', opacity: 0.14, aria: false },
              encoding: {
                y: { aggregate: 'min', field: 'loss', type: 'quantitative', scale: lossScale, title: 'cross-entropy loss' },
                y2: { aggregate: 'max', field: 'loss' },
                detail: { field: 'split', type: 'nominal' },
              },
            }]
          : []),
        {
          mark: { type: 'line', strokeWidth: 1.75 },
          encoding: {
            y: { aggregate: 'mean', field: 'loss', type: 'quantitative', scale: lossScale, title: 'cross-entropy loss' },
            strokeDash: {
              field: 'split', type: 'nominal', title: 'loss on', scale: { domain: ['validation', 'training'] },
              legend: { symbolType: 'stroke', symbolStrokeWidth: 2, symbolStrokeColor: '#555' },
            },
          },
        },
        // A point per epoch, for its tooltip.
        {
          mark: { type: 'point', filled: true, size: 14, opacity: 0.9 },
          encoding: {
            y: { aggregate: 'mean', field: 'loss', type: 'quantitative', scale: lossScale },
            tooltip: [{ field: 'design' }, { field: 'split' }, { field: 'epoch' }, { aggregate: 'mean', field: 'loss', format: '.4f', title: severalSeeds ? 'mean loss' : 'loss' }],
          },
        },
      ],
    },
  });

  const networks = hasNetworks(results);
  const designs = results.designs.map((d) => {
    const name = names.get(d) as string;
    const valAccuracy = d.bestValAccuracy.mean * 100;
    return {
      design: name,
      kind: d.kind,
      layers: d.layers,
      optimizer: d.optimizer,
      params: d.params,
      kib: Math.round(d.bytes / 1024),
      valAccuracy,
      valLow: d.bestValAccuracy.min * 100,
      valHigh: d.bestValAccuracy.max * 100,
      seconds: d.seconds.mean,
      runs: d.runs,
      pareto: d.pareto ? 'on the front' : 'dominated',
      summary:
        `${name}: best validation accuracy ${percentText(valAccuracy, d.runs)}, ${d.params.toLocaleString('en-US')} parameters, ` +
        `${Math.round(d.bytes / 1024).toLocaleString('en-US')} KiB, ${d.seconds.mean.toFixed(1)} s of training`,
    };
  });
  const accuracyTitle = 'best validation accuracy (%)';
  charts.push({
    id: 'accuracy-vs-parameters',
    title: 'Accuracy vs parameters',
    note: 'Mean best validation accuracy of each design (the accuracy designs are ranked by; the test accuracy is in the table)' +
      (severalSeeds ? '; the bars span the seeds\' lowest and highest.' : '.'),
    spec: {
      width, height: 320,
      data: { values: designs },
      encoding: {
        x: { field: 'params', type: 'quantitative', scale: { type: 'log' }, title: 'parameters', axis: { format: '~s' } },
        color: { field: 'optimizer', type: 'nominal' },
      },
      layer: [
        { mark: { type: 'rule', aria: false }, encoding: { y: { field: 'valLow', type: 'quantitative', scale: { zero: false }, title: accuracyTitle }, y2: { field: 'valHigh' } } },
        {
          mark: { type: 'point', filled: true, size: 80 },
          encoding: {
            y: { field: 'valAccuracy', type: 'quantitative', title: accuracyTitle },
            shape: networks ? { field: 'kind', type: 'nominal', title: 'kind', scale: { domain: KINDS } } : { field: 'layers', type: 'nominal', title: 'hidden layers' },
            description: { field: 'summary' },
            tooltip: [{ field: 'design' }, { field: 'params', format: ',' }, { field: 'valAccuracy', format: '.2f', title: accuracyTitle }, { field: 'runs', title: 'seeds' }],
          },
        },
      ],
    },
  });

  // Heatmaps over layers × nodes: every design with equal-width layers and the settings most of them
  // share (so the cells differ only in shape), including designs with nothing to show (said in words).
  const groups = new Map<string, TrialResult[]>();
  for (const t of results.trials) if (t.nodes !== null) groups.set(designKey(t), [...(groups.get(designKey(t)) ?? []), t]);
  const counts = new Map<string, number>();
  for (const group of groups.values()) counts.set(settingsKey(group[0]), (counts.get(settingsKey(group[0])) ?? 0) + 1);
  const common = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
  const gridGroups = [...groups.values()].filter((group) => settingsKey(group[0]) === common);
  const designByKey = new Map(results.designs.map((d) => [designKey(results.trials.find((t) => t.number === d.trials[0]) as TrialResult), d]));
  const gridNote = gridGroups.length ? `${gridGroups[0][0].optimizer} lr ${Number(gridGroups[0][0].lr.toPrecision(3))}` : 'no design with equal-width layers';
  const heatmap = (
    id: string, title: string, note: string, legendTitle: string, scheme: string,
    cellOf: (d: DesignResult) => { value: number | null; text: string },
    /** Whether a cell at relative position t (0 lowest … 1 highest) of the scale is dark enough for white text. */
    dark: (t: number) => boolean,
  ): ReportChart => {
    const cells = gridGroups.map((group) => {
      const t = group[0];
      const design = designByKey.get(designKey(t));
      const cell = design ? cellOf(design) : { value: null, text: missingReason(group) };
      return { design: design ? names.get(design) : designName(t), layers: t.layers, nodes: t.nodes as number, ...cell };
    });
    const values = cells.flatMap((c) => (c.value === null ? [] : [c.value]));
    const [low, high] = [Math.min(...values), Math.max(...values)];
    const withInk = cells.map((c) => ({ ...c, ink: c.value !== null && dark(high > low ? (c.value - low) / (high - low) : 0.5) ? 'white' : 'black' }));
    const nodes = [...new Set(cells.map((c) => c.nodes))].sort((a, b) => a - b);
    const layers = [...new Set(cells.map((c) => c.layers))].sort((a, b) => a - b);
    const tooltip = [{ field: 'design' }, { field: 'text', title: legendTitle }];
    return {
      id, title, note,
      spec: {
        width: Math.max(240, nodes.length * 120), height: Math.max(100, layers.length * 60),
        data: { values: withInk },
        encoding: {
          x: { field: 'nodes', type: 'ordinal', title: 'nodes per layer', scale: { domain: nodes }, axis: { labelAngle: 0 } },
          y: { field: 'layers', type: 'ordinal', title: 'hidden layers', scale: { domain: layers } },
        },
        layer: [
          { transform: [{ filter: '!isValid(datum.value)' }], mark: { type: 'rect', fill: '#ececec', stroke: 'white' }, encoding: { tooltip } },
          // No colour scale without a value: an empty domain would draw a legend of NaN.
          ...(values.length
            ? [{
                transform: [{ filter: 'isValid(datum.value)' }],
                mark: { type: 'rect', stroke: 'white' },
                encoding: { color: { field: 'value', type: 'quantitative', title: legendTitle, scale: { scheme } }, tooltip },
              }]
            : []),
          { mark: { type: 'text', fontSize: 11 }, encoding: { text: { field: 'text' }, color: { field: 'ink', type: 'nominal', scale: { domain: ['black', 'white'], range: ['#222222', '#ffffff'] }, legend: null } } },
        ],
      },
    };
  };
  if (gridGroups.length) {
    charts.push(heatmap(
      'heatmap-accuracy', 'Accuracy over layers × nodes',
      `Mean best validation accuracy (%) of each depth and width (${gridNote}).`,
      'best validation accuracy %', 'viridis',
      (d) => ({ value: d.bestValAccuracy.mean * 100, text: (d.bestValAccuracy.mean * 100).toFixed(2) }),
      (t) => t < 0.45,
    ));
    charts.push(heatmap(
      'heatmap-convergence', 'Time to converge over layers × nodes',
      `Mean seconds of training until the validation loss converged (${gridNote}); "k of n": only k of the n seeds converged.`,
      'seconds to converge', 'orangered',
      (d) => d.secondsToConverge
        ? { value: d.secondsToConverge.mean, text: d.secondsToConverge.mean.toFixed(1) + (d.secondsToConverge.n < d.runs ? ` (${d.secondsToConverge.n} of ${d.runs})` : '') }
        : { value: null, text: 'did not converge' },
      (t) => t > 0.6,
    ));
  }

  // Optimizers on the architecture trained with the most of them (no chart when no architecture had two).
  const compared = optimizerComparison(results.designs);
  if (compared) {
    const comparedKeys = new Set(compared.flatMap((d) => d.trials));
    const optimizerCurves = results.trials
      .filter((t) => comparedKeys.has(t.number) && complete(t))
      .flatMap((t) => t.epochs.filter((e) => Number.isFinite(e.val_loss)).map((e) => ({ optimizer: `${t.optimizer} lr ${Number(t.lr.toPrecision(3))}`, seed: t.seed, epoch: e.epoch, accuracy: (e.val_accuracy ?? NaN) * 100 })));
    charts.push({
      id: 'optimizers',
      title: `Optimizers on ${architectureTitle(compared[0])}`,
      note: 'Validation accuracy per epoch of each optimizer on the same architecture' + (severalSeeds ? ' (mean over seeds; the band spans ± one standard deviation).' : '.'),
      spec: {
        width, height: 280,
        data: { values: optimizerCurves },
        encoding: {
          x: { field: 'epoch', type: 'quantitative', axis: { tickMinStep: 1, format: 'd' } },
          color: { field: 'optimizer', type: 'nominal', legend: { symbolType: 'stroke', symbolStrokeWidth: 2.5, symbolOpacity: 1 } },
        },
        layer: [
          ...(severalSeeds ? [{ mark: { type: 'errorband', extent: 'stdev', opacity: 0.2 }, encoding: { y: { field: 'accuracy', type: 'quantitative', title: 'validation accuracy (%)', scale: { zero: false } } } }] : []),
          {
            mark: { type: 'line', point: true },
            encoding: {
              y: { aggregate: 'mean', field: 'accuracy', type: 'quantitative', title: 'validation accuracy (%)', scale: { zero: false } },
              tooltip: [{ field: 'optimizer' }, { field: 'epoch' }, { aggregate: 'mean', field: 'accuracy', format: '.2f', title: severalSeeds ? 'mean accuracy %' : 'accuracy %' }],
            },
          },
        ],
      },
    });
  }

  charts.push({
    id: 'pareto',
    title: 'Pareto front: accuracy vs training time vs size',
    note: 'Each design at its mean training time and mean best validation accuracy; the point\'s area is the model size. Highlighted: no other design is at once as accurate, as fast and as small.',
    spec: {
      width, height: 320,
      data: { values: designs },
      mark: { type: 'point', filled: true, opacity: 0.8 },
      encoding: {
        x: { field: 'seconds', type: 'quantitative', title: 'training time (s)' },
        y: { field: 'valAccuracy', type: 'quantitative', scale: { zero: false }, title: accuracyTitle },
        size: { field: 'kib', type: 'quantitative', title: 'model size (KiB)' },
        color: { field: 'pareto', type: 'nominal', title: '', scale: { domain: ['on the front', 'dominated'], range: ['#d62728', '#9e9e9e'] } },
        description: { field: 'summary' },
        tooltip: [{ field: 'design' }, { field: 'valAccuracy', format: '.2f', title: accuracyTitle }, { field: 'seconds', format: '.1f', title: 'training s' }, { field: 'kib', title: 'KiB' }],
      },
    },
  });
  if (networks) {
    // CNNs against MLPs: the same designs by size and by training time, a colour per kind.
    const panel = (x: Record<string, unknown>) => ({
      width: 300, height: 280,
      mark: { type: 'point', filled: true, size: 90, opacity: 0.85 },
      encoding: {
        x,
        y: { field: 'valAccuracy', type: 'quantitative', scale: { zero: false }, title: accuracyTitle },
        color: { field: 'kind', type: 'nominal', title: 'kind', scale: { domain: KINDS, range: ['#1f77b4', '#d62728'] } },
        description: { field: 'summary' },
        tooltip: [{ field: 'design' }, { field: 'kind' }, { field: 'valAccuracy', format: '.2f', title: accuracyTitle }, { field: 'params', format: ',' }, { field: 'seconds', format: '.1f', title: 'training s' }],
      },
    });
    const kinds = new Set(results.designs.map((d) => d.kind));
    charts.push({
      id: 'cnn-vs-mlp',
      title: 'CNN vs MLP',
      note: 'Mean best validation accuracy of each design against its parameters (left) and its training time (right), coloured by kind: ' +
        'CNNs have convolutions or pooling, MLPs only flat layers.' +
        (kinds.size < 2 ? ` This study has ${[...kinds][0] ?? 'no'} designs only so far.` : ''),
      spec: {
        data: { values: designs },
        hconcat: [
          panel({ field: 'params', type: 'quantitative', scale: { type: 'log' }, title: 'parameters', axis: { format: '~s' } }),
          panel({ field: 'seconds', type: 'quantitative', scale: { zero: false }, title: 'training time (s)' }),
        ],
        resolve: { scale: { color: 'shared' } },
      },
    });
  }
  return charts.map((chart) => ({ ...chart, spec: { ...chart.spec, config: CHART_CONFIG } }));
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
  const headOf = (header: string[]) => header.map((h) => `<th${LEFT_COLUMNS.has(h) ? ' class="name"' : ''}>${escapeHtml(h)}</th>`).join('');
  const cellsOf = (header: string[], row: string[]) =>
    row.map((cell, i) => `<td${LEFT_COLUMNS.has(header[i]) ? ' class="name"' : ''}>${escapeHtml(cell)}</td>`).join('');
  const rows = table.rows
    .map((row) => `<tr class="${statusClass(row[row.length - 1])}">${cellsOf(table.header, row)}</tr>`)
    .join('\n');
  const kinds = hasNetworks(results) ? kindTable(results) : null;
  const kindSection = kinds
    ? `<h2>CNN vs MLP</h2>
<p class="note">Each design by kind (CNN: convolutions or pooling; MLP: only flat layers), with what it costs: parameters, multiply-adds of one image's forward pass, seconds per epoch.</p>
<table id="kinds"><thead><tr>${headOf(kinds.header)}</tr></thead>
<tbody>
${kinds.rows.map((row) => `<tr>${cellsOf(kinds.header, row)}</tr>`).join('\n')}
</tbody></table>
`
    : '';
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
  td:nth-child(4), td:last-child, .name { text-align: left; }
  #kinds td:last-child { white-space: normal; }
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
<table id="trials"><thead><tr>${headOf(table.header)}</tr></thead>
<tbody>
${rows}
</tbody></table>
${kindSection}${sections}
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
