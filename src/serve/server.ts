/**
 * The HTTP server: a JSON API (predict, read, models, training runs with live events, studies) and
 * the built browser app as static files, on Fastify. Every input is schema-checked, bodies are
 * bounded, and every error is JSON with a message and a fitting status.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { STATUS_CODES, type ServerResponse } from 'node:http';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { createKernels } from '../core/index.js';
import type { Kernels } from '../core/kernels.js';
import type { Dataset, DatasetSplits } from '../data/dataset.js';
import { DataSourceError } from '../data/errors.js';
import { decodeGrayscale } from '../data/images.js';
import { preprocessDigit } from '../data/preprocess.js';
import { loadData } from '../data/source.js';
import { CONFIG_FILE, WEIGHTS_FILE } from '../io/model-files.js';
import type { Classifier } from '../nn/classifier.js';
import { OPTIMIZER_NAMES } from '../optim/index.js';
import { readDigits } from '../read/read.js';
import { openStudy } from '../study/results.js';
import { trialTable } from '../study/report.js';
import { STUDY_DATABASE } from '../study/storage.js';
import { modelData } from '../train/model-config.js';
import { ID_PATTERN, ModelRegistry } from './models.js';
import { RunManager, type RunRequest } from './runs.js';

export interface ServerOptions {
  /** Model folders, and where trainings started from the page are written. */
  runsDir: string;
  /** Study folders (each with its study.sqlite). */
  studiesDir: string;
  /** The model used when a request names none (default: the newest under runsDir). */
  modelDir?: string;
  /** The built web app (default: dist/web of the package, when it exists). */
  webRoot?: string;
  /**
   * Dataset for trainings started from the page (default 'mnist', the bundled MNIST); also the
   * gallery's for a model that does not record the data it was trained on.
   */
  data?: string;
  /** Dataset every model's gallery is computed on (default: the data each model was trained on). */
  evaluationData?: string;
  kernels?: Kernels;
  /** Fastify's logger (default off). */
  logger?: boolean;
  /** Trainings allowed at once (default 1: they share the machine's cores). */
  maxRuns?: number;
}

export interface DigitServer {
  app: FastifyInstance;
  models: ModelRegistry;
  runs: RunManager;
  /** Listens on host:port (port 0 picks a free one) and returns the base URL. */
  listen(port: number, host?: string): Promise<string>;
  /** Graceful shutdown: stops running trainings (each keeps its last checkpoint), ends event streams, closes. */
  close(): Promise<void>;
}

/** Pictures are small; 10 MiB covers a phone photo and refuses anything meant to exhaust memory. */
export const IMAGE_BODY_LIMIT = 10 * 1024 * 1024;
const JSON_BODY_LIMIT = 256 * 1024;
const IMAGE_TYPES = ['image/png', 'image/jpeg'];

/**
 * Cross-origin isolation (COOP + COEP) lets the page use SharedArrayBuffer, which the WebAssembly
 * kernels' shared memory needs; the content security policy keeps every request on this server.
 */
export const SECURITY_HEADERS: Record<string, string> = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
  'cross-origin-resource-policy': 'same-origin',
  'x-content-type-options': 'nosniff',
  'content-security-policy':
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
};

/** Where the compiled kernels and the built app sit: two levels up from src/serve, three from dist/src/serve. */
function packageFile(...parts: string[]): string | null {
  for (const up of ['../..', '../../..']) {
    const path = fileURLToPath(new URL(`${up}/${parts.join('/')}`, import.meta.url));
    if (existsSync(path)) return path;
  }
  return null;
}

const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: ID_PATTERN } },
} as const;

const modelQuery = {
  type: 'object',
  properties: { model: { type: 'string', pattern: ID_PATTERN } },
  additionalProperties: false,
} as const;

const pixelsBody = {
  type: 'object',
  required: ['pixels'],
  additionalProperties: false,
  properties: {
    // as many as the model has inputs (784 for 28×28), checked against the model in the handler
    pixels: { type: 'array', minItems: 1, maxItems: 65536, items: { type: 'number', minimum: 0, maximum: 1 } },
  },
} as const;

const runBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    hidden: { type: 'array', maxItems: 4, items: { type: 'integer', minimum: 1, maximum: 2048 } },
    activation: { type: 'string', enum: ['relu', 'sigmoid', 'tanh'] },
    optimizer: { type: 'string', enum: [...OPTIMIZER_NAMES] },
    lr: { type: 'number', exclusiveMinimum: 0, maximum: 10 },
    epochs: { type: 'integer', minimum: 1, maximum: 100 },
    batchSize: { type: 'integer', minimum: 1, maximum: 4096 },
    seed: { type: 'integer', minimum: 0, maximum: 2147483647 },
    trainImages: { type: 'integer', minimum: 100, maximum: 1000000 },
  },
} as const;

interface HttpError extends Error {
  statusCode?: number;
  validation?: unknown;
  code?: string;
}

function httpError(statusCode: number, message: string): HttpError {
  return Object.assign(new Error(message), { statusCode });
}

export async function createServer(options: ServerOptions): Promise<DigitServer> {
  const kernels = options.kernels ?? (await createKernels());
  const models = new ModelRegistry(options.runsDir, kernels);
  if (options.modelDir) await models.addDefault(options.modelDir);
  // Each dataset is loaded once, when first needed, and kept.
  const datasets = new Map<string, DatasetSplits>();
  const loadCached = (spec: string, validation?: number): DatasetSplits => {
    const key = `${spec}\n${validation ?? ''}`;
    let splits = datasets.get(key);
    if (!splits) {
      splits = loadData(spec, { validation });
      datasets.set(key, splits);
    }
    return splits;
  };
  const trainingData = options.data ?? 'mnist';
  const runs = new RunManager(options.runsDir, () => loadCached(trainingData), options.maxRuns ?? 1);

  /** The test split a model's gallery is computed on: its own training data unless the server was given one. */
  const galleryData = (id: string, classifier: Classifier): { spec: string; test: Dataset } => {
    const choice = modelData(classifier.config, options.evaluationData, trainingData);
    let test: Dataset;
    try {
      test = loadCached(choice.spec, choice.validation).test;
    } catch (error) {
      if (choice.origin !== 'recorded' || !(error instanceof DataSourceError)) throw error;
      throw httpError(422, `model ${id} was trained on ${choice.spec}, which cannot be loaded: ${error.message}; start the server with --data SOURCE to evaluate every model on that data`);
    }
    const [h, w] = classifier.config.inputShape;
    if (test.height !== h || test.width !== w || test.classes > classifier.config.classes) {
      throw httpError(422, `model ${id} reads ${h}×${w} images into ${classifier.config.classes} classes; ${choice.spec} has ${test.height}×${test.width} images in ${test.classes} classes`);
    }
    return { spec: choice.spec, test };
  };
  const streams = new Set<ServerResponse>();

  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: JSON_BODY_LIMIT,
    // strict validation: "0.5" is not a number and null is not 0
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    return503OnClosing: true,
  });

  // Only JSON and pictures are accepted: anything else is refused with 415 before a handler runs.
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser(IMAGE_TYPES, { parseAs: 'buffer', bodyLimit: IMAGE_BODY_LIMIT }, (_request, body, done) => done(null, body));

  app.addHook('onSend', async (_request, reply, payload) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) reply.header(name, value);
    return payload;
  });

  app.setErrorHandler((error: HttpError, request, reply) => {
    let status = error.statusCode ?? 500;
    if (error.validation) status = 400;
    if (error.name === 'ImageDecodeError' || error.name === 'SafetensorsFormatError') status = 400;
    if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') status = 415;
    if (status >= 500) request.log.error(error);
    let message = error.validation ? `invalid request: ${error.message}` : error.message;
    if (status === 415) message = `content type ${JSON.stringify(request.headers['content-type'] ?? 'none')} is not accepted: send application/json, ${IMAGE_TYPES.join(' or ')}`;
    void reply.status(status).send({ error: STATUS_CODES[status] ?? 'Error', message, statusCode: status });
  });

  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({ error: 'Not Found', message: `no such resource: ${request.method} ${request.url.split('?')[0]}`, statusCode: 404 });
  });

  // ---- models ----
  app.get('/api/models', async () => ({ models: await models.list() }));

  app.get<{ Params: { id: string } }>('/api/models/:id', { schema: { params: idParams } }, async (request) => {
    const { id } = request.params;
    const dir = await models.dir(id);
    const config = JSON.parse(await readFile(join(dir, CONFIG_FILE), 'utf8')) as unknown;
    const base = `/api/models/${encodeURIComponent(id)}/files`;
    return { id, config, files: { config: `${base}/${CONFIG_FILE}`, weights: `${base}/${WEIGHTS_FILE}` } };
  });

  app.get<{ Params: { id: string; file: string } }>(
    '/api/models/:id/files/:file',
    {
      schema: {
        params: { ...idParams, required: ['id', 'file'], properties: { ...idParams.properties, file: { type: 'string', enum: [CONFIG_FILE, WEIGHTS_FILE] } } },
      },
    },
    async (request, reply) => {
      const dir = await models.dir(request.params.id);
      const bytes = await readFile(join(dir, request.params.file));
      return reply.type(request.params.file === CONFIG_FILE ? 'application/json' : 'application/octet-stream').send(bytes);
    },
  );

  app.get<{ Params: { id: string } }>('/api/models/:id/gallery', { schema: { params: idParams } }, async (request) =>
    models.gallery(request.params.id, galleryData),
  );

  // ---- reading digits ----
  async function classifierFor(request: FastifyRequest<{ Querystring: { model?: string } }>): Promise<{ id: string; classifier: Classifier }> {
    const id = await models.resolveId(request.query.model);
    const classifier = await models.classifier(id);
    return { id, classifier };
  }

  function imageBody(request: FastifyRequest): Buffer {
    if (!Buffer.isBuffer(request.body)) throw httpError(415, `send the picture as ${IMAGE_TYPES.join(' or ')}`);
    if (request.body.length === 0) throw httpError(400, 'the body is empty: send a PNG or JPEG picture');
    return request.body;
  }

  app.post<{ Querystring: { model?: string }; Body: Buffer | { pixels: number[] } }>(
    '/api/predict',
    {
      bodyLimit: IMAGE_BODY_LIMIT,
      schema: {
        querystring: modelQuery,
        body: { content: { 'application/json': { schema: pixelsBody } } },
      },
    },
    async (request) => {
      const { id, classifier } = await classifierFor(request);
      const started = performance.now();
      const [height, width] = classifier.inputShape;
      let pixels: Float32Array;
      if (Buffer.isBuffer(request.body)) {
        const image = decodeGrayscale(imageBody(request), 'the request body');
        pixels = preprocessDigit(image.data, image.width, image.height, { height, width });
      } else {
        const count = request.body.pixels.length;
        if (count !== height * width) {
          throw httpError(400, `model ${id} reads ${height}×${width} images: send ${height * width} pixel values (row by row), not ${count}`);
        }
        pixels = Float32Array.from(request.body.pixels);
      }
      const prediction = classifier.predict(pixels);
      const ms = performance.now() - started;
      return {
        model: id,
        digit: prediction.digit,
        label: classifier.label(prediction.digit),
        confidence: prediction.probabilities[prediction.digit],
        probabilities: prediction.probabilities,
        ms,
      };
    },
  );

  app.post<{ Querystring: { model?: string; digits?: string }; Body: Buffer }>(
    '/api/read',
    {
      bodyLimit: IMAGE_BODY_LIMIT,
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { model: modelQuery.properties.model, digits: { type: 'string', pattern: '^[1-9][0-9]?$' } },
        },
      },
    },
    async (request) => {
      const body = imageBody(request);
      const { id, classifier } = await classifierFor(request);
      const started = performance.now();
      const image = decodeGrayscale(body, 'the request body');
      const digits = request.query.digits === undefined ? undefined : Number(request.query.digits);
      const result = readDigits(classifier, image.data, image.width, image.height, { digits });
      const ms = performance.now() - started;
      return {
        model: id,
        text: result.text,
        digits: result.digits.map((d) => ({ digit: d.digit, label: d.label, confidence: d.confidence, probabilities: d.probabilities, box: d.box, split: d.split, components: d.components })),
        ms,
      };
    },
  );

  // ---- the WebAssembly kernels, for inference in the page ----
  app.get<{ Params: { file: string } }>(
    '/api/kernels/:file',
    { schema: { params: { type: 'object', required: ['file'], properties: { file: { type: 'string', enum: ['kernels-simd.wasm', 'kernels-relaxed.wasm'] } } } } },
    async (request, reply) => {
      const path = packageFile('build', request.params.file);
      if (!path) throw httpError(404, `build/${request.params.file} is missing: run \`npm run build\``);
      return reply.type('application/wasm').header('cache-control', 'no-cache').send(await readFile(path));
    },
  );

  // ---- training runs ----
  app.get('/api/runs', async () => ({ runs: runs.list() }));

  app.post<{ Body: Partial<RunRequest> }>('/api/runs', { schema: { body: runBody } }, async (request, reply) => {
    const body = request.body ?? {};
    const run = runs.start({
      hidden: body.hidden ?? [128],
      activation: body.activation ?? 'relu',
      optimizer: body.optimizer ?? 'adam',
      lr: body.lr ?? (body.optimizer === 'sgd' || body.optimizer === 'adagrad' ? 0.01 : 0.001),
      epochs: body.epochs ?? 3,
      batchSize: body.batchSize ?? 64,
      seed: body.seed ?? 0,
      trainImages: body.trainImages,
    });
    return reply.status(201).header('location', `/api/runs/${run.id}`).send({ ...run, events: `/api/runs/${run.id}/events` });
  });

  app.get<{ Params: { id: string } }>('/api/runs/:id', { schema: { params: idParams } }, async (request) => runs.get(request.params.id));

  app.delete<{ Params: { id: string } }>('/api/runs/:id', { schema: { params: idParams } }, async (request, reply) =>
    reply.status(202).send(runs.stop(request.params.id)),
  );

  app.get<{ Params: { id: string } }>('/api/runs/:id/events', { schema: { params: idParams } }, async (request, reply: FastifyReply) => {
    runs.get(request.params.id); // 404 before the stream starts
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
    streams.add(raw);
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      streams.delete(raw);
      raw.end();
    };
    const subscription = runs.subscribe(request.params.id, (event) => {
      raw.write(`event: ${event.type}\ndata: ${JSON.stringify(event.data)}\n\n`);
      if (event.type === 'done' || event.type === 'stopped' || event.type === 'failed') setImmediate(end);
    });
    if (subscription.ended) end();
    raw.on('close', () => {
      subscription.unsubscribe();
      streams.delete(raw);
    });
  });

  // ---- studies ----
  async function studyDirs(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(options.studiesDir);
    } catch {
      return [];
    }
    const pattern = new RegExp(ID_PATTERN);
    return names.filter((name) => pattern.test(name) && existsSync(join(options.studiesDir, name, STUDY_DATABASE))).sort();
  }

  app.get('/api/studies', async () => {
    const studies = [];
    for (const id of await studyDirs()) {
      try {
        const results = openStudy(join(options.studiesDir, id));
        studies.push({ id, name: results.name, state: results.state, trials: results.trials.length, updatedAt: results.updatedAt, best: results.summary.best?.label ?? null });
      } catch (error) {
        studies.push({ id, name: id, state: 'unreadable', trials: 0, updatedAt: null, best: null, error: (error as Error).message });
      }
    }
    return { studies };
  });

  app.get<{ Params: { id: string } }>('/api/studies/:id', { schema: { params: idParams } }, async (request) => {
    const { id } = request.params;
    if (!(await studyDirs()).includes(id)) throw httpError(404, `no study with id ${JSON.stringify(id)}: GET /api/studies lists them`);
    const results = openStudy(join(options.studiesDir, id));
    return { id, ...results, path: undefined, table: trialTable(results) };
  });

  // ---- the browser app ----
  const webRoot = options.webRoot ?? packageFile('dist', 'web');
  if (webRoot && existsSync(join(webRoot, 'index.html'))) {
    await app.register(fastifyStatic, { root: resolve(webRoot), prefix: '/', index: 'index.html' });
  } else {
    app.get('/', async (_request, reply) =>
      reply.status(503).type('text/plain').send('The web app is not built: run `npm run build`. The API is served under /api/.\n'),
    );
  }

  return {
    app,
    models,
    runs,
    async listen(port: number, host = '127.0.0.1') {
      const address = await app.listen({ port, host });
      return address.replace('[::1]', 'localhost');
    },
    async close() {
      await runs.close();
      for (const stream of streams) stream.end();
      await app.close();
    },
  };
}
