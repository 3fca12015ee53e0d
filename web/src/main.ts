/**
 * The digitlab page: a drawing pad read as you draw (in the page, on the WebAssembly kernels), zip
 * codes segmented and read with the same library as `digitlab read`, a training dashboard fed by
 * server-sent events, the study explorer and the gallery of mistakes.
 */
import { preprocessDigit, PRESETS, readDigits } from '../../src/browser.js';
import { adoptAccessToken } from './access.js';
import { lineChart, scatterChart } from './charts.js';
import { BrowserModel, getJson } from './model.js';
import { DrawingPad, showInput } from './pad.js';

// before any request: the address `digitlab serve` prints may carry the access token
adoptAccessToken();

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

function status(text: string): void {
  $('status').textContent = text;
}

function percent(value: number): string {
  return `${(value * 100).toFixed(1)}%`;
}

// ---- pages (hash routing: each page is a link, so keyboard and back button work) ----
const PAGES = ['draw', 'zip', 'train', 'studies', 'gallery'];
const pageShown = new Map<string, () => void>();

function showPage(): void {
  const page = PAGES.includes(location.hash.slice(1)) ? location.hash.slice(1) : 'draw';
  for (const name of PAGES) $(`page-${name}`).hidden = name !== page;
  for (const link of document.querySelectorAll<HTMLAnchorElement>('nav a')) {
    if (link.dataset.page === page) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  pageShown.get(page)?.();
}
window.addEventListener('hashchange', showPage);

// ---- models ----
interface ModelSummary {
  id: string;
  default: boolean;
  inputShape: [number, number];
  network: string;
  classes: number;
  testAccuracy: number | null;
}
let model: BrowserModel | null = null;
const select = $<HTMLSelectElement>('model-select');

async function refreshModels(choose?: string): Promise<void> {
  const { models } = (await getJson('/api/models')) as { models: ModelSummary[] };
  const current = choose ?? model?.id ?? models.find((m) => m.default)?.id;
  select.replaceChildren(
    ...models.map((m) => {
      const option = new Option(`${m.id} (${m.network}${m.testAccuracy === null ? '' : `, ${percent(m.testAccuracy)}`})`, m.id);
      option.selected = m.id === current;
      return option;
    }),
  );
  if (current && current !== model?.id) await useModel(current);
}

async function useModel(id: string): Promise<void> {
  status(`loading model ${id}…`);
  model = await BrowserModel.load(id);
  status(`model ${id} loaded`);
  showBars(model);
  document.body.dataset.model = id;
  const [height, width] = model.inputShape;
  $('draw-input-size').textContent = `${height}×${width}`;
  $('draw-input').setAttribute('aria-label', `The ${height} by ${width} input`);
  readDrawing();
  if (!$('page-gallery').hidden) void showGallery();
}
select.addEventListener('change', () => void useModel(select.value).catch((e: Error) => status(e.message)));

// ---- drawing pad ----
/** One probability bar per class of the model, headed by the class's name. */
function showBars(shown: BrowserModel): void {
  const bars = $('draw-bars');
  bars.replaceChildren();
  for (let c = 0; c < shown.config.classes; c++) {
    const name = Object.assign(document.createElement('span'), { className: 'bar-name', textContent: shown.label(c) });
    bars.append(name);
    bars.insertAdjacentHTML('beforeend', `<span class="track"><span class="bar" id="bar-${c}" style="width:0"></span></span><span id="bar-text-${c}">0%</span>`);
  }
}

let pending = 0;
const pad = new DrawingPad($<HTMLCanvasElement>('pad'), 18, (final) => {
  // while drawing, read at most once per frame
  if (final) readDrawing();
  else if (!pending) pending = requestAnimationFrame(() => ((pending = 0), readDrawing()));
});

function readDrawing(): void {
  if (!model) return;
  const digit = $('draw-digit');
  if (pad.empty) {
    digit.textContent = '–';
    $('draw-confidence').textContent = '';
    for (let c = 0; c < model.config.classes; c++) {
      $(`bar-${c}`).style.width = '0';
      $(`bar-text-${c}`).textContent = '0%';
    }
    showInput($<HTMLCanvasElement>('draw-input'), new Float32Array(model.inputShape[0] * model.inputShape[1]), model.inputShape);
    return;
  }
  const gray = pad.gray();
  const pixels = preprocessDigit(gray.data, gray.width, gray.height, { height: model.inputShape[0], width: model.inputShape[1] });
  const prediction = model.predict(pixels);
  digit.textContent = model.label(prediction.digit);
  $('draw-confidence').textContent = `(${percent(prediction.probabilities[prediction.digit])})`;
  prediction.probabilities.forEach((p, d) => {
    $(`bar-${d}`).style.width = `${(p * 100).toFixed(1)}%`;
    $(`bar-text-${d}`).textContent = percent(p);
  });
  showInput($<HTMLCanvasElement>('draw-input'), pixels, model.inputShape);
}
$('draw-undo').addEventListener('click', () => pad.undo());
$('draw-clear').addEventListener('click', () => pad.clear());

// ---- zip codes ----
const zipPad = new DrawingPad($<HTMLCanvasElement>('zip-pad'), 10, (final) => {
  if (final) readZip();
});

function readZip(): void {
  if (!model) return;
  const shape = model.inputShape;
  const gray = zipPad.gray();
  const count = Number($<HTMLInputElement>('zip-count').value);
  const result = readDigits(model, gray.data, gray.width, gray.height, Number.isInteger(count) && count > 0 ? { digits: count } : {});
  $('zip-text').textContent = result.text === '' ? '–' : result.text;
  $('zip-digits').replaceChildren(
    ...result.digits.map((d) => {
      const item = document.createElement('li');
      const canvas = document.createElement('canvas');
      showInput(canvas, d.pixels, shape);
      item.append(canvas);
      // the label is a class name from the model's config: text, never markup
      const sure = Object.assign(document.createElement('span'), { className: d.confidence < 0.8 ? 'low' : '', textContent: percent(d.confidence) });
      item.append(Object.assign(document.createElement('strong'), { textContent: d.label }), sure);
      item.setAttribute('aria-label', `${d.label}, ${percent(d.confidence)} sure`);
      return item;
    }),
  );
}
$('zip-read').addEventListener('click', readZip);
$('zip-undo').addEventListener('click', () => zipPad.undo());
$('zip-clear').addEventListener('click', () => zipPad.clear());
$('zip-count').addEventListener('change', readZip);
$<HTMLInputElement>('zip-file').addEventListener('change', async (event) => {
  const file = (event.target as HTMLInputElement).files?.[0];
  if (!file) return;
  try {
    zipPad.drawImage(await createImageBitmap(file));
    readZip();
  } catch {
    status(`${file.name} could not be read as a picture: use a PNG or JPEG`);
  }
});

// ---- training dashboard ----
interface EpochRecord {
  epoch: number;
  train_loss: number;
  val_loss: number;
  val_accuracy: number;
  seconds: number;
}
let source: EventSource | null = null;
let runId: string | null = null;

function drawCurves(epochs: EpochRecord[], progress: Array<[number, number]>): void {
  lineChart($('train-loss') as unknown as SVGSVGElement, [
    { name: 'train loss (batches)', points: progress, color: '#9bb5e0' },
    { name: 'train loss', points: epochs.map((e) => [e.epoch, e.train_loss]), color: '#1f5fbf' },
    { name: 'validation loss', points: epochs.map((e) => [e.epoch, e.val_loss]), color: '#c0392b' },
  ], { x: 'epoch', y: 'loss' });
  lineChart($('train-accuracy') as unknown as SVGSVGElement, [
    { name: 'validation accuracy', points: epochs.map((e) => [e.epoch, e.val_accuracy]), color: '#2e8b57' },
  ], { x: 'epoch', y: 'accuracy' });
}

// the network choices: an MLP, each preset, or any layer list; the fields that do not apply are off
const networkSelect = $<HTMLSelectElement>('train-network');
for (const [name, preset] of Object.entries(PRESETS)) {
  networkSelect.insertBefore(new Option(`${name}: ${preset.layers}`, `preset:${name}`), networkSelect.options[1]);
}
networkSelect.addEventListener('change', () => {
  const mlp = networkSelect.value === 'mlp';
  const form = $<HTMLFormElement>('train-form');
  for (const name of ['hidden', 'activation']) (form.elements.namedItem(name) as HTMLInputElement).disabled = !mlp;
  $<HTMLInputElement>('train-layers').disabled = networkSelect.value !== 'layers';
  // a preset brings the recipe it was measured with (`digitlab presets`); every field can still be changed
  const preset = PRESETS[networkSelect.value.replace(/^preset:/, '')];
  if (!networkSelect.value.startsWith('preset:') || !preset) return;
  const field = (name: string) => form.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement;
  field('optimizer').value = 'adam';
  field('lr').value = '0.001';
  field('schedule').value = preset.schedule;
  field('augment').value = preset.augment ?? '';
  if (preset.epochs !== undefined) field('epochs').value = String(preset.epochs);
  if (preset.batchSize !== undefined) field('batchSize').value = String(preset.batchSize);
});

$('train-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = new FormData(event.target as HTMLFormElement);
  const text = String(form.get('hidden') ?? '').trim();
  const network = String(form.get('network'));
  const architecture = network === 'mlp'
    ? { hidden: text === '' ? [] : text.split(',').map((v) => Number(v.trim())), activation: form.get('activation') }
    : network === 'layers' ? { layers: String(form.get('layers') ?? '').trim() } : { preset: network.replace(/^preset:/, '') };
  const body = {
    ...architecture,
    optimizer: form.get('optimizer'),
    lr: Number(form.get('lr')),
    ...(String(form.get('schedule') ?? '').trim() !== '' ? { schedule: String(form.get('schedule')).trim() } : {}),
    ...(form.get('augment') ? { augment: String(form.get('augment')) } : {}),
    epochs: Number(form.get('epochs')),
    batchSize: Number(form.get('batchSize')),
    trainImages: Number(form.get('trainImages')),
  };
  try {
    const run = (await getJson('/api/runs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })) as { id: string; events: string };
    runId = run.id;
    follow(run.id, run.events);
  } catch (error) {
    $('train-progress').textContent = (error as Error).message;
  }
});

function follow(id: string, url: string): void {
  source?.close();
  const epochs: EpochRecord[] = [];
  const progress: Array<[number, number]> = [];
  const rows = $('train-epochs').querySelector('tbody') as HTMLTableSectionElement;
  rows.replaceChildren();
  drawCurves(epochs, progress);
  ($('train-start') as HTMLButtonElement).disabled = true;
  ($('train-stop') as HTMLButtonElement).disabled = false;
  const line = $('train-progress');
  line.textContent = `run ${id} starting…`;
  source = new EventSource(url);
  const finish = (text: string) => {
    source?.close();
    source = null;
    line.textContent = text;
    ($('train-start') as HTMLButtonElement).disabled = false;
    ($('train-stop') as HTMLButtonElement).disabled = true;
  };
  source.addEventListener('start', (e) => {
    const data = JSON.parse((e as MessageEvent).data) as { network: string; params: number; trainImages: number };
    line.textContent = `run ${id}: ${data.network}, ${data.params.toLocaleString('en-US')} parameters, ${data.trainImages.toLocaleString('en-US')} images`;
  });
  source.addEventListener('progress', (e) => {
    const data = JSON.parse((e as MessageEvent).data) as { epoch: number; batch: number; batches: number; loss: number };
    progress.push([data.epoch - 1 + data.batch / data.batches, data.loss]);
    line.textContent = `run ${id}: epoch ${data.epoch}, batch ${data.batch}/${data.batches}, loss ${data.loss.toFixed(4)}`;
    drawCurves(epochs, progress);
  });
  source.addEventListener('epoch', (e) => {
    const record = JSON.parse((e as MessageEvent).data) as EpochRecord;
    epochs.push(record);
    rows.insertAdjacentHTML('beforeend', `<tr><td>${record.epoch}</td><td>${record.train_loss.toFixed(4)}</td><td>${record.val_loss.toFixed(4)}</td><td>${percent(record.val_accuracy)}</td><td>${record.seconds.toFixed(1)}</td></tr>`);
    drawCurves(epochs, progress);
  });
  source.addEventListener('done', (e) => {
    const data = JSON.parse((e as MessageEvent).data) as { model: string; testAccuracy: number };
    const done = `run ${id} done: test accuracy ${percent(data.testAccuracy)}`;
    finish(`${done}; loading model ${data.model}`);
    refreshModels(data.model).then(
      () => (line.textContent = `${done}; model ${data.model} is now selected`),
      (error: Error) => (line.textContent = `${done}; model ${data.model} could not be loaded: ${error.message}`),
    );
  });
  source.addEventListener('stopped', (e) => {
    const data = JSON.parse((e as MessageEvent).data) as { checkpointEpoch: number };
    finish(`run ${id} stopped${data.checkpointEpoch ? `; its checkpoint after epoch ${data.checkpointEpoch} is kept` : ''}`);
  });
  source.addEventListener('failed', (e) => finish(`run ${id} failed: ${(JSON.parse((e as MessageEvent).data) as { message: string }).message}`));
}
$('train-stop').addEventListener('click', () => {
  if (runId) void getJson(`/api/runs/${runId}`, { method: 'DELETE' }).catch((e: Error) => status(e.message));
});

// ---- study explorer ----
interface StudyTrial {
  number: number;
  params: number | null;
  bestValAccuracy: number | null;
  hidden: number[];
  optimizer: string;
  lr: number;
  epochs: EpochRecord[];
}
interface StudyDesign {
  label: string;
  params: number;
  bestValAccuracy: { mean: number };
  pareto: boolean;
}
interface StudyDetail {
  name: string;
  state: string;
  trials: StudyTrial[];
  designs: StudyDesign[];
  summary: { recommendation: string[] };
  table: { header: string[]; rows: string[][] };
  /** CNN and MLP designs side by side, when the study has networks in its space (else null). */
  kinds: { header: string[]; rows: string[][] } | null;
}

async function showStudies(): Promise<void> {
  const { studies } = (await getJson('/api/studies')) as { studies: Array<{ id: string; name: string; state: string; trials: number }> };
  const list = $('study-list');
  if (studies.length === 0) list.innerHTML = '<li>No studies yet: run <code>digitlab study run SPEC</code>.</li>';
  else {
    list.replaceChildren(
      ...studies.map((s) => {
        const item = document.createElement('li');
        const button = document.createElement('button');
        button.type = 'button';
        button.textContent = `${s.name} (${s.trials} trials, ${s.state})`;
        button.addEventListener('click', () => void openStudy(s.id).catch((e: Error) => status(e.message)));
        item.append(button);
        return item;
      }),
    );
  }
}

/** Numbers sort as numbers ("1.5 KiB" < "2.0 MiB" is handled by the unit), the rest as text. */
function sortKey(text: string): number | string {
  const match = /^(-?[\d,.]+)\s*(%|KiB|MiB)?/.exec(text);
  if (!match) return text;
  const value = Number(match[1].replace(/,/g, ''));
  return match[2] === 'MiB' ? value * 1024 : value;
}

function renderTable(table: HTMLTableElement, header: string[], rows: string[][]): void {
  let sortColumn = -1;
  let ascending = true;
  const render = () => {
    const sorted = sortColumn < 0 ? rows : [...rows].sort((a, b) => {
      const [x, y] = [sortKey(a[sortColumn]), sortKey(b[sortColumn])];
      const order = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
      return ascending ? order : -order;
    });
    table.replaceChildren();
    const head = table.createTHead().insertRow();
    header.forEach((name, i) => {
      const th = document.createElement('th');
      th.textContent = name;
      th.tabIndex = 0;
      th.setAttribute('aria-sort', i === sortColumn ? (ascending ? 'ascending' : 'descending') : 'none');
      const sort = () => {
        ascending = sortColumn === i ? !ascending : true;
        sortColumn = i;
        render();
        (table.tHead?.rows[0].cells[i] as HTMLElement).focus();
      };
      th.addEventListener('click', sort);
      th.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' || e.key === ' ') {
          e.preventDefault();
          sort();
        }
      });
      head.append(th);
    });
    const body = table.createTBody();
    for (const row of sorted) {
      const tr = body.insertRow();
      for (const cell of row) tr.insertCell().textContent = cell;
    }
  };
  render();
}

