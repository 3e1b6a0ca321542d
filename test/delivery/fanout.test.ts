import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InboxMessage, packFanout } from '../../src/domain/messages.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { TEST_DATABASE_URL, TEST_REDIS_URL } from '../helpers/backends.ts';
import { wireNotification } from '../helpers/wire.ts';

const added = (userId: string, seq: number, title: string): InboxMessage => ({
  v: seq,
  unread: seq,
  added: [wireNotification(userId, seq, { title })],
});

// What another instance publishes, written straight to Redis: a fan-out large enough to be handed
// out in several chunks, and right behind it, in the same write, a message on one user's channel.
describe.runIf(TEST_DATABASE_URL && TEST_REDIS_URL)('fan-out messages from Redis', () => {
  let t: TestApp;
  let redis: Redis;
  beforeAll(async () => {
    t = await startTestApp('postgres+redis');
    redis = new Redis(TEST_REDIS_URL!);
  });
  afterAll(async () => {
    redis.disconnect();
    await t.close();
  });

  it('a message that arrives while a large fan-out is handed out reaches the stream after it, without a database read', async () => {
    const prefix = t.config.REDIS_PREFIX;
    const user = 'chunk-late-user';
    const stream = await t.subscribe('subscription { notificationAdded { title cursor } }', {}, { token: await t.token(user) });
    const hub = t.app.services.hub;
    while (hub.stats().streams === 0 || hub.stats().catchUps === 0) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 100));
    const catchUps = hub.stats().catchUps;
    // 2,000 users, the subscribed one last (in the last chunk); then position 2 on its own channel.
    const entries: [string, InboxMessage][] = Array.from({ length: 1_999 }, (_, i) => [
      `chunk-other-${i}`,
      added(`chunk-other-${i}`, 1, 'x'),
    ]);
    entries.push([user, added(user, 1, 'from the fan-out')]);
    await redis
      .pipeline()
      .publish(`${prefix}:fanout`, JSON.stringify(packFanout(entries)))
      .publish(`${prefix}:user:${user}`, JSON.stringify(added(user, 2, 'right behind it')))
      .exec();
    const got = await stream.take<{ notificationAdded: { title: string } }>(2);
    expect(got.map((e) => e.data.notificationAdded.title)).toEqual(['from the fan-out', 'right behind it']);
    // Out of order, the stream would have seen a gap and re-read the database (which, here, does
    // not hold these hand-made positions: the second would then be lost).
    expect(hub.stats().catchUps).toBe(catchUps);
    await stream.close();
  });
});
