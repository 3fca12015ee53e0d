/**
 * The digitlab page: a drawing pad read as you draw (in the page, on the WebAssembly kernels), zip
 * codes segmented and read with the same library as `digitlab read`, a training dashboard (a run on
 * the server, fed by server-sent events, or one in this browser, in a worker), the study explorer and
 * the gallery of mistakes. Built as a static site (`digitlab site`), it needs no server at all.
 */
import { decodeSafetensors, describeModel, exportOnnx, modelSpecFromJson, preprocessDigit, PRESETS, readDigits, validateModelConfig, type EpochRecord } from '../../src/browser.js';
import { adoptAccessToken } from './access.js';
import { isolateThroughServiceWorker, isolationSettled } from './isolation.js';
import { lineChart, scatterChart } from './charts.js';
import { loadManifestData } from './browser-data.js';
import { computeGallery } from './gallery.js';
import { BrowserModel, DATA_URL, getJson, KERNELS_URL, STATIC_SITE } from './model.js';
import { DrawingPad, showInput } from './pad.js';
import { deleteRun, getModel, listModels, listRuns, putModel, type StoredModel, type StoredRun } from './store.js';
import type { DataChoice, FromWorker, GalleryData, ToWorker } from './train-protocol.js';

// before any request: the address `digitlab serve` prints may carry the access token
adoptAccessToken();
// a static site on a host that sends no isolation headers reloads once under its service worker
if (STATIC_SITE && (await isolateThroughServiceWorker())) await new Promise(() => {});
isolationSettled();

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
/** Models trained in this browser are listed by this prefix; the rest are the server's (or the static site's). */
const TAB_PREFIX = 'tab:';

/** The server's models (or, on a static site, those its models/index.json lists). */
async function siteModels(): Promise<ModelSummary[]> {
  const { models } = (await getJson(STATIC_SITE ? 'models/index.json' : '/api/models')) as { models: ModelSummary[] };
  return models;
}

async function tabModels(): Promise<ModelSummary[]> {
  const stored = await listModels().catch(() => [] as StoredModel[]);
  return stored.sort((a, b) => a.created - b.created).map((m) => {
    const config = m.config as { inputShape: [number, number]; classes: number; metrics?: { test_accuracy?: number } };
    return {
      id: `${TAB_PREFIX}${m.id}`, default: false, inputShape: config.inputShape, classes: config.classes,
      network: networkOf(m.config), testAccuracy: config.metrics?.test_accuracy ?? null,
    };
  });
}

function networkOf(config: Record<string, unknown>): string {
  try {
    return describeModel(modelSpecFromJson((config as { model: unknown }).model, 'model'));
  } catch {
    return 'a model';
  }
}

async function refreshModels(choose?: string): Promise<void> {
  const [site, tab] = await Promise.all([siteModels().catch((error: Error) => {
    status(`the site's models could not be listed: ${error.message}`);
    return [] as ModelSummary[];
  }), tabModels()]);
  const models = [...site, ...tab];
  const current = choose ?? model?.id ?? models.find((m) => m.default)?.id ?? models[0]?.id;
  select.replaceChildren(
    ...models.map((m) => {
      const where = m.id.startsWith(TAB_PREFIX) ? ', trained in this browser' : '';
      const option = new Option(`${m.id} (${m.network}${m.testAccuracy === null ? '' : `, ${percent(m.testAccuracy)}`}${where})`, m.id);
      option.selected = m.id === current;
      return option;
    }),
  );
  if (current && current !== model?.id) await useModel(current);
}

async function loadModel(id: string): Promise<BrowserModel> {
  if (!id.startsWith(TAB_PREFIX)) return BrowserModel.load(id);
  const stored = await getModel(id.slice(TAB_PREFIX.length));
  if (!stored) throw new Error(`model ${id} is no longer in this browser's storage`);
  return BrowserModel.fromFiles(id, stored.config, stored.weights);
}