async function openStudy(id: string): Promise<void> {
  const study = (await getJson(`/api/studies/${encodeURIComponent(id)}`)) as StudyDetail;
  $('study-detail').hidden = false;
  $('study-name').textContent = `${study.name} (${study.state})`;
  $('study-summary').textContent = study.summary.recommendation.join(' ');
  renderTable($<HTMLTableElement>('study-table'), study.table.header, study.table.rows);
  $('study-kinds-block').hidden = study.kinds === null;
  if (study.kinds) renderTable($<HTMLTableElement>('study-kinds'), study.kinds.header, study.kinds.rows);
  const colors = ['#1f5fbf', '#c0392b', '#2e8b57', '#8e44ad', '#d35400', '#16a085', '#7f8c8d', '#b7950b'];
  lineChart(
    $('study-curves') as unknown as SVGSVGElement,
    study.trials.map((t, i) => ({ name: `#${t.number}`, points: t.epochs.map((e) => [e.epoch, e.val_accuracy] as [number, number]), color: colors[i % colors.length] })),
    { x: 'epoch', y: 'val accuracy' },
  );
  scatterChart(
    $('study-pareto') as unknown as SVGSVGElement,
    study.designs.map((d) => ({ x: d.params, y: d.bestValAccuracy.mean, label: `${d.label}: ${percent(d.bestValAccuracy.mean)}, ${d.params.toLocaleString('en-US')} parameters`, highlight: d.pareto })),
    { x: 'parameters', y: 'best val accuracy' },
  );
}

