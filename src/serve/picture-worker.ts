/**
 * A picture worker: decodes and prepares the pictures the server hands it (see picture-jobs.ts), so
 * a large picture never holds up the server's own thread. Rows are read with the model from the
 * job's folder, loaded once on one-thread kernels and reloaded when its weights change.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parentPort } from 'node:worker_threads';
import { createKernels } from '../core/index.js';
import type { Kernels } from '../core/kernels.js';
import { WEIGHTS_FILE } from '../io/model-files.js';
import { Classifier } from '../nn/classifier.js';
import { statusOf } from './errors.js';
import { digitInput, readRow, type PictureJob } from './picture-jobs.js';
import type { WorkerReply, WorkerRequest } from './pictures.js';

let kernels: Promise<Kernels> | null = null;
const models = new Map<string, { mtime: number; classifier: Promise<Classifier> }>();

async function classifier(dir: string): Promise<Classifier> {
  const mtime = (await stat(join(dir, WEIGHTS_FILE))).mtimeMs;
  const cached = models.get(dir);
  if (cached?.mtime === mtime) return cached.classifier;
  kernels ??= createKernels({ threads: 1 });
  const loading = kernels.then((k) => Classifier.load(k, dir));
  models.set(dir, { mtime, classifier: loading });
  loading.catch(() => models.delete(dir));
  return loading;
}

async function run(job: PictureJob): Promise<unknown> {
  if (job.kind === 'digit') return digitInput(job);
  return readRow(await classifier(job.modelDir), job);
}

parentPort?.on('message', (request: WorkerRequest) => {
  parentPort?.postMessage({ id: request.id, started: true } satisfies WorkerReply);
  run(request.job).then(
    (result) => parentPort?.postMessage({ id: request.id, ok: true, result } satisfies WorkerReply),
    (error: Error) => parentPort?.postMessage({ id: request.id, ok: false, status: statusOf(error), message: error.message } satisfies WorkerReply),
  );
});