async function useModel(id: string): Promise<void> {
  status(`loading model ${id}…`);
  model = await loadModel(id);
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
/** What the dashboard shows of a run, wherever it trains: the same curves, table and Stop button. */
class RunView {
  private readonly epochs: EpochRecord[] = [];
  private readonly progress: Array<[number, number]> = [];
  private readonly rows = $('train-epochs').querySelector('tbody') as HTMLTableSectionElement;
  private readonly line = $('train-progress');

  constructor(readonly label: string, readonly stop: () => void, history: EpochRecord[] = []) {
    this.rows.replaceChildren();
    $('train-downloads').hidden = true;
    for (const record of history) this.epoch(record, false);
    this.draw();
    ($('train-start') as HTMLButtonElement).disabled = true;
    ($('train-stop') as HTMLButtonElement).disabled = false;
    document.body.dataset.train = 'running';
    this.line.textContent = `${label} starting…`;
  }

  text(text: string): void {
    this.line.textContent = `${this.label}: ${text}`;
  }

  started(data: { network: string; params: number; trainImages: number }, extra = ''): void {
    this.text(`${data.network}, ${data.params.toLocaleString('en-US')} parameters, ${data.trainImages.toLocaleString('en-US')} images${extra}`);
  }

  batch(data: { epoch: number; batch: number; batches: number; loss: number }, extra = ''): void {
    this.progress.push([data.epoch - 1 + data.batch / data.batches, data.loss]);
    this.text(`epoch ${data.epoch}, batch ${data.batch}/${data.batches}, loss ${data.loss.toFixed(4)}${extra}`);
    this.draw();
  }

  epoch(record: EpochRecord, draw = true): void {
    this.epochs.push(record);
    const cell = (v: number | null, digits: number) => (v === null ? '–' : v.toFixed(digits));
    this.rows.insertAdjacentHTML('beforeend', `<tr><td>${record.epoch}</td><td>${record.train_loss.toFixed(4)}</td><td>${cell(record.val_loss, 4)}</td><td>${record.val_accuracy === null ? '–' : percent(record.val_accuracy)}</td><td>${record.seconds.toFixed(1)}</td></tr>`);
    if (draw) this.draw();
  }

  /** The run has ended (`state`: done, stopped, failed); `text` says how. */
  finish(state: string, text: string): void {
    this.line.textContent = text;
    ($('train-start') as HTMLButtonElement).disabled = false;
    ($('train-stop') as HTMLButtonElement).disabled = true;
    document.body.dataset.train = state;
    if (view === this) view = null;
  }

  private draw(): void {
    lineChart($('train-loss') as unknown as SVGSVGElement, [
      { name: 'train loss (batches)', points: this.progress, color: '#9bb5e0' },
      { name: 'train loss', points: this.epochs.map((e) => [e.epoch, e.train_loss]), color: '#1f5fbf' },
      { name: 'validation loss', points: this.epochs.flatMap((e) => (e.val_loss === null ? [] : [[e.epoch, e.val_loss] as [number, number]])), color: '#c0392b' },
    ], { x: 'epoch', y: 'loss' });
    lineChart($('train-accuracy') as unknown as SVGSVGElement, [
      { name: 'validation accuracy', points: this.epochs.flatMap((e) => (e.val_accuracy === null ? [] : [[e.epoch, e.val_accuracy] as [number, number]])), color: '#2e8b57' },
    ], { x: 'epoch', y: 'accuracy' });
  }
}
let view: RunView | null = null;
$('train-stop').addEventListener('click', () => view?.stop());

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

const where = $<HTMLSelectElement>('train-where');
const dataChoice = $<HTMLSelectElement>('train-data');
if (STATIC_SITE) {
  // no server here: every run trains in the tab, and there are no studies to explore
  document.querySelector<HTMLElement>('nav a[data-page="studies"]')?.setAttribute('hidden', '');
  where.value = 'browser';
  where.options[0].disabled = true;
}
const showWhere = () => {
  const inTab = where.value === 'browser';
  dataChoice.disabled = !inTab;
  $('train-files-label').hidden = !(inTab && dataChoice.value === 'files');
};
where.addEventListener('change', showWhere);
dataChoice.addEventListener('change', showWhere);
showWhere();
// IDX files dropped anywhere on the Train page are the data of the next run in this browser
const trainPage = $('page-train');
trainPage.addEventListener('dragover', (event) => {
  if (event.dataTransfer?.types.includes('Files')) event.preventDefault();
});
trainPage.addEventListener('drop', (event) => {
  const files = event.dataTransfer?.files;
  if (!files || files.length === 0) return;
  event.preventDefault();
  $<HTMLInputElement>('train-files').files = files;
  where.value = 'browser';
  dataChoice.value = 'files';
  showWhere();
  $('train-progress').textContent = `data: ${[...files].map((f) => f.name).join(', ')}`;
});

/** The form as a run request (the body of POST /api/runs). */
function formRequest(form: FormData): Record<string, unknown> {
  const text = String(form.get('hidden') ?? '').trim();
  const network = String(form.get('network'));
  const architecture = network === 'mlp'
    ? { hidden: text === '' ? [] : text.split(',').map((v) => Number(v.trim())), activation: form.get('activation') }
    : network === 'layers' ? { layers: String(form.get('layers') ?? '').trim() } : { preset: network.replace(/^preset:/, '') };
  return {
    ...architecture,
    optimizer: form.get('optimizer'),
    lr: Number(form.get('lr')),
    ...(String(form.get('schedule') ?? '').trim() !== '' ? { schedule: String(form.get('schedule')).trim() } : {}),
    ...(form.get('augment') ? { augment: String(form.get('augment')) } : {}),
    epochs: Number(form.get('epochs')),
    batchSize: Number(form.get('batchSize')),
    trainImages: Number(form.get('trainImages')),
  };
}

$('train-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const body = formRequest(new FormData(event.target as HTMLFormElement));
  // until the run view takes over (reading chosen files takes a moment), the last run's state is gone
  document.body.dataset.train = 'starting';
  if (where.value === 'browser') {
    try {
      await trainInTab(`run-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-')}`, body, await chosenData(), false);
    } catch (error) {
      $('train-progress').textContent = (error as Error).message;
      document.body.dataset.train = 'failed';
    }
    return;
  }
  try {
    const run = (await getJson('/api/runs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })) as { id: string; events: string };
    followServerRun(run.id, run.events);
  } catch (error) {
    $('train-progress').textContent = (error as Error).message;
    document.body.dataset.train = 'failed';
  }
});

// ---- a run on the server, followed as server-sent events ----
let source: EventSource | null = null;

function followServerRun(id: string, url: string): void {
  source?.close();
  const shown = new RunView(`run ${id}`, () => void getJson(`/api/runs/${id}`, { method: 'DELETE' }).catch((e: Error) => status(e.message)));
  view = shown;
  source = new EventSource(url);
  const data = (e: Event) => JSON.parse((e as MessageEvent).data);
  const end = (state: string, text: string) => {
    source?.close();
    source = null;
    shown.finish(state, text);
  };
  source.addEventListener('start', (e) => shown.started(data(e)));
  source.addEventListener('progress', (e) => shown.batch(data(e)));
  source.addEventListener('epoch', (e) => shown.epoch(data(e)));
  source.addEventListener('done', (e) => {
    const result = data(e) as { model: string; testAccuracy: number };
    const done = `run ${id} done: test accuracy ${percent(result.testAccuracy)}`;
    end('done', `${done}; loading model ${result.model}`);
    refreshModels(result.model).then(
      () => ($('train-progress').textContent = `${done}; model ${result.model} is now selected`),
      (error: Error) => ($('train-progress').textContent = `${done}; model ${result.model} could not be loaded: ${error.message}`),
    );
  });
  source.addEventListener('stopped', (e) => {
    const result = data(e) as { checkpointEpoch: number };
    end('stopped', `run ${id} stopped${result.checkpointEpoch ? `; its checkpoint after epoch ${result.checkpointEpoch} is kept` : ''}`);
  });
  source.addEventListener('failed', (e) => end('failed', `run ${id} failed: ${(data(e) as { message: string }).message}`));
}

// ---- a run in this browser, in a worker ----
let worker: Worker | null = null;

/** The data the form chose for a run in the tab: this site's, or the IDX files picked. */
async function chosenData(): Promise<DataChoice> {
  if (dataChoice.value !== 'files') return { kind: 'manifest', url: DATA_URL };
  const files = [...($<HTMLInputElement>('train-files').files ?? [])];
  if (files.length === 0) throw new Error('choose the four IDX files of a set first (training and test images and labels)');
  return { kind: 'files', files: await Promise.all(files.map(async (f) => ({ name: f.name, bytes: await f.arrayBuffer() }))) };
}

function trainWorker(): Worker {
  worker ??= new Worker(new URL('./train-worker.ts', import.meta.url), { type: 'module', name: 'digitlab training' });
  return worker;
}

async function trainInTab(id: string, request: Record<string, unknown>, data: DataChoice, resume: boolean, history: EpochRecord[] = []): Promise<void> {
  $('train-resume').hidden = true;
  const training = trainWorker();
  const shown = new RunView(`run ${id} (in this browser)`, () => training.postMessage({ type: 'stop' } satisfies ToWorker), history);
  view = shown;
  const rate = (perSecond: number) => (perSecond > 0 ? `, ${Math.round(perSecond).toLocaleString('en-US')} images/s` : '');
  let threads = '';
  await new Promise<void>((resolve) => {
    training.onmessage = (event: MessageEvent<FromWorker>) => {
      const message = event.data;
      switch (message.type) {
        case 'status':
          shown.text(message.text);
          break;
        case 'start':
          threads = `, ${message.threads} thread${message.threads === 1 ? '' : 's'}`;
          shown.started(message, `${threads}${message.resumedEpoch ? `; resumed after epoch ${message.resumedEpoch}` : ''}`);
          break;
        case 'progress':
          shown.batch(message, `${rate(message.samplesPerSecond)}${threads}`);
          break;
        case 'epoch':
          shown.epoch(message.record);
          break;
        case 'done':
          void finishTabRun(id, shown, message).finally(resolve);
          break;
        case 'stopped':
          shown.finish('stopped', `run ${id} stopped${message.checkpointEpoch ? `; its checkpoint after epoch ${message.checkpointEpoch} is kept in this browser, to resume` : ''}`);
          void offerResume();
          resolve();
          break;
        case 'failed':
          shown.finish('failed', `run ${id} failed: ${message.message}`);
          resolve();
          break;
      }
    };
    training.onerror = (event) => {
      shown.finish('failed', `run ${id} failed: the training worker stopped (${event.message || 'it could not be loaded'})`);
      worker = null;
      resolve();
    };
    training.postMessage({ type: 'start', id, request, data, kernels: KERNELS_URL, resume, threads: navigator.hardwareConcurrency || 1 } satisfies ToWorker);
  });
}

/** Keeps the model a tab run trained, selects it, and offers its files. */
async function finishTabRun(id: string, shown: RunView, done: Extract<FromWorker, { type: 'done' }>): Promise<void> {
  const weights = new Uint8Array(done.weights);
  const summary = `run ${id} done: test accuracy ${percent(done.testAccuracy)}, ${Math.round(done.samplesPerSecond).toLocaleString('en-US')} images/s`;
  try {
    await putModel({ id, config: done.config, weights, created: Date.now(), gallery: done.gallery });
    await deleteRun(id);
    await refreshModels(`${TAB_PREFIX}${id}`);
    offerDownloads(done.config, weights);
    shown.finish('done', `${summary}; model ${TAB_PREFIX}${id} is now selected`);
  } catch (error) {
    shown.finish('done', `${summary}; the model could not be kept: ${(error as Error).message}`);
  }
}

let downloadUrls: string[] = [];
function offerDownloads(config: Record<string, unknown>, weights: Uint8Array): void {
  for (const url of downloadUrls) URL.revokeObjectURL(url);
  const link = (id: string, bytes: BlobPart, type: string) => {
    const url = URL.createObjectURL(new Blob([bytes], { type }));
    downloadUrls.push(url);
    $<HTMLAnchorElement>(id).href = url;
  };
  downloadUrls = [];
  link('download-config', JSON.stringify(config, null, 2) + '\n', 'application/json');
  link('download-weights', weights as BlobPart, 'application/octet-stream');
  const onnx = $<HTMLAnchorElement>('download-onnx');
  try {
    const parsed = validateModelConfig(config, 'config.json');
    const tensors = [...decodeSafetensors(weights, 'model.safetensors').tensors].map(([name, t]) => ({ name, shape: t.shape, data: t.data, ...(t.dtype === 'I64' ? { dtype: 'I64' as const } : {}) }));
    link('download-onnx', exportOnnx(parsed, tensors) as BlobPart, 'application/octet-stream');
    onnx.hidden = false;
  } catch {
    onnx.hidden = true;
  }
  $('train-downloads').hidden = false;
}

/** Offers to resume a run this browser was training when the tab was closed or reloaded. */
async function offerResume(): Promise<void> {
  const runs = (await listRuns().catch(() => [] as StoredRun[])).filter((r) => r.status === 'running' || r.status === 'stopped');
  const last = runs.sort((a, b) => b.updated - a.updated)[0];
  if (!last || last.epochs.length === 0 || view) return;
  $('train-resume-text').textContent = `A training in this browser (${last.id}) stopped after epoch ${last.epochs.length} of ${last.planned}. Resume it from its checkpoint?`;
  $('train-resume').hidden = false;
  $('train-resume-yes').onclick = () => void trainInTab(last.id, last.request, last.data, true, last.epochs).catch((e: Error) => status(e.message));
  $('train-resume-no').onclick = () => {
    $('train-resume').hidden = true;
    void deleteRun(last.id);
  };
}

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
type Gallery = GalleryData;

/**
 * A model's gallery: the server's, the one kept with a model trained in this tab, or (on a static site)
 * computed here on the site's test set.
 */
async function galleryOf(shown: BrowserModel): Promise<Gallery> {
  if (shown.id.startsWith(TAB_PREFIX)) {
    const kept = (await getModel(shown.id.slice(TAB_PREFIX.length)))?.gallery;
    if (kept) return kept;
  }
  if (!STATIC_SITE && !shown.id.startsWith(TAB_PREFIX)) return (await getJson(`/api/models/${encodeURIComponent(shown.id)}/gallery`)) as Gallery;
  return computeGallery(shown.model, await loadManifestData(DATA_URL, status));
}

async function showGallery(): Promise<void> {
  if (!model) return;
  $('gallery-summary').textContent = `evaluating ${model.id} on the test set…`;
  const requested = model;
  const gallery = await galleryOf(model);
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

pageShown.set('train', () => void offerResume());

showPage();
refreshModels()
  .then(() => {
    document.body.dataset.ready = 'true';
  })
  .catch((error: Error) => status(`could not load a model: ${error.message}`));
