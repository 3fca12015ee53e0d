/** Training runs: start one, follow it as server-sent events, stop it. */
import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { PRESETS } from '../../io/layer-text.js';
import { OPTIMIZER_NAMES } from '../../optim/index.js';
import { completeRunRequest } from '../../train/run-request.js';
import { SECURITY_HEADERS } from '../http.js';
import type { RunManager } from '../runs.js';
import type { RunRequest } from '../../train/run-request.js';
import { idParams } from './schemas.js';

const runBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    hidden: { type: 'array', maxItems: 4, items: { type: 'integer', minimum: 1, maximum: 2048 } },
    activation: { type: 'string', enum: ['relu', 'sigmoid', 'tanh'] },
    layers: { type: 'string', minLength: 1, maxLength: 2000 },
    preset: { type: 'string', enum: Object.keys(PRESETS) },
    optimizer: { type: 'string', enum: [...OPTIMIZER_NAMES] },
    lr: { type: 'number', exclusiveMinimum: 0, maximum: 10 },
    // checked in full by the run manager (parseSchedule)
    schedule: { type: 'string', minLength: 1, maxLength: 60 },
    epochs: { type: 'integer', minimum: 1, maximum: 100 },
    batchSize: { type: 'integer', minimum: 1, maximum: 4096 },
    seed: { type: 'integer', minimum: 0, maximum: 2147483647 },
    trainImages: { type: 'integer', minimum: 100, maximum: 1000000 },
    // checked in full by the run manager (parseAugment): here only its size is bounded
    augment: {
      anyOf: [
        { type: 'string', maxLength: 40 },
        { type: 'null' },
        {
          type: 'object', additionalProperties: false, maxProperties: 2,
          properties: {
            affine: { anyOf: [{ type: 'boolean' }, { type: 'object', maxProperties: 4, additionalProperties: { type: 'number' } }] },
            elastic: { anyOf: [{ type: 'boolean' }, { type: 'object', maxProperties: 2, additionalProperties: { type: 'number' } }] },
          },
        },
      ],
    },
  },
} as const;

/** `streams` collects the open event streams, which the server ends when it closes. */
export function registerRunRoutes(app: FastifyInstance, runs: RunManager, streams: Set<ServerResponse>): void {
  app.get('/api/runs', async () => ({ runs: runs.list() }));

  app.post<{ Body: Partial<RunRequest> }>('/api/runs', { schema: { body: runBody } }, async (request, reply) => {
    const run = runs.start(completeRunRequest(request.body ?? {}));
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
}
