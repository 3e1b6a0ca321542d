import type { Redis, Result } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { RateLimitSetting } from '../config.ts';

/** Why a request was refused: the limit's setting and how long until its window ends. */
export interface Refusal {
  /** The setting's name, e.g. RATE_LIMIT_RECIPIENT. */
  limit: string;
  /** What it counts, e.g. "notifications per recipient". */
  counted: string;
  points: number;
  seconds: number;
  /** Whole seconds, at least 1. */
  retryAfter: number;
}

/** An all-or-nothing charge: refused (nothing was counted), or counted, with a way to give the points back. */
export type Charge = { refused: Refusal } | { refused: null; refund(): Promise<void> };

/** Keys per script call: a 10,000-recipient emit is ten calls in one pipeline (one round trip). */
const KEYS_PER_CALL = 1_000;

/**
 * Checks every key first (one MGET) and counts only when none is over, so a refused charge counts
 * nothing; then one command per key. Atomic per call: a key's window cannot end between its check
 * and its count (a script runs alone), and a key read as absent is created with its window.
 * Same record as rate-limiter-flexible's RateLimiterRedis (an integer of points used, expiring at
 * the end of its fixed window), so `consume` and this count the same keys the same way.
 * ARGV: points per key, window seconds, the limit. Returns {1, 0} counted, {0, ms} refused.
 */
const CHARGE = `
local add = tonumber(ARGV[1])
local seconds = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local used = redis.call('mget', unpack(KEYS))
local wait = -1
for i = 1, #KEYS do
  if (tonumber(used[i]) or 0) + add > limit then
    local ttl = redis.call('pttl', KEYS[i])
    if ttl < 0 then ttl = seconds * 1000 end
    if ttl > wait then wait = ttl end
  end
end
if wait >= 0 then return {0, wait} end
for i = 1, #KEYS do
  if used[i] then redis.call('incrby', KEYS[i], add) else redis.call('set', KEYS[i], add, 'EX', seconds) end
end
return {1, 0}
`;

/** Gives back what CHARGE counted (keys whose window ended meanwhile are left alone). ARGV: points per key. */
const REFUND = `
for i = 1, #KEYS do
  if redis.call('exists', KEYS[i]) == 1 then redis.call('decrby', KEYS[i], ARGV[1]) end
end
return 0
`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    heraldRateCharge(numKeys: number, ...keysAndArgs: (string | number)[]): Result<[number, number], Context>;
    heraldRateRefund(numKeys: number, ...keysAndArgs: (string | number)[]): Result<number, Context>;
  }
}

/** Defines the bulk scripts on a connection (ioredis sends EVALSHA, and the script once on NOSCRIPT). */
export function defineRateScripts(redis: Redis) {
  redis.defineCommand('heraldRateCharge', { lua: CHARGE });
  redis.defineCommand('heraldRateRefund', { lua: REFUND });
}

/**
 * A rate limit: one or more fixed windows over the same key, each `<points>/<seconds>`, all of
 * which a request must fit (RATE_LIMIT_* and its burst window, limits.ts). A refusal names the
 * window that refused.
 */
export class RateLimit {
  private readonly windows: FixedWindow[];

  constructor(
    readonly name: string,
    /** What it counts, for messages: "notifications per recipient". */
    readonly counted: string,
    settings: readonly RateLimitSetting[],
    store: { redis: Redis; prefix: string } | null,
  ) {
    this.windows = settings.flatMap((setting, i) =>
      setting ? [new FixedWindow(i === 0 ? name : `${name}:${setting.seconds}s`, name, counted, setting, store)] : [],
    );
  }

  /** Counts one point for `key` in every window (at once: one round trip); refused by any window that is over. */
  async consume(key: string): Promise<Refusal | null> {
    const [only, ...more] = this.windows;
    if (!only) return null;
    if (more.length === 0) return only.consume(key);
    const refusals = await Promise.all(this.windows.map((window) => window.consume(key)));
    return refusals.find((refusal) => refusal !== null) ?? null;
  }

  /** Counts `points` for each key in every window, all or nothing (see FixedWindow.charge). */
  async charge(keys: readonly string[], points: number): Promise<Charge> {
    const [only, ...more] = this.windows;
    if (!only) return { refused: null, refund: async () => {} };
    if (more.length === 0) return only.charge(keys, points);
    const charges = await Promise.all(this.windows.map((window) => window.charge(keys, points)));
    const refund = async () => {
      await Promise.all(charges.map((charge) => (charge.refused === null ? charge.refund() : undefined)));
    };
    const refused = charges.find((charge) => charge.refused !== null)?.refused ?? null;
    if (refused === null) return { refused: null, refund };
    await refund();
    return { refused };
  }
}

/**
 * One fixed window (`<points>/<seconds>` per key) on rate-limiter-flexible: in this
 * process's memory (embedded), or in Redis under `<prefix>:rl:<window>:<key>` so every instance
 * shares it. While Redis is not ready, the limiter's `insuranceLimiter` (the same limit in this
 * instance's memory) counts instead: requests keep being answered, each instance limiting on its
 * own until Redis is back.
 */
