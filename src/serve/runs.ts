/**
 * Training runs started over HTTP: each is a TrainingRun on its own kernels (so its memory is freed
 * with it), writing a model folder under the runs folder, with its events kept in order so a page
 * that subscribes late (or reconnects) still sees the whole curve.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createKernels } from '../core/index.js';
import { sliceDataset, type DatasetSplits } from '../data/dataset.js';
import { writeFileAtomic } from '../io/atomic.js';
import { describeModel } from '../io/model-spec.js';
import { trainAndSave } from '../train/model-config.js';
import { RunRequestError, runSettings, type RunRequest } from '../train/run-request.js';
import { TrainingAbortedError, TrainingRun, type TrainSettings } from '../train/trainer.js';
import { HttpError } from './errors.js';

export type { RunRequest } from '../train/run-request.js';

export type RunStatus = 'running' | 'done' | 'stopped' | 'failed';

export interface RunEvent {
  /** SSE event name: start, progress, epoch, done, stopped, failed. */
  type: string;
  data: Record<string, unknown>;
}

export interface RunInfo {
  id: string;
  status: RunStatus;
  request: RunRequest;
  /** The model id of the finished model (the run's folder name). */
  model: string | null;
  epochs: Array<Record<string, unknown>>;
}

type Listener = (event: RunEvent) => void;

interface Run {
  id: string;
  request: RunRequest;
  status: RunStatus;
  events: RunEvent[];
  listeners: Set<Listener>;
  controller: AbortController;
  finished: Promise<void>;
}

/** An id that is not one of the server's runs. */
export class UnknownRunError extends Error {
  override readonly name = 'UnknownRunError';
  readonly statusCode = 404;
  constructor(id: string) {
    super(`no training run with id ${JSON.stringify(id)}: GET /api/runs lists them`);
  }
}

/** More trainings at once than the server allows (they share the machine's cores). */
export class TooManyRunsError extends Error {
  override readonly name = 'TooManyRunsError';
  readonly statusCode = 429;
  constructor(limit: number) {
    super(`${limit} training run(s) already running: stop one (DELETE /api/runs/:id) or wait for it to finish`);
  }
}

export class RunManager {
  private readonly runs = new Map<string, Run>();
  private counter = 0;
  private closing = false;

  constructor(
    private readonly runsDir: string,
    private readonly data: () => DatasetSplits,
    private readonly maxConcurrent = 1,
  ) {}

  list(): RunInfo[] {
    return [...this.runs.values()].map((run) => this.info(run));
  }

  get(id: string): RunInfo {
    return this.info(this.find(id));
  }

  private find(id: string): Run {
    const run = this.runs.get(id);
    if (!run) throw new UnknownRunError(id);
    return run;
  }

  private info(run: Run): RunInfo {
    const done = run.events.find((e) => e.type === 'done');
    return {
      id: run.id,
      status: run.status,
      request: run.request,
      model: done ? (done.data.model as string) : null,
      epochs: run.events.filter((e) => e.type === 'epoch').map((e) => e.data),
    };
  }

  start(request: RunRequest): RunInfo {
    if (this.closing) throw Object.assign(new Error('the server is shutting down'), { statusCode: 503 });
    // a bad layer list, augmentation or schedule is the request's fault, answered before anything starts
    const settings = this.settingsOf(request);
    const running = [...this.runs.values()].filter((r) => r.status === 'running').length;
    if (running >= this.maxConcurrent) throw new TooManyRunsError(this.maxConcurrent);
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
    const id = `web-${stamp}-${++this.counter}`;
    const run: Run = {
      id,
      request,
      status: 'running',
      events: [],
      listeners: new Set(),
      controller: new AbortController(),
      finished: Promise.resolve(),
    };
    this.runs.set(id, run);
    run.finished = this.train(run, settings).catch((error: Error) => {
      run.status = 'failed';
      this.publish(run, { type: 'failed', data: { message: error.message } });
    });
    return this.info(run);
  }

