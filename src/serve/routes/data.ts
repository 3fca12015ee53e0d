/** The training data for a page that trains in the browser: a manifest and gzip IDX files (data-files.ts). */
import type { FastifyInstance } from 'fastify';
import type { DatasetSplits } from '../../data/dataset.js';
import { buildDataFiles, DATA_FILES, type DataFiles } from '../data-files.js';

export function registerDataRoutes(app: FastifyInstance, data: () => DatasetSplits): void {
  // built on first request and kept: the data of a server does not change while it runs
  let built: Promise<DataFiles> | null = null;
  const files = () => (built ??= buildDataFiles(data()).catch((error: Error) => {
    built = null;
    throw error;
  }));

  app.get('/api/data/', async (_request, reply) => {
    const { manifest } = await files();
    return reply.header('cache-control', 'no-cache').send(manifest);
  });

  app.get<{ Params: { file: string } }>(
    '/api/data/:file',
    { schema: { params: { type: 'object', required: ['file'], properties: { file: { type: 'string', enum: [...DATA_FILES] } } } } },
    async (request, reply) => {
      const { manifest, files: bytes } = await files();
      const file = bytes.get(request.params.file) as Uint8Array;
      const etag = `"${manifest.id}"`;
      if (request.headers['if-none-match'] === etag) return reply.status(304).send();
      return reply
        .type('application/gzip')
        .header('etag', etag)
        .header('cache-control', 'no-cache')
        .send(Buffer.from(file.buffer, file.byteOffset, file.length));
    },
  );
}
