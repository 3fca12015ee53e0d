/**
 * Training in this browser: a dedicated worker runs the library's TrainingRun on the WebAssembly
 * kernels, its own thread plus Web Workers of the kernel pool sharing their memory, as Node does. It
 * loads the data itself, keeps a checkpoint in IndexedDB after every epoch, and answers the page with
 * the messages of train-protocol.ts.
 */
import {
  completeRunRequest, describeModel, encodeSafetensors, loadBrowserKernels, modelConfigToJson,
  resultMetrics, runSettings, sliceDataset, trainedModelConfig, TrainingAbortedError, TrainingRun, type DatasetSplits, type Kernels, type TrainSettings,
} from '../../src/browser.js';
import { loadIdxFiles, loadManifestData } from './browser-data.js';
import { computeGallery } from './gallery.js';
import { checkpointHistory, checkpointStore, getRun, putRun, type StoredRun } from './store.js';
import type { DataChoice, FromWorker, ToWorker } from './train-protocol.js';

const scope = globalThis as unknown as { postMessage(message: FromWorker, transfer?: Transferable[]): void; onmessage: ((event: MessageEvent<ToWorker>) => void) | null };
const send = (message: FromWorker, transfer: Transferable[] = []) => scope.postMessage(message, transfer);

let controller: AbortController | null = null;
const loaded = new Map<string, Promise<DatasetSplits>>();

function dataOf(choice: DataChoice): Promise<DatasetSplits> {
  if (choice.kind === 'files') return loadIdxFiles(choice.files);
  let found = loaded.get(choice.url);
  if (!found) {
    found = loadManifestData(choice.url, (text) => send({ type: 'status', text }));
    found.catch(() => loaded.delete(choice.url));
    loaded.set(choice.url, found);
  }
  return found;
}

async function start(message: Extract<ToWorker, { type: 'start' }>, signal: AbortSignal): Promise<void> {
  const request = completeRunRequest(message.request);
  send({ type: 'status', text: 'loading the data…' });
  const data = await dataOf(message.data);
  const limit = request.trainImages;
  const used: DatasetSplits = limit && limit < data.train.count ? { ...data, train: sliceDataset(data.train, 0, limit) } : data;
  const settings = runSettings(request, used.train);
  send({ type: 'status', text: 'loading the kernels…' });
  // kernels of its own for each run (their memory only grows), closed with it, as the server does
  const k = await loadBrowserKernels(message.kernels, { threads: message.threads });
  try {
    await train(message, used, settings, k, signal);
  } finally {
    await k.close();
  }
}

async function train(
  message: Extract<ToWorker, { type: 'start' }>, used: DatasetSplits, settings: TrainSettings, k: Kernels, signal: AbortSignal,
): Promise<void> {
  const { id } = message;
  const record: StoredRun = (message.resume ? await getRun(id) : undefined) ?? {
    id, request: message.request, data: message.data, epochs: [], planned: settings.epochs, status: 'running', updated: Date.now(),
  };
  record.status = 'running';
  await putRun(record);
  // each checkpoint is written with the run's record of the epochs it holds, in one transaction
  const store = checkpointStore(id, (bytes) => {
    record.epochs = checkpointHistory(bytes);
    record.updated = Date.now();
    return { ...record };
  });
  const run = new TrainingRun({ kernels: k, data: used, settings, checkpointStore: store, resume: message.resume, signal });
  let resumedEpoch = 0;
  run.on('resumed', (e) => (resumedEpoch = e.epoch));
  let lastProgress = 0;
  let epochStarted = performance.now();
  run.on('epochStart', () => (epochStarted = performance.now()));
  run.on('batchEnd', (e) => {
    // a few progress messages a second are enough for a progress line
    const now = performance.now();
    if (now - lastProgress < 200 && e.batch !== e.batches) return;
    lastProgress = now;
    send({ type: 'progress', epoch: e.epoch, batch: e.batch, batches: e.batches, loss: e.loss, samplesPerSecond: (e.samples * 1000) / Math.max(1, now - epochStarted) });
  });
  run.on('epochEnd', (e) => send({ type: 'epoch', record: e }));
  const started = { network: describeModel(run.model.spec), params: run.model.parameterCount, trainImages: used.train.count, epochs: settings.epochs, threads: k.threads, kernels: k.name };
  // the resumed epoch is known once run() has read the checkpoint: announce after the first event of the run
  let announced = false;
  const announce = () => {
    if (announced) return;
    announced = true;
    send({ type: 'start', ...started, resumedEpoch });
  };
  run.on('epochStart', announce);
  try {
    const result = await run.run();
    announce();
    const config = modelConfigToJson(trainedModelConfig(used, settings, result.best_epoch, resultMetrics(result), { trainImages: used.train.count, trainedIn: 'browser' }));
    const weights = encodeSafetensors(run.model.toTensors(), { format: 'pt' });
    // this tab's own epochs (a resumed run's earlier ones were timed before the reload)
    const own = result.epochs.slice(resumedEpoch);
    const seconds = own.reduce((sum, e) => sum + e.seconds, 0);
    record.status = 'done';
    record.updated = Date.now();
    await putRun(record);
    send({
      type: 'done', config, weights: weights.buffer as ArrayBuffer, testAccuracy: result.test.accuracy, testLoss: result.test.loss, seconds: result.seconds,
      samplesPerSecond: seconds > 0 ? (used.train.count * own.length) / seconds : 0, gallery: computeGallery(run.model, used),
    }, [weights.buffer as ArrayBuffer]);
  } catch (error) {
    if (error instanceof TrainingAbortedError) {
      record.status = 'stopped';
      await putRun(record);
      send({ type: 'stopped', message: error.message, checkpointEpoch: record.epochs.length });
      return;
    }
    throw error;
  }
}

scope.onmessage = (event) => {
  const message = event.data;
  if (message.type === 'stop') {
    controller?.abort();
    return;
  }
  if (controller) {
    send({ type: 'failed', message: 'a training is already running in this tab: stop it first' });
    return;
  }
  controller = new AbortController();
  start(message, controller.signal)
    .catch((error: Error) => send({ type: 'failed', message: error.message }))
    .finally(() => (controller = null));
};
