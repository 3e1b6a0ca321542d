/**
 * Chaos tests for outages and resources (issue 3), on real Herald processes, PostgreSQL and a
 * private Redis: PostgreSQL unreachable, a reader that stops reading, a client that vanishes
 * without FIN (a real cable pull between network namespaces), the per-user stream cap, and that
 * every released stream gives back what it held (hub streams, SSE buffers, Redis channels,
 * presence).
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMIT_SCOPE, signToken } from '../../src/auth/tokens.ts';
import { loadConfig } from '../../src/config.ts';
import { openDatabase } from '../../src/db/index.ts';
import { TEST_SECRET } from '../helpers/app.ts';
import { createScratchDatabase, TEST_DATABASE_URL, TEST_REDIS_URL } from '../helpers/backends.ts';
import { gql } from '../helpers/chaos-client.ts';
import { Cluster, type Instance } from '../helpers/cluster.ts';
import { FaultNetns } from '../helpers/fault-netns.ts';
import { FaultProxy } from '../helpers/fault-proxy.ts';
import { type PrivateRedis, startPrivateRedis } from '../helpers/fault-redis.ts';
import { SseReader } from '../helpers/sse.ts';

const ENABLED = Boolean(TEST_DATABASE_URL && TEST_REDIS_URL);
/** Why the vanished-client test cannot run here (null: it can). */
const NETNS_UNAVAILABLE = ENABLED ? await FaultNetns.probe() : 'DATABASE_URL and REDIS_URL are not set';
if (ENABLED && NETNS_UNAVAILABLE) console.warn(`[resources] skipping the vanished-client (cable pull) test: ${NETNS_UNAVAILABLE}`);

/** DATABASE_QUERY_TIMEOUT_MS of the outage test's instance, and pg's connect timeout (src/db/index.ts). */
const QUERY_TIMEOUT_MS = 2_000;
const CONNECT_TIMEOUT_MS = 5_000;

/** STREAM_BUFFER_LIMIT_BYTES and MAX_STREAMS_PER_USER of the slow-reader instance; TCP_KEEPALIVE_MS for vanished clients. */
const SLOW_LIMIT = 64 * 1024;
const MAX_STREAMS = 3;
const KEEPALIVE_MS = 1_000;
const PRESENCE_TTL_MS = 3_000;

/** The client run inside the network namespace: one SSE subscription, a line per chunk received. */
const NS_CLIENT = `
const http = require('node:http');
const [url, token] = process.argv.slice(1);
http.get(url, { agent: false, headers: { authorization: 'Bearer ' + token, accept: 'text/event-stream' } }, (res) => {
  console.log('status ' + res.statusCode);
  res.on('data', (d) => console.log('data ' + d.length));
  res.on('end', () => console.log('end'));
}).on('error', (e) => console.log('error ' + e.code));
`;

/** The lines a child process prints, as they come. */
function collectLines(child: ChildProcess): string[] {
  const lines: string[] = [];
  let rest = '';
  const add = (d: Buffer) => {
    rest += d.toString();
    const parts = rest.split('\n');
    rest = parts.pop()!;
    lines.push(...parts);
  };
  child.stdout?.on('data', add);
  child.stderr?.on('data', add);
  return lines;
}

const log = (line: string) => console.log(`[resources] ${line}`);

interface Stats {
  streams: number;
  users: number;
  queuedEvents: number;
  sseStreams: number;
  bufferedBytes: number;
  opened: number;
  droppedSlow: number;
  rss: number;
  heapUsed: number;
  external: number;
}

const stats = async (instance: Instance, gc = false): Promise<Stats> =>
  (await fetch(`${instance.url}/stats${gc ? '?gc=1' : ''}`, { signal: AbortSignal.timeout(10_000) })).json() as Promise<Stats>;

