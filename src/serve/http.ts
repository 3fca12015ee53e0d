/**
 * The Fastify application every route is registered on: strict schemas, bounded bodies, JSON and
 * pictures only, the security headers on every answer, and every error as JSON with a message and a
 * fitting status.
 */
import { STATUS_CODES } from 'node:http';
import Fastify, { type FastifyInstance } from 'fastify';
import { AccessDeniedError } from './access.js';
import { HttpError, statusOf } from './errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * A route that computes predictions: open to every client without the access token (it changes
     * nothing), and rate-limited per client instead.
     */
    prediction?: boolean;
  }
}

/** Pictures are small; 10 MiB covers a phone photo and refuses anything meant to exhaust memory. */
export const IMAGE_BODY_LIMIT = 10 * 1024 * 1024;
const JSON_BODY_LIMIT = 256 * 1024;
export const IMAGE_TYPES = ['image/png', 'image/jpeg'];

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

interface FastifyLikeError extends Error {
  validation?: unknown;
  code?: string;
}

export function createApp(logger: boolean): FastifyInstance {
  const app = Fastify({
    logger,
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

  app.setErrorHandler((error: FastifyLikeError, request, reply) => {
    let status = error.validation ? 400 : statusOf(error);
    if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') status = 415;
    if (status >= 500) request.log.error(error);
    let message = error.validation ? `invalid request: ${error.message}` : error.message;
    if (status === 415) message = `content type ${JSON.stringify(request.headers['content-type'] ?? 'none')} is not accepted: send application/json, ${IMAGE_TYPES.join(' or ')}`;
    if (error instanceof HttpError && error.retryAfter !== undefined) void reply.header('retry-after', String(Math.max(1, Math.ceil(error.retryAfter))));
    if (error instanceof AccessDeniedError) void reply.header('www-authenticate', `Bearer realm="digitlab"${error.sent ? ', error="invalid_token"' : ''}`);
    void reply.status(status).send({ error: STATUS_CODES[status] ?? 'Error', message, statusCode: status });
  });

  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({ error: 'Not Found', message: `no such resource: ${request.method} ${request.url.split('?')[0]}`, statusCode: 404 });
  });
  return app;
}
