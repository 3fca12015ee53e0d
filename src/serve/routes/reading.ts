/** Reading digits: POST /api/predict (one digit, as a picture or as 784 pixels) and POST /api/read (a row of digits in a picture). */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { decodeGrayscale, preprocessDigit } from '../../data/images.js';
import type { Classifier } from '../../nn/classifier.js';
import { readDigits } from '../../read/read.js';
import { HttpError } from '../errors.js';
import { IMAGE_BODY_LIMIT, IMAGE_TYPES } from '../http.js';
import type { ModelRegistry } from '../models.js';
import { modelQuery } from './schemas.js';

const pixelsBody = {
  type: 'object',
  required: ['pixels'],
  additionalProperties: false,
  properties: {
    pixels: { type: 'array', minItems: 784, maxItems: 784, items: { type: 'number', minimum: 0, maximum: 1 } },
  },
} as const;

function imageBody(request: FastifyRequest): Buffer {
  if (!Buffer.isBuffer(request.body)) throw new HttpError(415, `send the picture as ${IMAGE_TYPES.join(' or ')}`);
  if (request.body.length === 0) throw new HttpError(400, 'the body is empty: send a PNG or JPEG picture');
  return request.body;
}

export function registerReadingRoutes(app: FastifyInstance, models: ModelRegistry): void {
  async function classifierFor(request: FastifyRequest<{ Querystring: { model?: string } }>): Promise<{ id: string; classifier: Classifier }> {
    const id = await models.resolveId(request.query.model);
    const classifier = await models.classifier(id);
    const [h, w] = classifier.config.inputShape;
    if (h !== 28 || w !== 28) throw new HttpError(422, `model ${id} reads ${h}×${w} images; digit pictures are prepared as 28×28`);
    return { id, classifier };
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
      let pixels: Float32Array;
      if (Buffer.isBuffer(request.body)) {
        const image = decodeGrayscale(imageBody(request), 'the request body');
        pixels = preprocessDigit(image.data, image.width, image.height);
      } else {
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
      const image = decodeGrayscale(bytes, 'the request body');
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
}
