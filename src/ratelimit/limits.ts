import { Redis } from 'ioredis';
import type { Config, RateLimitSetting } from '../config.ts';
import { ErrorCode, heraldError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { defineRateScripts, RateLimit, type Refusal } from './limiter.ts';

export { RateLimit, type Refusal } from './limiter.ts';

/** Every rate limit setting (config.ts documents each). */
export const RATE_LIMIT_NAMES = [
  'RATE_LIMIT_PRODUCER_RECIPIENTS',
  'RATE_LIMIT_RECIPIENT',
  'RATE_LIMIT_USER_REQUESTS',
  'RATE_LIMIT_ANONYMOUS_REQUESTS_PER_IP',
  'RATE_LIMIT_USER_MUTATIONS',
  'RATE_LIMIT_STREAM_OPENS_PER_USER',
  'RATE_LIMIT_STREAM_OPENS_PER_IP',
  'RATE_LIMIT_RESERVATIONS_PER_USER',
  'RATE_LIMIT_RESERVATIONS_PER_IP',
  'RATE_LIMIT_REQUEST_BYTES_PER_IP',
] as const;
export type RateLimitName = (typeof RATE_LIMIT_NAMES)[number];

/** Herald's rate limits (README, Security, "Rate limits"). */
export interface RateLimits {
  readonly limit: Readonly<Record<RateLimitName, RateLimit>>;
  /**
   * Charges an emit before it is queued: `recipients.length` points to its producer and one to
   * each recipient's inbox, all or nothing. Throws RATE_LIMITED when any is over; then nothing is
   * counted (and nothing will be stored).
   */
  admitEmit(producerId: string, recipients: readonly string[]): Promise<void>;
  /** Resolves once the limits' Redis connection is ready, or after `timeoutMs` (then memory counts until it is). */
  connected(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Builds the limits of the configuration: shared through Redis (a connection of their own) when
 * REDIS_URL is set, in this process's memory otherwise.
 */
export function createRateLimits(config: Config, log: Pick<Logger, 'warn' | 'info'>): RateLimits {
  const anyOn = RATE_LIMIT_NAMES.some((name) => config[name] !== null);
  const redis = config.REDIS_URL && anyOn ? connect(config.REDIS_URL, log) : null;
  const store = redis ? { redis, prefix: config.REDIS_PREFIX } : null;
  const make = (name: RateLimitName, counted: string) => {
    const setting = config[name];
    const burst = BURSTY.has(name) ? burstWindow(setting, config.RATE_LIMIT_BURST_FACTOR) : null;
    return new RateLimit(name, counted, [setting, burst], store);
  };
  const limit: Record<RateLimitName, RateLimit> = {
    RATE_LIMIT_PRODUCER_RECIPIENTS: make('RATE_LIMIT_PRODUCER_RECIPIENTS', 'recipients per producer'),
    RATE_LIMIT_RECIPIENT: make('RATE_LIMIT_RECIPIENT', 'notifications per recipient'),
    RATE_LIMIT_USER_REQUESTS: make('RATE_LIMIT_USER_REQUESTS', 'requests per user'),
    RATE_LIMIT_ANONYMOUS_REQUESTS_PER_IP: make('RATE_LIMIT_ANONYMOUS_REQUESTS_PER_IP', 'requests without credentials per client address'),
    RATE_LIMIT_USER_MUTATIONS: make('RATE_LIMIT_USER_MUTATIONS', 'mutations per user'),
    RATE_LIMIT_STREAM_OPENS_PER_USER: make('RATE_LIMIT_STREAM_OPENS_PER_USER', 'stream opens per user'),
    RATE_LIMIT_STREAM_OPENS_PER_IP: make('RATE_LIMIT_STREAM_OPENS_PER_IP', 'stream opens per client address'),
    RATE_LIMIT_RESERVATIONS_PER_USER: make('RATE_LIMIT_RESERVATIONS_PER_USER', 'stream reservations per user'),
    RATE_LIMIT_RESERVATIONS_PER_IP: make('RATE_LIMIT_RESERVATIONS_PER_IP', 'stream reservations per client address'),
    RATE_LIMIT_REQUEST_BYTES_PER_IP: make(
      'RATE_LIMIT_REQUEST_BYTES_PER_IP',
      'bytes of requests beyond the first 16 KiB of each, per client address',
    ),
  };
  return {
    limit,
    async admitEmit(producerId, recipients) {
      // Both at once (one round trip each, in parallel); whichever was counted is given back if the other refused.
      const [producer, inboxes] = await Promise.all([
        limit.RATE_LIMIT_PRODUCER_RECIPIENTS.charge([producerId], recipients.length),
        limit.RATE_LIMIT_RECIPIENT.charge(recipients, 1),
      ]);
      const refused = producer.refused ?? inboxes.refused;
      if (!refused) return;
      await Promise.all([producer, inboxes].map((charge) => (charge.refused === null ? charge.refund() : undefined)));
      throw rateLimited(refused, 'Nothing was stored.');
    },
    connected: (timeoutMs) =>
      new Promise<void>((resolve) => {
        if (!redis || redis.status === 'ready') return resolve();
        const timer = setTimeout(done, timeoutMs);
        redis.once('ready', done);
        function done() {
          clearTimeout(timer);
          redis?.off('ready', done);
          resolve();
        }
      }),
    async close() {
      redis?.removeAllListeners('close');
      redis?.disconnect();
    },
  };
}

/**
 * The limits that also hold over every second: a user's own requests, charged a point at a time.
 * Not a producer's (a service: a 10,000-recipient emit is one request), nor an inbox's (its
 * notifications come in bursts: an outage's alerts; refusing one makes its producer retry), nor
 * an address's (many people: an office behind one NAT, every tab reconnecting at once after a
 * restart).
 */
const BURSTY: ReadonlySet<RateLimitName> = new Set([
  'RATE_LIMIT_USER_REQUESTS',
  'RATE_LIMIT_USER_MUTATIONS',
  'RATE_LIMIT_STREAM_OPENS_PER_USER',
  'RATE_LIMIT_RESERVATIONS_PER_USER',
]);

/** Fewest points a burst window allows in its second: a page's first requests come together. */
const MIN_BURST_POINTS = 10;

/**
 * The one-second window beside a limit of `points` per `seconds` (RATE_LIMIT_BURST_FACTOR): the
 * limit's average rate times `factor`, at least MIN_BURST_POINTS. Null when it would not bind
 * (off, a window of a second already, or as many points as the limit itself).
 */
export function burstWindow(setting: RateLimitSetting, factor: number): RateLimitSetting {
  if (!setting || factor <= 0 || setting.seconds <= 1) return null;
  const points = Math.max(Math.ceil((setting.points / setting.seconds) * factor), MIN_BURST_POINTS);
  return points < setting.points ? { points, seconds: 1 } : null;
}

/** What a RATE_LIMITED error says: the limit, its setting, and when to retry. */
export function refusalMessage(refusal: Refusal, more = ''): string {
  const { points, counted, seconds, limit, retryAfter } = refusal;
  return `Rate limit reached: at most ${points} ${counted} in ${seconds} s (${limit}). Retry in ${retryAfter} s.${more ? ` ${more}` : ''}`;
}

/**
 * The RATE_LIMITED error: `retryAfter` and `limit` in its extensions, and HTTP 429 with
 * Retry-After for Yoga's result processing (`extensions.http`, which Yoga keeps out of the body).
 */
export function rateLimited(refusal: Refusal, more = '') {
  return heraldError(ErrorCode.RATE_LIMITED, refusalMessage(refusal, more), {
    retryAfter: refusal.retryAfter,
    limit: refusal.limit,
    http: { status: 429, headers: { 'retry-after': String(refusal.retryAfter) } },
  });
}

/**
 * The limits' Redis connection. Commands fail at once while it is not connected (no offline
 * queue) and after 1 s without an answer, so that a Redis outage sends the limits to their
 * in-memory insurance instead of holding requests.
 */
function connect(url: string, log: Pick<Logger, 'warn' | 'info'>): Redis {
  const redis = new Redis(url, {
    connectionName: 'herald-ratelimit',
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 1_000,
    retryStrategy: (attempt: number) => Math.min(100 * 2 ** attempt, 2_000),
  });
  defineRateScripts(redis);
  let lost = false;
  // ioredis reports connection errors as events; 'close' and 'ready' say what matters here.
  redis.on('error', () => {});
  redis.on('close', () => {
    if (lost) return;
    lost = true;
    log.warn('Redis is unreachable: rate limits are counted in this instance only until it is back');
  });
  redis.on('ready', () => {
    if (!lost) return;
    lost = false;
    log.info('rate limits are shared through Redis again');
  });
  return redis;
}
