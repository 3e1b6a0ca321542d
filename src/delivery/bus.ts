import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { RedisPubSub } from 'graphql-redis-subscriptions';
import { PubSub } from 'graphql-subscriptions';
import { Redis } from 'ioredis';
import { type InboxMessage, type PackedFanout, packFanout, unpackFanout } from '../domain/messages.ts';
import type { Logger } from '../logger.ts';

/**
 * The delivery fabric between instances: one channel per user. Delivery only, never truth:
 * a message lost here is recovered from the database by the hub (see hub.ts).
 */
export interface Bus {
  readonly kind: 'redis' | 'memory';
  /** Publishes after commit. Never waits for a disconnected Redis: it rejects at once instead. */
  publish(userId: string, message: InboxMessage): Promise<void>;
  /**
   * Publishes one commit's messages, in order. Many recipients (a bulk emit) travel as one message
   * on a shared channel that every instance reads and hands to its local subscribers, instead of
   * one message per user; the publishing instance hands it to its own subscribers directly.
   */
  publishMany(messages: ReadonlyMap<string, InboxMessage>): Promise<void>;
  /** Subscribes to a user's channel; resolves once the subscription is active. */
  subscribe(userId: string, onMessage: (message: InboxMessage) => void): Promise<() => void>;
  /** Receives fan-out messages (bulk publishes): every instance gets them and routes them to its own streams. */
  onFanout(listener: (entries: readonly (readonly [string, InboxMessage])[]) => void): void;
  /** Called after the connection came back (subscriptions are restored): time to fill gaps. */
  onReconnect(listener: () => void): void;
  /** Resolves once the bus is connected, or after `timeoutMs` (Redis down: start anyway). */
  connected(timeoutMs: number): Promise<void>;
  /** Resolves when the bus is usable (Redis answers PING). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** From this many users in one commit, one fan-out message replaces the per-user messages. */
const FANOUT_MIN_USERS = 64;

/** In-process pub/sub (graphql-subscriptions' PubSub): the embedded, single-instance mode. */
export function createMemoryBus(): Bus {
  const channel = (userId: string) => `user:${userId}`;
  const pubsub = new PubSub<Record<string, InboxMessage>>();
  return {
    kind: 'memory',
    async publish(userId, message) {
      await pubsub.publish(channel(userId), message);
    },
    async publishMany(messages) {
      await Promise.all([...messages].map(([userId, message]) => pubsub.publish(channel(userId), message)));
    },
    async subscribe(userId, onMessage) {
      const id = await pubsub.subscribe(channel(userId), onMessage);
      return () => pubsub.unsubscribe(id);
    },
    onFanout() {},
    onReconnect() {},
    async connected() {},
    async ping() {},
    async close() {},
  };
}

/**
 * Redis pub/sub through graphql-redis-subscriptions with two ioredis connections (one publishes,
 * one subscribes). The publisher has no offline queue, so an emit never hangs on a Redis outage:
 * the row is committed, the publish fails fast and subscribers recover from the database.
 */
export function createRedisBus(url: string, log: Logger, prefix = 'herald'): Bus {
  const channel = (userId: string) => `${prefix}:user:${userId}`;
  /** The shared channel of bulk publishes: `[userId, message][]`. */
  const FANOUT_CHANNEL = `${prefix}:fanout`;
  const events = new EventEmitter();
  const options = {
    lazyConnect: false,
    maxRetriesPerRequest: 1,
    retryStrategy: (attempt: number) => Math.min(100 * 2 ** attempt, 2_000),
  };
  // Auto-pipelining: the publishes of one grouped commit go out in one write.
  const publisher = new Redis(url, { ...options, enableOfflineQueue: false, enableAutoPipelining: true, connectionName: 'herald-pub' });
  const subscriber = new Redis(url, { ...options, connectionName: 'herald-sub', maxRetriesPerRequest: null });
  for (const [name, client] of [
    ['publisher', publisher],
    ['subscriber', subscriber],
  ] as const) {
    client.on('error', (error: Error) => log.warn({ err: error.message, client: name }, 'redis error'));
  }
  let wasConnected = false;
  subscriber.on('ready', () => {
    if (wasConnected) {
      log.info('redis subscriber reconnected: filling gaps from the database');
      // ioredis re-issues SUBSCRIBE on reconnect before 'ready'; give it a tick to be sent.
      setTimeout(() => events.emit('reconnect'), 50);
    }
    wasConnected = true;
  });
  const pubsub = new RedisPubSub({ publisher, subscriber });
  const fanoutListeners: ((entries: readonly (readonly [string, InboxMessage])[]) => void)[] = [];
  /** Marks this instance's fan-outs, whose echo from Redis it skips (it delivered them itself). */
  const origin = randomUUID();
  const fanout = pubsub.subscribe(FANOUT_CHANNEL, ((payload: PackedFanout | [string, InboxMessage][]) => {
    if (!Array.isArray(payload) && payload.o === origin) return;
    // A plain array is an unpacked fan-out (an instance of an earlier version during a rolling upgrade).
    const entries = Array.isArray(payload) ? payload : unpackFanout(payload);
    // An empty fan-out is a catch-up call: some instance's publishes failed while its publisher was
    // disconnected; every instance re-reads its streams' missing positions now, not at the next sweep.
    if (entries.length === 0) events.emit('reconnect');
    else for (const listener of fanoutListeners) listener(entries);
  }) as (m: unknown) => void);
  let publishFailed = false;
  const failed = (error: unknown) => {
    publishFailed = true;
    throw error;
  };
  publisher.on('ready', () => {
    if (!publishFailed) return;
    publishFailed = false;
    log.info('redis publisher reconnected: asking every instance to fill gaps from the database');
    pubsub.publish(FANOUT_CHANNEL, []).catch(() => {
      publishFailed = true;
    });
  });
  fanout.catch((error: Error) => log.warn({ err: error.message }, 'fan-out subscription failed'));
  return {
    kind: 'redis',
    async publish(userId, message) {
      await pubsub.publish(channel(userId), message).catch(failed);
    },
    async publishMany(messages) {
      if (messages.size < FANOUT_MIN_USERS) {
        await Promise.all([...messages].map(([userId, message]) => pubsub.publish(channel(userId), message))).catch(failed);
        return;
      }
      const published = pubsub.publish(FANOUT_CHANNEL, packFanout(messages, origin)).catch(failed);
      // This instance's own streams get it now, not after the round trip through Redis and the
      // parsing of a message that holds every recipient (10,000 recipients: ~40 ms sooner). After
      // the publish is written, so the other instances do not wait for this one's delivery.
      const entries = [...messages];
      setImmediate(() => {
        for (const listener of fanoutListeners) listener(entries);
      });
      await published;
    },
    async subscribe(userId, onMessage) {
      const id = await pubsub.subscribe(channel(userId), onMessage as (m: unknown) => void);
      return () => pubsub.unsubscribe(id);
    },
    onFanout(listener) {
      fanoutListeners.push(listener);
    },
    onReconnect(listener) {
      events.on('reconnect', listener);
    },
    async connected(timeoutMs) {
      const ready = (client: Redis) =>
        client.status === 'ready' ? Promise.resolve() : new Promise<void>((resolve) => client.once('ready', () => resolve()));
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all([ready(publisher), ready(subscriber), fanout.catch(() => {})]),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, timeoutMs);
        }),
      ]);
      clearTimeout(timer);
    },
    async ping() {
      await fanout;
      await publisher.ping();
    },
    async close() {
      publisher.disconnect();
      subscriber.disconnect();
    },
  };
}