class FixedWindow {
  private readonly on: {
    points: number;
    seconds: number;
    /** The limiter in embedded mode; with Redis, its insurance. */
    memory: RateLimiterMemory;
    redis: { client: Redis; limiter: RateLimiterRedis } | null;
  };

  constructor(
    /** The window's key prefix: the limit's name, with its length for a second window. */
    keyName: string,
    /** The limit's setting name, for refusals. */
    private readonly name: string,
    private readonly counted: string,
    setting: { points: number; seconds: number },
    store: { redis: Redis; prefix: string } | null,
  ) {
    const options = { points: setting.points, duration: setting.seconds };
    const memory = new RateLimiterMemory({ ...options, keyPrefix: keyName });
    const limiter = store
      ? new RateLimiterRedis({
          ...options,
          storeClient: store.redis,
          keyPrefix: `${store.prefix}:rl:${keyName}`,
          // Not ready (down, reconnecting): straight to the insurance limiter instead of waiting.
          rejectIfRedisNotReady: true,
          insuranceLimiter: memory,
        })
      : null;
    this.on = { ...setting, memory, redis: store && limiter ? { client: store.redis, limiter } : null };
  }

  /**
   * Counts one point for `key` (rate-limiter-flexible's `consume`: a refused attempt counts too,
   * so a client that keeps hammering stays refused until its window ends, never longer).
   */
  async consume(key: string): Promise<Refusal | null> {
    try {
      await (this.on.redis?.limiter ?? this.on.memory).consume(key, 1);
      return null;
    } catch (error) {
      if (error instanceof RateLimiterRes) return this.refusal(error.msBeforeNext);
      throw error;
    }
  }

  /**
   * Counts `points` for each key, all or nothing: if any key would go over, none is counted and
   * the refusal says when the latest of them frees up. On Redis one round trip (a pipeline of
   * scripts of at most 1,000 keys; what an accepted script counted is given back if another one
   * refused).
   */
  async charge(keys: readonly string[], points: number): Promise<Charge> {
    const on = this.on;
    if (keys.length === 0) return { refused: null, refund: async () => {} };
    if (on.redis && on.redis.client.status === 'ready') {
      try {
        return await this.chargeRedis(on.redis.client, on.redis.limiter, keys, points, on);
      } catch {
        // Redis failed the call (timeout, connection lost): this instance's memory stands in.
      }
    }
    return this.chargeMemory(on.memory, keys, points);
  }

  private async chargeRedis(
    redis: Redis,
    limiter: RateLimiterRedis,
    keys: readonly string[],
    points: number,
    limit: { points: number; seconds: number },
  ): Promise<Charge> {
    const chunks: string[][] = [];
    for (let i = 0; i < keys.length; i += KEYS_PER_CALL) chunks.push(keys.slice(i, i + KEYS_PER_CALL).map((k) => limiter.getKey(k)));
    const pipeline = redis.pipeline();
    for (const chunk of chunks) pipeline.heraldRateCharge(chunk.length, ...chunk, points, limit.seconds, limit.points);
    const replies = (await pipeline.exec()) ?? [];
    const counted: string[][] = [];
    let waitMs = -1;
    chunks.forEach((chunk, i) => {
      const [error, reply] = replies[i] ?? [new Error('no reply from the rate limit script'), null];
      if (error) throw error;
      if (!Array.isArray(reply)) throw new Error('unexpected reply from the rate limit script');
      if (Number(reply[0]) === 1) counted.push(chunk);
      else waitMs = Math.max(waitMs, Number(reply[1]));
    });
    const refund = async () => {
      if (counted.length === 0) return;
      const undo = redis.pipeline();
      for (const chunk of counted) undo.heraldRateRefund(chunk.length, ...chunk, points);
      await undo.exec();
    };
    if (waitMs < 0) return { refused: null, refund };
    await refund();
    return { refused: this.refusal(waitMs) };
  }

  /** In memory: every key counted, then all given back if any went over (a refused consume counts too). */
  private async chargeMemory(memory: RateLimiterMemory, keys: readonly string[], points: number): Promise<Charge> {
    const results = await Promise.allSettled(keys.map((key) => memory.consume(key, points)));
    let waitMs = -1;
    for (const result of results) {
      if (result.status === 'fulfilled') continue;
      if (!(result.reason instanceof RateLimiterRes)) throw result.reason;
      waitMs = Math.max(waitMs, result.reason.msBeforeNext);
    }
    const refund = async () => {
      await Promise.all(keys.map((key) => memory.reward(key, points)));
    };
    if (waitMs < 0) return { refused: null, refund };
    await refund();
    return { refused: this.refusal(waitMs) };
  }

  private refusal(msBeforeNext: number): Refusal {
    return {
      limit: this.name,
      counted: this.counted,
      points: this.on.points,
      seconds: this.on.seconds,
      retryAfter: Math.max(1, Math.ceil(msBeforeNext / 1000)),
    };
  }
}
