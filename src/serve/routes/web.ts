/** The browser app as static files, and the WebAssembly kernels it runs its models on. */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { packageFile } from '../../io/package-files.js';
import { HttpError } from '../errors.js';

/** Serves `webRoot` (default: dist/web of the package, when it is built) at /. */
export async function registerWebApp(app: FastifyInstance, webRoot: string | undefined): Promise<void> {
  app.get<{ Params: { file: string } }>(
    '/api/kernels/:file',
    { schema: { params: { type: 'object', required: ['file'], properties: { file: { type: 'string', enum: ['kernels-simd.wasm', 'kernels-relaxed.wasm'] } } } } },
    async (request, reply) => {
      const path = packageFile('build', request.params.file);
      if (!path) throw new HttpError(404, `build/${request.params.file} is missing: run \`npm run build\``);
      return reply.type('application/wasm').header('cache-control', 'no-cache').send(await readFile(path));
    },
  );

  const root = webRoot ?? packageFile('dist', 'web');
  if (root && existsSync(join(root, 'index.html'))) {
    await app.register(fastifyStatic, { root: resolve(root), prefix: '/', index: 'index.html' });
  } else {
    app.get('/', async (_request, reply) =>
      reply.status(503).type('text/plain').send('The web app is not built: run `npm run build`. The API is served under /api/.\n'),
    );
  }
}
