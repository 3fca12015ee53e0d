/**
 * Per-client rate limits for predictions: a token bucket per client address. A bucket holds up to
 * `burst` tokens, refills at `perSecond`, and a request takes one; an empty bucket answers when the
 * next token will be there. IPv6 clients are counted by their /64 network, the block one machine
 * usually gets, so hopping between its addresses does not buy more.
 */
import { isIPv6 } from 'node:net';

export interface RateLimit {
  /** Tokens added per second (may be a fraction). */
  readonly perSecond: number;
  /** The bucket's size: requests a client may make at once after a pause. */
  readonly burst: number;
}

/** A limit of `perSecond`, in bursts of twice as many by default (at least 1). */
export function rateLimit(perSecond: number, burst = Math.max(1, Math.ceil(2 * perSecond))): RateLimit {
  return { perSecond, burst };
}

/** 20 predictions a second, in bursts of up to 40: far more than a person drawing, little for a flood. */
export const DEFAULT_RATE_LIMIT: RateLimit = rateLimit(20);

export type Admission = { allowed: true } | { allowed: false; /** seconds until a token is there */ retryAfter: number };

/** The eight groups of an IPv6 address, '::' expanded. */
function ipv6Groups(address: string): string[] {
  const [head, tail] = address.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const fill = tail === undefined ? [] : new Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...fill, ...right].map((group) => group.replace(/^0+(?=.)/, ''));
}

/** The key a client is counted under: its IPv4 address, or its IPv6 /64 network. */
export function clientKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1];
  if (!isIPv6(address)) return address;
  return `${ipv6Groups(address.toLowerCase().split('%')[0]).slice(0, 4).join(':')}::/64`;
}

interface Bucket {
  tokens: number;
  /** Seconds, on the limiter's clock. */
  updated: number;
}

export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    readonly limit: RateLimit,
    /** Seconds; injectable for tests. */
    private readonly now: () => number = () => performance.now() / 1000,
    /** Clients remembered at most; the longest idle are forgotten first (a forgotten client starts with a full bucket). */
    private readonly maxClients = 100_000,
  ) {
    if (!(limit.perSecond > 0) || !(limit.burst >= 1)) throw new RangeError(`a rate limit needs perSecond > 0 and burst ≥ 1, got ${JSON.stringify(limit)}`);
  }

  /** Takes a token from the client's bucket, or says how long until one is there. */
  take(client: string): Admission {
    const now = this.now();
    const { perSecond, burst } = this.limit;
    const bucket = this.buckets.get(client) ?? { tokens: burst, updated: now };
    bucket.tokens = Math.min(burst, bucket.tokens + (now - bucket.updated) * perSecond);
    bucket.updated = now;
    // re-inserted so the map stays ordered from the longest idle to the latest
    this.buckets.delete(client);
    this.buckets.set(client, bucket);
    if (this.buckets.size > this.maxClients) this.buckets.delete(this.buckets.keys().next().value as string);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true };
    }
    return { allowed: false, retryAfter: (1 - bucket.tokens) / perSecond };
  }

  /** Clients currently remembered. */
  get size(): number {
    return this.buckets.size;
  }
}