// ---- gallery ----
interface Gallery {
  /** The data whose test split the model was scored on. */
  data: string;
  accuracy: number;
  count: number;
  confusion: number[][];
  inputShape: [number, number];
  wrong: Array<{ index: number; label: number; predicted: number; confidence: number; pixels: string }>;
}

async function showGallery(): Promise<void> {
  if (!model) return;
  $('gallery-summary').textContent = `evaluating ${model.id} on the test set…`;
  const requested = model;
  const gallery = (await getJson(`/api/models/${encodeURIComponent(model.id)}/gallery`)) as Gallery;
  // Another model chosen while this one was being evaluated: its own gallery is on the way.
  if (model !== requested) return;
  const shown = model;
  const name = (c: number) => shown.label(c);
  const kind = shown.config.labels ? 'class' : 'digit';
  $('gallery-summary').textContent = `${model.id}: test accuracy ${percent(gallery.accuracy)} on ${gallery.count.toLocaleString('en-US')} images of ${gallery.data}. Rows: true ${kind}, columns: predicted; choose a cell to see those mistakes.`;
  const table = $<HTMLTableElement>('confusion');
  table.replaceChildren();
  const head = table.createTHead().insertRow();
  head.append(Object.assign(document.createElement('th'), { textContent: 'true \\ predicted' }));
  for (let c = 0; c < gallery.confusion.length; c++) head.append(Object.assign(document.createElement('th'), { textContent: name(c) }));
  const body = table.createTBody();
  const filter = (label: number | null, predicted: number | null, cell?: HTMLElement) => {
    for (const selected of table.querySelectorAll('.selected')) selected.classList.remove('selected');
    cell?.classList.add('selected');
    const listed = gallery.wrong.filter((w) => (label === null || w.label === label) && (predicted === null || w.predicted === predicted));
    $('gallery-filter').textContent =
      label === null || predicted === null ? `the ${listed.length} mistakes the model was surest about` : `true ${name(label)}, predicted ${name(predicted)}: ${listed.length} of the shown mistakes`;
    $('gallery-wrong').replaceChildren(
      ...listed.map((w) => {
        const item = document.createElement('li');
        const canvas = document.createElement('canvas');
        const bytes = Uint8Array.from(atob(w.pixels), (c) => c.charCodeAt(0));
        showInput(canvas, Float32Array.from(bytes, (v) => v / 255), gallery.inputShape);
        item.append(canvas);
        item.append(`true ${name(w.label)}, read ${name(w.predicted)}`, document.createElement('br'), percent(w.confidence));
        return item;
      }),
    );
  };
  gallery.confusion.forEach((row, t) => {
    const tr = body.insertRow();
    tr.append(Object.assign(document.createElement('th'), { textContent: name(t) }));
    row.forEach((count, p) => {
      const cell = tr.insertCell();
      cell.textContent = String(count);
      cell.tabIndex = 0;
      if (t === p) cell.classList.add('diagonal');
      const choose = () => filter(t === p ? null : t, t === p ? null : p, cell);
      cell.addEventListener('click', choose);
      cell.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' || e.key === ' ') {
          e.preventDefault();
          choose();
        }
      });
    });
  });
  filter(null, null);
}

pageShown.set('studies', () => void showStudies().catch((e: Error) => status(e.message)));
pageShown.set('gallery', () => void showGallery().catch((e: Error) => status(e.message)));

showPage();
refreshModels()
  .then(() => {
    document.body.dataset.ready = 'true';
  })
  .catch((error: Error) => status(`could not load a model: ${error.message}`));
