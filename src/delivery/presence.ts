import { Redis } from 'ioredis';
import type { Logger } from '../logger.ts';

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
 * Redis presence: key `herald:presence:<userId>` is a sorted set of instance ids scored by expiry
 * time. Every refresh (a third of the TTL) re-scores this instance's users; readers ignore expired
 * scores, so a crashed instance's users go offline within PRESENCE_TTL_MS.
 */
export function createRedisPresence(options: {
  url: string;
  instanceId: string;
  ttlMs: number;
  localUsers: () => string[];
  log: Logger;
}): Presence {
  const redis = new Redis(options.url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectionName: 'herald-presence' });
  redis.on('error', () => {});
  let previous = new Set<string>();
  const refresh = async () => {
    const users = options.localUsers();
    const now = Date.now();
    const pipeline = redis.pipeline();
    for (const u of users) {
      pipeline.zadd(`herald:presence:${u}`, now + options.ttlMs, options.instanceId);
      pipeline.pexpire(`herald:presence:${u}`, options.ttlMs * 2);
    }
    const current = new Set(users);
    for (const u of previous) if (!current.has(u)) pipeline.zrem(`herald:presence:${u}`, options.instanceId);
    previous = current;
    if (pipeline.length > 0) await pipeline.exec();
  };
  const timer = setInterval(
    () => {
      refresh().catch((e: Error) => options.log.debug({ err: e.message }, 'presence refresh failed'));
    },
    Math.max(200, Math.floor(options.ttlMs / 3)),
  );
  timer.unref();
  return {
    async online(userIds) {
      await refresh().catch(() => {});
      const now = Date.now();
      const pipeline = redis.pipeline();
      for (const u of userIds) pipeline.zcount(`herald:presence:${u}`, now, '+inf');
      const results = (await pipeline.exec()) ?? [];
      return new Set(userIds.filter((_, i) => Number(results[i]?.[1] ?? 0) > 0));
    },
    async close() {
      clearInterval(timer);
      const pipeline = redis.pipeline();
      for (const u of previous) pipeline.zrem(`herald:presence:${u}`, options.instanceId);
      await pipeline.exec().catch(() => {});
      redis.disconnect();
    },
  };
}
