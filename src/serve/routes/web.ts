/** The browser app as static files, and the WebAssembly kernels it runs its models on. */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { HttpError } from '../errors.js';

/** Where the compiled kernels and the built app sit: three levels up from src/serve/routes, four from dist/src/serve/routes. */
function packageFile(...parts: string[]): string | null {
  for (const up of ['../../..', '../../../..']) {
    const path = fileURLToPath(new URL(`${up}/${parts.join('/')}`, import.meta.url));
    if (existsSync(path)) return path;
  }
  return null;
}

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