/** Polls until `check` returns a truthy value; fails with `what` and the last value after `timeoutMs`. */
async function waitFor<T>(what: string, check: () => Promise<T> | T, timeoutMs = 20_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
      last = v;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${String(last)})`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

const SUBSCRIPTION = 'subscription($after: String) { notificationAdded(after: $after) { id title cursor } }';
/** The same with the large fields, for the tests that fill buffers. */
const SUBSCRIPTION_FULL = 'subscription($after: String) { notificationAdded(after: $after) { id title body data cursor } }';

const EMIT = `mutation($input: EmitNotificationInput!) {
  emitNotification(input: $input) { deliveredCount duplicateCount deliveries { recipientId status } }
}`;

interface EmitData {
  emitNotification: { deliveredCount: number; duplicateCount: number; deliveries: { recipientId: string; status: string }[] };
}

function subscriptionUrl(base: string, after?: string, query = SUBSCRIPTION) {
  const u = new URL(`${base}/graphql`);
  u.searchParams.set('query', query);
  u.searchParams.set('variables', JSON.stringify(after ? { after } : {}));
  return u;
}

async function openStream(base: string, token: string, after?: string, query = SUBSCRIPTION) {
  const r = await fetch(subscriptionUrl(base, after, query), {
    headers: { accept: 'text/event-stream', authorization: `Bearer ${token}` },
  });
  expect(r.status).toBe(200);
  return new SseReader(r);
}

/**
 * A raw HTTP/1.1 SSE subscription on node:net that stops reading once the response has started
 * (the socket is paused: the kernel's receive buffer fills, then the server's send buffer, then
 * Herald's own). `resume()` reads again and resolves with the bytes read when the server closes.
 */
async function stalledSubscription(base: string, token: string) {
  const u = subscriptionUrl(base, undefined, SUBSCRIPTION_FULL);
  const socket: Socket = connect(Number(u.port), u.hostname);
  socket.on('error', () => {});
  let closedAt = 0;
  const closed = new Promise<void>((resolve) =>
    socket.once('close', () => {
      closedAt = performance.now();
      resolve();
    }),
  );
  await once(socket, 'connect');
  socket.write(
    `GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nAuthorization: Bearer ${token}\r\nAccept: text/event-stream\r\n\r\n`,
  );
  let head = '';
  let received = 0;
  await new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      received += d.length;
      head += d.toString('latin1');
      if (head.includes('\r\n\r\n') && head.includes(':\n\n')) {
        socket.off('data', onData);
        socket.pause();
        resolve();
      }
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error(`closed before the stream started: ${head}`)));
  });
  expect(head.startsWith('HTTP/1.1 200')).toBe(true);
  return {
    socket,
    /** Reads again; resolves with the total bytes read once the server has closed the connection. */
    async resume(timeoutMs: number) {
      socket.on('data', (d: Buffer) => {
        received += d.length;
      });
      socket.resume();
      const ok = await Promise.race([closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), timeoutMs))]);
      if (!ok) throw new Error(`the server did not close the stalled connection within ${timeoutMs} ms (read ${received} bytes)`);
      return { received, closedAt };
    },
  };
}

const settled = (p: Promise<unknown>) =>
  Promise.race([p.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 0))]);

describe('TCP_KEEPALIVE_MS', () => {
  it('is 0 (off) or at least 1000: Node sets whole seconds, and 0 s would leave the kernel default (first probe after 2 hours)', () => {
    expect(() => loadConfig({ TCP_KEEPALIVE_MS: '500' })).toThrow(/TCP_KEEPALIVE_MS/);
    expect(loadConfig({ TCP_KEEPALIVE_MS: '0' }).TCP_KEEPALIVE_MS).toBe(0);
    expect(loadConfig({ TCP_KEEPALIVE_MS: '1000' }).TCP_KEEPALIVE_MS).toBe(1000);
  });
});

describe.runIf(ENABLED)('outages and resources (real processes, PostgreSQL, private Redis)', () => {
  let cluster: Cluster;
  let redis: PrivateRedis;
  let scratch: { url: string; drop: () => Promise<void> };
  let producer: string;
  const cleanups: (() => Promise<unknown>)[] = [];

  const token = (sub: string) => signToken(TEST_SECRET, { sub });

  /** One instance for the slow-reader and stream-cap tests, started on first use. */
  let slow: Promise<Instance> | undefined;
  const slowInstance = () =>
    (slow ??= cluster.start({
      STREAM_BUFFER_LIMIT_BYTES: String(SLOW_LIMIT),
      MAX_STREAMS_PER_USER: String(MAX_STREAMS),
      HEARTBEAT_INTERVAL_MS: '500',
    }));

  /** The user ids' presence as producers see it (the `presence` query). */
  async function presence(instance: Instance, userIds: string[]) {
    const r = await gql<{ presence: { userId: string; online: boolean }[] }>(
      instance.url,
      producer,
      'query($ids: [ID!]!) { presence(userIds: $ids) { userId online } }',
      { ids: userIds },
    );
    expect(r.errors).toBeUndefined();
    return Object.fromEntries(r.data!.presence.map((p) => [p.userId, p.online]));
  }

  /** What released users held is gone from Redis: no subscriber on their channels, and they are offline. */
  async function expectReleased(instance: Instance, userIds: string[]) {
    const channels = userIds.map((u) => `herald:user:${u}`);
    await waitFor(
      `no subscriber on ${channels.join(', ')}`,
      async () => Object.values(await redis.numsub(channels)).every((n) => n === 0),
      10_000,
    );
    // The instance asked answers at once for its own users; another instance's entries go when that
    // one refreshes (every PRESENCE_TTL_MS / 3) and expire after PRESENCE_TTL_MS at the latest.
    await waitFor(
      `${userIds.join(', ')} offline`,
      async () => !Object.values(await presence(instance, userIds)).some(Boolean),
      PRESENCE_TTL_MS + 2_000,
      100,
    );
  }

  /** The instance's counts are back to `baseline` (streams, users, SSE streams, buffered bytes). */
  async function expectBaseline(instance: Instance, baseline: Stats, label: string) {
    const pick = (s: Stats) => ({ streams: s.streams, users: s.users, sseStreams: s.sseStreams, bufferedBytes: s.bufferedBytes });
    let last: Stats | undefined;
    await waitFor(
      `${label}: counts back to baseline ${JSON.stringify(pick(baseline))}`,
      async () => {
        last = await stats(instance);
        return JSON.stringify(pick(last)) === JSON.stringify(pick(baseline));
      },
      15_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}; now ${JSON.stringify(last && pick(last))}`);
    });
  }

  beforeAll(async () => {
    scratch = await createScratchDatabase('herald_res');
    const db = await openDatabase({ url: scratch.url });
    await db.migrate();
    await db.close();
    redis = await startPrivateRedis();
    producer = await signToken(TEST_SECRET, { sub: 'producer', scope: EMIT_SCOPE });
    cluster = new Cluster({
      DATABASE_URL: scratch.url,
      REDIS_URL: redis.url,
      BENCH_STATS: 'true',
      NODE_OPTIONS: '--expose-gc',
      PRESENCE_TTL_MS: String(PRESENCE_TTL_MS),
    });
  });

  afterAll(async () => {
    await cluster?.cleanup();
    for (const c of cleanups.reverse()) await c().catch((e: Error) => log(`cleanup failed: ${e.message}`));
    await redis?.stop();
    await scratch?.drop();
  });

  it('PostgreSQL unreachable: emits fail fast and retriable, streams stay up, nothing half-written, the retry delivers once', {
    timeout: 180_000,
  }, async () => {
    const proxy = FaultProxy.forUrl(scratch.url);
    await proxy.start();
    cleanups.push(() => proxy.close());
    const herald = await cluster.start({
      DATABASE_URL: proxy.rewrite(scratch.url),
      DATABASE_POOL_SIZE: '4',
      DATABASE_QUERY_TIMEOUT_MS: String(QUERY_TIMEOUT_MS),
      HEARTBEAT_INTERVAL_MS: '250',
      CATCHUP_INTERVAL_MS: '1000',
    });
    const users = ['pg-alice', 'pg-bob'];
    const tokens = await Promise.all(users.map(token));
    const emit = (title: string, idempotencyKey: string) =>
      gql<EmitData>(herald.url, producer, EMIT, { input: { recipientIds: users, title, body: 'b', type: 'ALERT', idempotencyKey } });
    const streams = await Promise.all(
      tokens.map(async (t) => {
        const inbox = await gql<{ notifications: { streamCursor: string } }>(herald.url, t, '{ notifications { streamCursor } }');
        return openStream(herald.url, t, inbox.data!.notifications.streamCursor);
      }),
    );
    const titlesOf = async (n: number) =>
      Promise.all(
        streams.map(async (s) =>
          (await s.take<{ notificationAdded: { title: string } }>(n, 15_000)).map((e) => e.data.notificationAdded.title),
        ),
      );

    expect((await emit('before', 'k-before')).data?.emitNotification.deliveredCount).toBe(2);
    expect(await titlesOf(1)).toEqual([['before'], ['before']]);

    // 1. Refused: every pooled connection is reset, new ones are refused.
    await proxy.cut('refuse');
    const cutAt = performance.now();
    const beats = streams.map((s) => s.comments);
    const refused = await emit('during outage', 'k-outage');
    log(
      `emit while PostgreSQL refuses connections: ${refused.ms.toFixed(0)} ms, HTTP ${refused.status}, ${JSON.stringify(refused.errors?.[0])}`,
    );
    expect(refused.status).not.toBe(500);
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'SERVICE_UNAVAILABLE', retriable: true });
    expect(refused.data?.emitNotification ?? null).toBeNull();
    expect(refused.ms).toBeLessThan(7_000);
    const inbox = await gql(herald.url, tokens[0]!, '{ notifications(first: 5) { edges { node { id } } } unreadCount }');
    log(`inbox query while refused: ${inbox.ms.toFixed(0)} ms, ${JSON.stringify(inbox.errors?.[0]?.extensions)}`);
    expect(inbox.status).not.toBe(500);
    expect(inbox.errors?.[0]?.extensions).toMatchObject({ code: 'SERVICE_UNAVAILABLE', retriable: true });

    // 2. Blackholed: new connections are accepted and never answered (a partition, not a refusal).
    await proxy.cut('blackhole');
    const blackholed = await emit('during outage', 'k-outage');
    log(`emit while PostgreSQL is blackholed: ${blackholed.ms.toFixed(0)} ms, ${JSON.stringify(blackholed.errors?.[0]?.extensions)}`);
    expect(blackholed.status).not.toBe(500);
    expect(blackholed.errors?.[0]?.extensions).toMatchObject({ code: 'SERVICE_UNAVAILABLE', retriable: true });
    expect(blackholed.ms).toBeLessThan(CONNECT_TIMEOUT_MS + 5_000);
    const inbox2 = await gql(herald.url, tokens[1]!, '{ unreadCount }');
    log(`inbox query while blackholed: ${inbox2.ms.toFixed(0)} ms, ${JSON.stringify(inbox2.errors?.[0]?.extensions)}`);
    expect(inbox2.errors?.[0]?.extensions).toMatchObject({ code: 'SERVICE_UNAVAILABLE', retriable: true });

    // The open streams stayed up through the outage: not ended, still receiving heartbeats.
    const during = await stats(herald);
    expect(during.streams).toBe(2);
    expect(during.sseStreams).toBe(2);
    for (const [i, s] of streams.entries()) {
      expect(await settled(s.done)).toBe(false);
      expect(s.comments).toBeGreaterThan(beats[i]! + 2);
    }
    log(
      `outage lasted ${((performance.now() - cutAt) / 1000).toFixed(1)} s; heartbeats per stream meanwhile: ${streams.map((s, i) => s.comments - beats[i]!).join(', ')}`,
    );

    await proxy.restore();
    await waitFor('instance ready again', async () => (await fetch(`${herald.url}/ready`)).ok, 20_000, 200);

    // Nothing half-written: no row of the failed emits, counters match the rows.
    const direct = new pg.Client({ connectionString: scratch.url });
    await direct.connect();
    cleanups.push(() => direct.end());
    const consistent = async () => {
      const { rows } = await direct.query<{
        user_id: string;
        last_seq: string;
        unread_count: number;
        n: string;
        max: string | null;
        unread: string;
      }>(
        `SELECT s.user_id, s.last_seq, s.unread_count, count(n.id) AS n, max(n.seq) AS max, count(n.id) FILTER (WHERE n.read_at IS NULL AND n.archived_at IS NULL) AS unread
         FROM inbox_state s LEFT JOIN notification n ON n.recipient_id = s.user_id WHERE s.user_id = ANY($1) GROUP BY s.user_id, s.last_seq, s.unread_count ORDER BY s.user_id`,
        [users],
      );
      for (const r of rows) {
        expect(Number(r.last_seq)).toBe(Number(r.n));
        expect(Number(r.max)).toBe(Number(r.n));
        expect(r.unread_count).toBe(Number(r.unread));
      }
      return rows.map((r) => Number(r.n));
    };
    expect(await consistent()).toEqual([1, 1]);
    const countTitle = async (title: string) =>
      Number((await direct.query<{ n: string }>('SELECT count(*) AS n FROM notification WHERE title = $1', [title])).rows[0]!.n);
    expect(await countTitle('during outage')).toBe(0);

    // The producer's retry with the same key delivers, once, to the streams that stayed open.
    const retried = await emit('during outage', 'k-outage');
    expect(retried.errors).toBeUndefined();
    expect(retried.data!.emitNotification.deliveredCount).toBe(2);
    expect(await titlesOf(1)).toEqual([['during outage'], ['during outage']]);
    expect(await consistent()).toEqual([2, 2]);

    // 3. Frozen: pooled connections stay open and carry nothing any more (a partition: no RST, no
    // FIN). Without a query timeout this hung for as long as TCP retransmits (about 15 minutes).
    await proxy.cut('freeze');
    const frozen = await emit('frozen', 'k-frozen');
    log(`emit while PostgreSQL connections are frozen: ${frozen.ms.toFixed(0)} ms, ${JSON.stringify(frozen.errors?.[0]?.extensions)}`);
    expect(frozen.errors?.[0]?.extensions).toMatchObject({ code: 'SERVICE_UNAVAILABLE', retriable: true });
    expect(frozen.ms).toBeLessThan(QUERY_TIMEOUT_MS + CONNECT_TIMEOUT_MS + 5_000);
    const inbox3 = await gql(herald.url, tokens[1]!, '{ unreadCount }');
    log(`inbox query while frozen: ${inbox3.ms.toFixed(0)} ms, ${JSON.stringify(inbox3.errors?.[0]?.extensions)}`);
    expect(inbox3.errors?.[0]?.extensions).toMatchObject({ code: 'SERVICE_UNAVAILABLE', retriable: true });
    expect(inbox3.ms).toBeLessThan(QUERY_TIMEOUT_MS + CONNECT_TIMEOUT_MS + 5_000);
    await proxy.restore();
    await waitFor('instance ready again', async () => (await fetch(`${herald.url}/ready`)).ok, 20_000, 200);
    expect(await countTitle('frozen')).toBe(0);
    expect(await consistent()).toEqual([2, 2]);
    const retried3 = await emit('frozen', 'k-frozen');
    expect(retried3.errors).toBeUndefined();
    expect(retried3.data!.emitNotification.deliveredCount).toBe(2);
    expect(await titlesOf(1)).toEqual([['frozen'], ['frozen']]);

    // 4. The answer to COMMIT is lost: PostgreSQL committed, the emit cannot know. It fails with the
    // retriable code; the retry with the same key reports DUPLICATE and delivers nothing twice, and
    // the streams get the notification exactly once (from the database: it was never published).
    const lost = proxy.loseAnswerTo(/COMMIT/);
    const ambiguous = await emit('commit answer lost', 'k-ambiguous').catch((error: Error) => {
      throw new Error(`${error.message}; the instance logged:\n${herald.output().slice(-4000)}`);
    });
    await lost;
    log(`emit whose COMMIT answer was lost: ${ambiguous.ms.toFixed(0)} ms, ${JSON.stringify(ambiguous.errors?.[0]?.extensions)}`);
    expect(ambiguous.errors?.[0]?.extensions).toMatchObject({ code: 'SERVICE_UNAVAILABLE', retriable: true });
    expect(await countTitle('commit answer lost')).toBe(2);
    const retry2 = await emit('commit answer lost', 'k-ambiguous');
    expect(retry2.errors).toBeUndefined();
    expect(retry2.data!.emitNotification).toMatchObject({ deliveredCount: 0, duplicateCount: 2 });
    expect(await titlesOf(1)).toEqual([['commit answer lost'], ['commit answer lost']]);
    for (const s of streams) expect(await s.quietFor(1_500)).toBe(true);
    expect(await consistent()).toEqual([4, 4]);

    const baseline = { streams: 0, users: 0, sseStreams: 0, bufferedBytes: 0 } as Stats;
    await Promise.all(streams.map((s) => s.close()));
    await expectBaseline(herald, baseline, 'after the outage test');
    await expectReleased(herald, users);
  });
  it('a reader that stops reading is dropped at STREAM_BUFFER_LIMIT_BYTES; others keep receiving; everything it held is released', {
    timeout: 120_000,
  }, async () => {
    const herald = await slowInstance();
    const before = await stats(herald, true);
    const [alice, bob] = ['slow-alice', 'slow-bob'];
    const bobStream = await openStream(herald.url, await token(bob), undefined, SUBSCRIPTION_FULL);
    const stalled = await stalledSubscription(herald.url, await token(alice));
    await waitFor('both streams open', async () => (await stats(herald)).streams === before.streams + 2);
    expect(await presence(herald, [alice, bob])).toEqual({ [alice]: true, [bob]: true });

    const body = 'b'.repeat(9_000);
    const data = { pad: 'x'.repeat(15_000) };
    let emitted = 0;
    let maxBuffered = 0;
    let eventBytes = 0;
    let dropped: Stats | undefined;
    const started = performance.now();
    while (emitted < 600 && !dropped) {
      emitted++;
      const r = await gql<EmitData>(herald.url, producer, EMIT, {
        input: { recipientIds: [alice, bob], title: `slow-${emitted}`, body, data, type: 'UPDATE' },
      });
      expect(r.errors).toBeUndefined();
      const s = await stats(herald);
      maxBuffered = Math.max(maxBuffered, s.bufferedBytes);
      if (s.droppedSlow > before.droppedSlow) dropped = s;
      if (emitted === 1) {
        const [first] = await bobStream.take<{ notificationAdded: { title: string } }>(1, 15_000);
        eventBytes =
          Buffer.byteLength(`id: ${first!.id}\nevent: next\ndata: `) +
          Buffer.byteLength(JSON.stringify({ data: first!.data, extensions: { cursor: first!.id } })) +
          2;
      }
    }
    expect(dropped, `no drop after ${emitted} events of ${eventBytes} bytes`).toBeDefined();
    const afterDrop = await stats(herald, true);
    log(
      `slow reader dropped after ${emitted} events of ~${eventBytes} bytes (~${((emitted * eventBytes) / 1024).toFixed(0)} KiB sent to it, limit ${SLOW_LIMIT / 1024} KiB) in ${(
        (performance.now() - started) / 1000
      ).toFixed(
        1,
      )} s; largest bufferedBytes seen ${maxBuffered}; heap+external ${((before.heapUsed + before.external) / 2 ** 20).toFixed(1)} -> ${(
        (afterDrop.heapUsed + afterDrop.external) / 2 ** 20
      ).toFixed(1)} MiB, rss ${(before.rss / 2 ** 20).toFixed(0)} -> ${(afterDrop.rss / 2 ** 20).toFixed(0)} MiB`,
    );
    expect(dropped!.droppedSlow).toBe(before.droppedSlow + 1);
    // What Herald holds for a stalled reader never exceeds the bound (it is dropped on passing it).
    expect(maxBuffered).toBeLessThanOrEqual(SLOW_LIMIT);
    expect(afterDrop.heapUsed + afterDrop.external - (before.heapUsed + before.external)).toBeLessThan(32 * 2 ** 20);

    // The server closed the connection: the client reads what the kernels held, then sees the end.
    const { received } = await stalled.resume(10_000);
    log(`stalled client read ${(received / 1024).toFixed(0)} KiB after resuming, then the connection was closed by the server`);

    // Only the slow reader was dropped: the other user's stream received everything, in order.
    const rest = await bobStream.take<{ notificationAdded: { title: string } }>(emitted - 1, 30_000);
    expect(rest.map((e) => e.data.notificationAdded.title)).toEqual(Array.from({ length: emitted - 1 }, (_, i) => `slow-${i + 2}`));
    await waitFor('the slow reader released', async () => {
      const s = await stats(herald);
      return s.streams === before.streams + 1 && s.users === before.users + 1 && s.sseStreams === before.sseStreams + 1;
    });
    await expectReleased(herald, [alice]);
    expect(await presence(herald, [bob])).toEqual({ [bob]: true });
    const more = await gql<EmitData>(herald.url, producer, EMIT, {
      input: { recipientIds: [bob], title: 'still here', body: 'b', type: 'UPDATE' },
    });
    expect(more.errors).toBeUndefined();
    expect((await bobStream.take<{ notificationAdded: { title: string } }>(1))[0]!.data.notificationAdded.title).toBe('still here');

    await bobStream.close();
    await expectBaseline(herald, before, 'after the slow-reader test');
    await expectReleased(herald, [alice, bob]);
  });

  it('the per-user stream cap answers TOO_MANY_STREAMS; closing streams frees their slots', { timeout: 60_000 }, async () => {
    const herald = await slowInstance();
    const before = await stats(herald);
    const carol = await token('cap-carol');
    const open = await Promise.all(Array.from({ length: MAX_STREAMS }, () => openStream(herald.url, carol)));
    await waitFor(`${MAX_STREAMS} streams open`, async () => (await stats(herald)).streams === before.streams + MAX_STREAMS);
    const extra = await openStream(herald.url, carol);
    const refused = await extra.nextResult(10_000);
    expect(refused.result.errors?.[0]?.extensions).toMatchObject({ code: 'TOO_MANY_STREAMS', limit: MAX_STREAMS });
    expect(await extra.next(5_000)).toMatchObject({ event: 'complete' });
    expect((await stats(herald)).streams).toBe(before.streams + MAX_STREAMS);
    // A slot freed by a closed stream can be used again.
    await open.pop()!.close();
    await waitFor('a slot freed', async () => (await stats(herald)).streams === before.streams + MAX_STREAMS - 1);
    const again = await openStream(herald.url, carol);
    open.push(again);
    await waitFor('the slot used again', async () => (await stats(herald)).streams === before.streams + MAX_STREAMS);
    await Promise.all(open.map((s) => s.close()));
    await expectBaseline(herald, before, 'after the cap test');
    await expectReleased(herald, ['cap-carol']);
  });

  it.skipIf(NETNS_UNAVAILABLE)(
    'a client gone without FIN (cable pulled between network namespaces) is released: by TCP keepalive when idle, by the buffer bound when written to',
    { timeout: 120_000 },
    async () => {
      const ns = await FaultNetns.create();
      cleanups.push(() => ns.cleanup());
      const common = { HOST: ns.hostAddress, TCP_KEEPALIVE_MS: String(KEEPALIVE_MS), STREAM_BUFFER_LIMIT_BYTES: String(SLOW_LIMIT) };
      // idle: no heartbeat during the test, so nothing is ever in flight and keepalive alone decides.
      // busy: heartbeats every 500 ms, so after the cut there is always unacknowledged data.
      const [idle, busy] = await Promise.all([
        cluster.start({ ...common, HEARTBEAT_INTERVAL_MS: '300000' }),
        cluster.start({ ...common, HEARTBEAT_INTERVAL_MS: '500' }),
      ]);
      const before = await Promise.all([stats(idle!), stats(busy!)]);
      const users = ['gone-idle', 'gone-busy'];
      const clients = await Promise.all(
        [idle!, busy!].map(async (instance, i) => {
          const child = ns.spawn([
            process.execPath,
            '-e',
            NS_CLIENT,
            subscriptionUrl(instance.url, undefined, SUBSCRIPTION_FULL).toString(),
            await token(users[i]!),
          ]);
          return { child, lines: collectLines(child) };
        }),
      );
      for (const c of clients) await waitFor('the namespaced client streaming', () => c.lines.some((l) => l.startsWith('data')), 20_000);
      await waitFor('both streams open', async () => (await stats(idle!)).streams === 1 && (await stats(busy!)).streams === 1);
      // Another instance's users show up once it refreshes presence (every PRESENCE_TTL_MS / 3).
      await waitFor('both users online', async () => Object.values(await presence(idle!, users)).every(Boolean), 10_000, 200);

      await ns.pullCable();
      const cut = performance.now();
      // Nothing can reach the server from the client any more: even killing it sends no FIN.
      for (const c of clients) c.child.kill('SIGKILL');

      // idle: released by keepalive. Node 20 (libuv 1.46) sets TCP_KEEPIDLE = floor(ms / 1000) s,
      // TCP_KEEPINTVL = 1 s, TCP_KEEPCNT = 10: the kernel resets the connection 10 unanswered probes
      // after the last segment received, so within KEEPIDLE + 10 s of the cut.
      const bound = Math.floor(KEEPALIVE_MS / 1000) + 10;
      await waitFor('the idle vanished client released', async () => (await stats(idle!)).streams === 0, (bound + 10) * 1000, 100);
      const idleReleased = (performance.now() - cut) / 1000;
      const busyAtThatTime = await stats(busy!);
      log(
        `vanished idle client released ${idleReleased.toFixed(1)} s after the cable pull (bound ${bound} s + timer slack); the busy one (heartbeats in flight) then still had ${busyAtThatTime.streams} stream(s) open`,
      );
      expect(idleReleased).toBeLessThan(bound + 3);

      // busy: data in flight suspends keepalive (Linux probes only idle connections), so writes
      // release it: each one waits in the socket until STREAM_BUFFER_LIMIT_BYTES drops the stream.
      let emitted = 0;
      const body = 'b'.repeat(9_000);
      while ((await stats(busy!)).streams > 0 && emitted < 200) {
        emitted++;
        const r = await gql<EmitData>(busy!.url, producer, EMIT, {
          input: { recipientIds: ['gone-busy'], title: `gone-${emitted}`, body, data: { pad: 'x'.repeat(15_000) }, type: 'UPDATE' },
        });
        expect(r.errors).toBeUndefined();
      }
      const busyReleased = (performance.now() - cut) / 1000;
      const after = await stats(busy!);
      log(
        `vanished busy client released ${busyReleased.toFixed(1)} s after the cable pull, after ${emitted} notifications of ~25 KiB written to it (droppedSlow ${before[1]!.droppedSlow} -> ${after.droppedSlow})`,
      );
      expect(after.streams).toBe(0);

      await expectBaseline(idle!, before[0]!, 'idle instance after the cable pull');
      await expectBaseline(busy!, before[1]!, 'busy instance after the cable pull');
      await expectReleased(idle!, users);
    },
  );
  it('afterwards no user channel is subscribed on the private Redis and nobody is online', async () => {
    expect(await redis.channels('herald:user:*')).toEqual([]);
    const keys = await redis.client.keys('herald:presence:*');
    await waitFor(
      'no live presence entry',
      async () => {
        for (const key of keys) if ((await redis.client.zcount(key, Date.now(), '+inf')) > 0) return false;
        return true;
      },
      PRESENCE_TTL_MS + 2_000,
      100,
    );
    log(`private Redis after the file: no user channel subscribed; ${keys.length} presence keys, no live entry`);
  });
});
