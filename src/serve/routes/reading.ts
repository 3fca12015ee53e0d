/**
 * Reading digits: POST /api/predict (one digit, as a picture or as the model's h × w pixels) and POST /api/read
 * (a row of digits in a picture). A picture's header is checked against the pixel limit before
 * anything is decoded (413 above it); small PNGs are then decoded here, everything else by the
 * picture workers, so a large picture never holds up other requests.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { checkImageSize } from '../../data/images.js';
import type { Classifier } from '../../nn/classifier.js';
import { HttpError } from '../errors.js';
import { IMAGE_BODY_LIMIT, IMAGE_TYPES } from '../http.js';
import type { ModelRegistry } from '../models.js';
import { digitInput, readRow, REQUEST_BODY, type PictureJob, type RowReading } from '../picture-jobs.js';
import type { PicturePool } from '../pictures.js';
import { clientKey } from '../rate-limit.js';
import { modelQuery } from './schemas.js';

/**
 * PNGs of at most this many pixels (256 × 256) are decoded on the server's thread: that takes about a
 * millisecond, less than a worker's round trip, and such a request never waits behind large ones.
 * JPEGs always go to a worker: a progressive one can hold thousands of scans over a small frame.
 */
export const INLINE_PIXELS = 65_536;

export interface ReadingOptions {
  models: ModelRegistry;
  pictures: PicturePool;
  /** The most pixels a picture may declare. */
  maxPixels: number;
}

const pixelsBody = {
  type: 'object',
  required: ['pixels'],
  additionalProperties: false,
  properties: {
    // as many as the model has inputs (784 for 28×28), checked against the model in the handler
    pixels: { type: 'array', minItems: 1, maxItems: 65536, items: { type: 'number', minimum: 0, maximum: 1 } },
  },
} as const;

function imageBody(request: FastifyRequest): Buffer {
  if (!Buffer.isBuffer(request.body)) throw new HttpError(415, `send the picture as ${IMAGE_TYPES.join(' or ')}`);
  if (request.body.length === 0) throw new HttpError(400, 'the body is empty: send a PNG or JPEG picture');
  return request.body;
}

export function registerReadingRoutes(app: FastifyInstance, { models, pictures, maxPixels }: ReadingOptions): void {
  async function classifierFor(request: FastifyRequest<{ Querystring: { model?: string } }>): Promise<{ id: string; classifier: Classifier }> {
    const id = await models.resolveId(request.query.model);
    const classifier = await models.classifier(id);
    return { id, classifier };
  }

  /** Runs `job` here (through `inline`) for a small PNG, else in a picture worker counted against the client. */
  function runPicture<T>(request: FastifyRequest, job: PictureJob, inline: () => T): Promise<T> {
    const size = checkImageSize(job.bytes, REQUEST_BODY, job.maxPixels);
    if (size?.type === 'png' && size.width * size.height <= INLINE_PIXELS) return Promise.resolve().then(inline);
    return pictures.run<T>(job, clientKey(request.ip));
  }

  app.post<{ Querystring: { model?: string }; Body: Buffer | { pixels: number[] } }>(
    '/api/predict',
    {
      bodyLimit: IMAGE_BODY_LIMIT,
      config: { prediction: true },
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
        const job = { kind: 'digit', bytes: imageBody(request), maxPixels, shape: { height, width } } as const;
        pixels = await runPicture(request, job, () => digitInput(job));
      } else {
        const count = request.body.pixels.length;
        if (count !== height * width) {
          throw new HttpError(400, `model ${id} reads ${height}×${width} images: send ${height * width} pixel values (row by row), not ${count}`);
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
      config: { prediction: true },
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { model: modelQuery.properties.model, digits: { type: 'string', pattern: '^[1-9][0-9]?$' } },
        },
      },
    },
    async (request) => {
      const bytes = imageBody(request);
      const { id, classifier } = await classifierFor(request);
      const started = performance.now();
      const digits = request.query.digits === undefined ? undefined : Number(request.query.digits);
      const job = { kind: 'row', bytes, maxPixels, modelDir: await models.dir(id), digits } as const;
      const result = await runPicture<RowReading>(request, job, () => readRow(classifier, job));
      return { model: id, ...result, ms: performance.now() - started };
    },
  );
}
