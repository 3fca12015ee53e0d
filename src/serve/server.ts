/**
 * The HTTP server: a JSON API (predict, read, models, training runs with live events, studies) and
 * the built browser app as static files, on Fastify. Built in stages: the application (schemas,
 * bounded bodies, JSON errors; http.ts), then each group of routes (routes/).
 */
import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { createKernels } from '../core/index.js';
import type { Kernels } from '../core/kernels.js';
import type { DatasetSplits } from '../data/dataset.js';
import { loadData } from '../data/source.js';
import { createApp } from './http.js';
import { ModelRegistry } from './models.js';
import { registerModelRoutes } from './routes/models.js';
import { registerReadingRoutes } from './routes/reading.js';
import { registerRunRoutes } from './routes/runs.js';
import { registerStudyRoutes } from './routes/studies.js';
import { registerWebApp } from './routes/web.js';
import { RunManager } from './runs.js';

export { IMAGE_BODY_LIMIT, SECURITY_HEADERS } from './http.js';

export interface ServerOptions {
  /** Model folders, and where trainings started from the page are written. */
  runsDir: string;
  /** Study folders (each with its study.sqlite). */
  studiesDir: string;
  /** The model used when a request names none (default: the newest under runsDir). */
  modelDir?: string;
  /** The built web app (default: dist/web of the package, when it exists). */
  webRoot?: string;
  /** Dataset for trainings and the gallery (default 'mnist', the bundled MNIST). */
  data?: string;
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

export async function createServer(options: ServerOptions): Promise<DigitServer> {
  const kernels = options.kernels ?? (await createKernels());
  const models = new ModelRegistry(options.runsDir, kernels);
  if (options.modelDir) await models.addDefault(options.modelDir);
  let data: DatasetSplits | null = null;
  const loadSplits = () => (data ??= loadData(options.data ?? 'mnist'));
  const runs = new RunManager(options.runsDir, loadSplits, options.maxRuns ?? 1);
  const streams = new Set<ServerResponse>();

  const app = createApp(options.logger ?? false);
  registerModelRoutes(app, models, loadSplits);
  registerReadingRoutes(app, models);
  registerRunRoutes(app, runs, streams);
  registerStudyRoutes(app, options.studiesDir);
  await registerWebApp(app, options.webRoot);

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
