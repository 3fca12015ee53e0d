/** The models: their list, each one's config and files (for the page's own inference), and its gallery of mistakes. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Dataset } from '../../data/dataset.js';
import { modelConfigToJson, validateModelConfig } from '../../io/model-config.js';
import { CONFIG_FILE, WEIGHTS_FILE } from '../../io/model-files.js';
import type { Classifier } from '../../nn/classifier.js';
import type { ModelRegistry } from '../models.js';
import { idParams } from './schemas.js';

/** The test split a model's gallery is computed on, and the `--data` spec it came from. */
export type GalleryData = (id: string, classifier: Classifier) => { spec: string; test: Dataset };

export function registerModelRoutes(app: FastifyInstance, models: ModelRegistry, galleryData: GalleryData): void {
  app.get('/api/models', async () => ({ models: await models.list() }));

  app.get<{ Params: { id: string } }>('/api/models/:id', { schema: { params: idParams } }, async (request) => {
    const { id } = request.params;
    const dir = await models.dir(id);
    // as version 2 whatever the file's version, so the page builds every model from one form
    const path = join(dir, CONFIG_FILE);
    const config = modelConfigToJson(validateModelConfig(JSON.parse(await readFile(path, 'utf8')), path));
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
}
