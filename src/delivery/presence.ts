import { Redis } from 'ioredis';
import type { Logger } from '../logger.ts';
import { inPacedChunks } from './paced.ts';

/**
 * Who is online: users with at least one open stream on any instance (seed 001's online users).
 * With Redis, each instance refreshes a sorted set of its users with a deadline; entries of a
 * crashed instance expire after PRESENCE_TTL_MS. Without Redis, the local hub is the whole truth.
 */
export interface Presence {
  /** Of these users, which are online now. */
  online(userIds: readonly string[]): Promise<Set<string>>;
  close(): Promise<void>;
}

export function createLocalPresence(localUsers: () => string[]): Presence {
  return {
    async online(userIds) {
      const local = new Set(localUsers());
      return new Set(userIds.filter((u) => local.has(u)));
    },
    async close() {},
  };
}

/**
 * Redis presence: key `<prefix>:presence:<userId>` is a sorted set of instance ids scored by expiry
 * time. Every refresh (a third of the TTL) re-scores this instance's users; readers ignore expired
 * scores, so a crashed instance's users go offline within PRESENCE_TTL_MS.
 */
export function createRedisPresence(options: {
  url: string;
  instanceId: string;
  ttlMs: number;
  /** REDIS_PREFIX. */
  prefix: string;
  localUsers: () => string[];
  /** Whether this instance holds a stream of the user right now (answered without Redis). */
  isLocal: (userId: string) => boolean;
  log: Logger;
}): Presence {
  const redis = new Redis(options.url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectionName: 'herald-presence' });
  redis.on('error', () => {});
  let previous = new Set<string>();
  const intervalMs = Math.max(200, Math.floor(options.ttlMs / 3));
  const refresh = async () => {
    const users = options.localUsers();
    const current = new Set(users);
    const gone = [...previous].filter((u) => !current.has(u));
    previous = current;
    if (gone.length > 0) {
      const pipeline = redis.pipeline();
      for (const u of gone) pipeline.zrem(`${options.prefix}:presence:${u}`, options.instanceId);
      await pipeline.exec();
    }
    // Spread over half the interval (see inPacedChunks); expiry is ttl from each chunk's own time.
    await inPacedChunks(users, { size: 100, spreadMs: intervalMs / 2 }, async (chunk) => {
      const now = Date.now();
      const pipeline = redis.pipeline();
      for (const u of chunk) {
        pipeline.zadd(`${options.prefix}:presence:${u}`, now + options.ttlMs, options.instanceId);
        pipeline.pexpire(`${options.prefix}:presence:${u}`, options.ttlMs * 2);
      }
      await pipeline.exec();
    });
  };
  const timer = setInterval(() => {
    refresh().catch((e: Error) => options.log.debug({ err: e.message }, 'presence refresh failed'));
  }, intervalMs);
  timer.unref();
  return {
    async online(userIds) {
      const now = Date.now();
      const pipeline = redis.pipeline();
      for (const u of userIds) pipeline.zcount(`${options.prefix}:presence:${u}`, now, '+inf');
      const results = (await pipeline.exec()) ?? [];
      // This instance's own streams count at once (Redis learns of them at the next refresh).
      return new Set(userIds.filter((u, i) => options.isLocal(u) || Number(results[i]?.[1] ?? 0) > 0));
    },
    async close() {
      clearInterval(timer);
      const pipeline = redis.pipeline();
      for (const u of previous) pipeline.zrem(`${options.prefix}:presence:${u}`, options.instanceId);
      await pipeline.exec().catch(() => {});
      redis.disconnect();
    },
  };
}
