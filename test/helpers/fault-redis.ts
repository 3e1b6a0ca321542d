import { Redis } from 'ioredis';
import { PrivateRedis as RedisProcess } from './chaos-redis.ts';

/**
 * A private redis-server (see chaos-redis.ts) with a client, so a test can count channels
 * (PUBSUB CHANNELS / NUMSUB) without other test files' subscribers in the way.
 */
export interface PrivateRedis {
  url: string;
  client: Redis;
  /** Subscribers per channel. */
  numsub(channels: string[]): Promise<Record<string, number>>;
  /** Channels with at least one subscriber matching a pattern. */
  channels(pattern: string): Promise<string[]>;
  stop(): Promise<void>;
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const server = new RedisProcess();
  await server.start();
  const client = new Redis(server.url, { maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  return {
    url: server.url,
    client,
    async numsub(channels) {
      const reply = (await client.call('PUBSUB', 'NUMSUB', ...channels)) as (string | number)[];
      const out: Record<string, number> = {};
      for (let i = 0; i < reply.length; i += 2) out[String(reply[i])] = Number(reply[i + 1]);
      return out;
    },
    async channels(pattern) {
      return (await client.call('PUBSUB', 'CHANNELS', pattern)) as string[];
    },
    async stop() {
      client.disconnect();
      await server.stop();
    },
  };
}