  /** Asks a run to stop; it ends at the next batch, keeping its last epoch's checkpoint. */
  stop(id: string): RunInfo {
    const run = this.find(id);
    run.controller.abort();
    return this.info(run);
  }

  /**
   * Calls `listener` with every event so far, then with each new one; returns the unsubscribe
   * function. `ended` is true when the run will send nothing more.
   */
  subscribe(id: string, listener: Listener): { unsubscribe: () => void; ended: boolean } {
    const run = this.find(id);
    for (const event of run.events) listener(event);
    if (run.status !== 'running') return { unsubscribe: () => {}, ended: true };
    run.listeners.add(listener);
    return { unsubscribe: () => run.listeners.delete(listener), ended: false };
  }

  /** Stops every running training (each keeps its last checkpoint) and waits for them to wind down. */
  async close(): Promise<void> {
    this.closing = true;
    for (const run of this.runs.values()) if (run.status === 'running') run.controller.abort();
    await Promise.all([...this.runs.values()].map((run) => run.finished));
  }

  private publish(run: Run, event: RunEvent): void {
    run.events.push(event);
    for (const listener of run.listeners) listener(event);
    if (event.type === 'done' || event.type === 'stopped' || event.type === 'failed') run.listeners.clear();
  }

  /** The settings of a request, checked against the server's images; a bad request is an HttpError 400 naming the field. */
  private settingsOf(request: RunRequest): TrainSettings {
    try {
      return runSettings(request, this.data().train);
    } catch (error) {
      if (error instanceof RunRequestError) throw new HttpError(400, error.message);
      throw error;
    }
  }

  private async train(run: Run, settings: TrainSettings): Promise<void> {
    const { request } = run;
    const dir = join(this.runsDir, run.id);
    await mkdir(dir, { recursive: true });
    const full = this.data();
    const limit = request.trainImages;
    const data: DatasetSplits = limit && limit < full.train.count ? { ...full, train: sliceDataset(full.train, 0, limit) } : full;
    const checkpointPath = join(dir, 'checkpoint.safetensors');
    // One kernel thread: the server's other core stays free to answer requests while a run trains.
    const kernels = await createKernels({ threads: 1 });
    const training = new TrainingRun({ kernels, data, settings, checkpointPath, signal: run.controller.signal });
    this.publish(run, {
      type: 'start',
      data: { id: run.id, network: describeModel(training.model.spec), params: training.model.parameterCount, epochs: settings.epochs, trainImages: data.train.count },
    });
    let lastProgress = 0;
    training.on('batchEnd', (e) => {
      // a few progress events a second are enough for a progress bar; every batch would flood the stream
      const now = performance.now();
      if (now - lastProgress < 250 && e.batch !== e.batches) return;
      lastProgress = now;
      this.publish(run, { type: 'progress', data: { epoch: e.epoch, batch: e.batch, batches: e.batches, loss: e.loss } });
    });
    let lastCheckpoint: { path: string; epoch: number } | null = null;
    training.on('checkpoint', (e) => (lastCheckpoint = e));
    training.on('epochEnd', (e) => this.publish(run, { type: 'epoch', data: { ...e } }));
    try {
      const { result } = await trainAndSave(training, dir, { extra: { trainImages: data.train.count } });
      await writeFileAtomic(join(dir, 'result.json'), JSON.stringify({ test_accuracy: result.test.accuracy, epochs: result.epochs }, null, 2) + '\n');
      run.status = 'done';
      this.publish(run, { type: 'done', data: { model: run.id, testAccuracy: result.test.accuracy, testLoss: result.test.loss, seconds: result.seconds } });
    } catch (error) {
      if (!(error instanceof TrainingAbortedError)) throw error;
      run.status = 'stopped';
      const checkpoint = lastCheckpoint as { path: string; epoch: number } | null;
      this.publish(run, {
        type: 'stopped',
        data: {
          message: error.message,
          checkpoint: checkpoint ? checkpoint.path : null,
          checkpointEpoch: checkpoint ? checkpoint.epoch : 0,
        },
      });
    }
  }
}
