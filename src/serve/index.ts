/** The HTTP server: JSON API and the browser app. */
export { createServer, IMAGE_BODY_LIMIT, SECURITY_HEADERS, type DigitServer, type ServerOptions } from './server.js';
export { AccessDeniedError, AccessTokenError, checkAccessToken, generateAccessToken, isLoopbackHost } from './access.js';
export { HttpError } from './errors.js';
export { DEFAULT_PICTURE_POOL, PicturePool, type PicturePoolOptions } from './pictures.js';
export { clientKey, DEFAULT_RATE_LIMIT, rateLimit, TokenBuckets, type RateLimit } from './rate-limit.js';
export { ModelRegistry, UnknownModelError, type Gallery, type ModelSummary } from './models.js';
export { RunManager, TooManyRunsError, UnknownRunError, type RunEvent, type RunInfo, type RunRequest, type RunStatus } from './runs.js';
export { DEFAULT_MODEL_NAME, trainDefaultModel } from './default-model.js';
