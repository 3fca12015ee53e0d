/**
 * Errors as HTTP answers: which status an error gets, and the small error type the routes throw. No
 * Fastify import here, so the picture workers answer with the same statuses as the server.
 */
import { DataFormatError, ImageTooLargeError } from '../data/errors.js';
import { SafetensorsFormatError } from '../io/safetensors.js';

/** An error that carries its HTTP status (and, for 429 and 503, when to try again). */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly statusCode: number,
    message: string,
    /** Seconds, sent as Retry-After. */
    readonly retryAfter?: number,
  ) {
    super(message);
  }
}

/** The status an error is answered with: 413 for a picture over the pixel limit, 400 for a bad file, else its own. */
export function statusOf(error: unknown): number {
  if (error instanceof ImageTooLargeError) return 413;
  if (error instanceof DataFormatError || error instanceof SafetensorsFormatError) return 400;
  const status = (error as { statusCode?: unknown })?.statusCode;
  return typeof status === 'number' && status >= 400 && status < 600 ? status : 500;
}

