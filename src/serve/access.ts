/**
 * Who may change the server's state. Reading (pages, models, predictions, event streams) is open;
 * changing it (starting and stopping trainings, and any other request that is not GET or HEAD)
 * needs the server's access token once the server listens beyond loopback, or whenever a token was
 * given. The token travels as `Authorization: Bearer TOKEN`; the page gets it from the address
 * `digitlab serve` prints (`/?token=…`) and keeps it in the browser's local storage.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { HttpError } from './errors.js';

/** Methods that only read. */
const READING_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** At least 16 characters of the Bearer token alphabet (RFC 6750: letters, digits, - . _ ~ + /, then = padding). */
const TOKEN_PATTERN = /^[A-Za-z0-9._~+/-]{16,}=*$/;

/** A token given to the server that is too short or not sendable in an Authorization header. */
export class AccessTokenError extends Error {
  override readonly name = 'AccessTokenError';
  constructor(what: string) {
    super(
      `the access token ${what}: use at least 16 letters, digits or - . _ ~ + / characters ` +
        '(leave --token out to have one generated, or make one with `openssl rand -hex 16`)',
    );
  }
}

/** A change asked for without the server's token, or with another one. */
export class AccessDeniedError extends HttpError {
  constructor(
    method: string,
    path: string,
    /** Whether a token was sent (a wrong one) or none was. */
    readonly sent: boolean,
  ) {
    super(
      401,
      sent
        ? `the access token sent with ${method} ${path} is not this server's: a generated token changes every time ` +
          '`digitlab serve` starts; use the one it printed last (or give the server a fixed one with --token)'
        : `${method} ${path} changes the server's state, so it needs the server's access token: send ` +
          '"Authorization: Bearer TOKEN". `digitlab serve` prints the token when it starts (or takes one with ' +
          '--token or DIGITLAB_TOKEN); in the browser, open the address it prints, which ends in ?token=…',
    );
  }
}

/** Throws AccessTokenError unless `token` is usable as the server's access token. */
export function checkAccessToken(token: string): string {
  if (!TOKEN_PATTERN.test(token)) throw new AccessTokenError(token.length < 16 ? `is ${token.length} characters long` : 'has characters a header cannot carry');
  return token;
}

/** 32 random bytes, base64url: 43 characters that need no escaping in an address. */
export function generateAccessToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Whether a listening address only accepts connections from this machine: localhost, 127.0.0.0/8
 * and ::1 (also IPv4-mapped). Everything else (0.0.0.0, ::, a network address, a host name) does not.
 */
export function isLoopbackHost(host: string): boolean {
  const address = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (address === 'localhost' || address === '::1' || address === '0:0:0:0:0:0:0:1') return true;
  return /^(::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address);
}

/**
 * Compares two tokens in constant time: both are hashed first, so neither their contents nor their
 * lengths show in how long the comparison takes.
 */
export function sameToken(sent: string, expected: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();
  return timingSafeEqual(digest(sent), digest(expected));
}

/** The token of an `Authorization: Bearer TOKEN` header (scheme case-insensitive), or null. */
export function bearerToken(header: string | undefined): string | null {
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? '');
  return match ? match[1] : null;
}

/** Throws AccessDeniedError when a request that changes state lacks the server's token (none needed when `token` is null). */
export function checkAccess(token: string | null, method: string, path: string, authorization: string | undefined): void {
  if (token === null || READING_METHODS.has(method)) return;
  const sent = bearerToken(authorization);
  if (sent === null || !sameToken(sent, token)) throw new AccessDeniedError(method, path, authorization !== undefined);
}
