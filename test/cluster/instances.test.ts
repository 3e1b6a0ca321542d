import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMIT_SCOPE, signToken } from '../../src/auth/tokens.ts';
import { openDatabase } from '../../src/db/index.ts';
import { TEST_SECRET } from '../helpers/app.ts';
import { createScratchDatabase, TEST_DATABASE_URL, TEST_REDIS_URL } from '../helpers/backends.ts';
import { report, tally } from '../helpers/chaos-client.ts';
import { Cluster } from '../helpers/cluster.ts';
import { SseReader } from '../helpers/sse.ts';

const gql = async (url: string, token: string, query: string, variables: Record<string, unknown> = {}) => {
  const r = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  return r.json() as Promise<{ data?: Record<string, unknown>; errors?: unknown[] }>;
};

const subscribe = async (url: string, token: string, after: string) => {
  const u = new URL(`${url}/graphql`);
  u.searchParams.set('query', 'subscription($after: String) { notificationAdded(after: $after) { title cursor } }');
  u.searchParams.set('variables', JSON.stringify({ after }));
  return new SseReader(await fetch(u, { headers: { accept: 'text/event-stream', authorization: `Bearer ${token}` } }));
};

describe.runIf(TEST_DATABASE_URL && TEST_REDIS_URL)('several instances on one PostgreSQL and Redis', () => {
  let cluster: Cluster;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    const scratch = await createScratchDatabase('herald_cluster');
    drop = scratch.drop;
    const db = await openDatabase({ url: scratch.url });
    await db.migrate();
    await db.close();
    cluster = new Cluster({ DATABASE_URL: scratch.url, REDIS_URL: TEST_REDIS_URL! });
  });
  afterAll(async () => {
    await cluster.cleanup();
    await drop();
  });

  it('delivers to a subscriber on one instance what is emitted on another', async () => {
    const [a, b] = await Promise.all([cluster.start(), cluster.start()]);
    const producer = await signToken(TEST_SECRET, { sub: 'producer', scope: EMIT_SCOPE });
    const alice = await signToken(TEST_SECRET, { sub: 'cluster-alice' });
    const inbox = await gql(a!.url, alice, '{ notifications { streamCursor } }');
    const after = (inbox.data!['notifications'] as { streamCursor: string }).streamCursor;
    const stream = await subscribe(a!.url, alice, after);
    const sent = performance.now();
    const emitted = await gql(
      b!.url,
      producer,
      'mutation { emitNotification(input: {recipientIds: ["cluster-alice"], title: "across", body: "b", type: UPDATE}) { deliveredCount } }',
    );
    expect(emitted.errors).toBeUndefined();
    const [event] = await stream.take<{ notificationAdded: { title: string } }>(1);
    console.log(`emit on B -> receipt on A: ${(performance.now() - sent).toFixed(1)} ms (including the emit round trip)`);
    expect(event!.data.notificationAdded.title).toBe('across');
    await stream.close();
  });

  it('a bulk emit reaches subscribers on the emitting instance and on another, each exactly once and in order', async () => {
    // 100 recipients travel as one fan-out message; the emitting instance delivers to its own
    // subscribers itself and skips the echo from Redis, the other instance delivers from Redis.
    const [a, b] = await Promise.all([cluster.start(), cluster.start()]);
    const producer = await signToken(TEST_SECRET, { sub: 'producer', scope: EMIT_SCOPE });
    const users = Array.from({ length: 100 }, (_, i) => `cluster-fan-${i}`);
    const watched = [users[0]!, users[1]!, users[2]!, users[3]!];
    const streams = await Promise.all(
      watched.map(async (u, i) => subscribe((i % 2 === 0 ? a : b)!.url, await signToken(TEST_SECRET, { sub: u }), 'aDE6MA')),
    );
    const bulk = (title: string) =>
      gql(
        b!.url,
        producer,
        `mutation($ids: [ID!]!) { emitNotification(input: {recipientIds: $ids, title: "${title}", body: "b", type: SYSTEM_NOTICE}) { deliveredCount } }`,
        { ids: users },
      );
    expect((await bulk('fan-1')).data).toEqual({ emitNotification: { deliveredCount: 100 } });
    expect((await bulk('fan-2')).data).toEqual({ emitNotification: { deliveredCount: 100 } });
    for (const stream of streams) {
      const got = await stream.take<{ notificationAdded: { title: string } }>(2);
      expect(got.map((e) => e.data.notificationAdded.title)).toEqual(['fan-1', 'fan-2']);
      expect(got.map((e) => e.id)).toEqual(['aDE6MQ', 'aDE6Mg']);
    }
    expect(await Promise.all(streams.map((s) => s.quietFor(300)))).toEqual([true, true, true, true]);
    await Promise.all(streams.map((s) => s.close()));
  });

  it('a client of a killed instance resumes on another from its last cursor, losing nothing', async () => {
    const [a, b] = await Promise.all([cluster.start(), cluster.start()]);
    const producer = await signToken(TEST_SECRET, { sub: 'producer', scope: EMIT_SCOPE });
    const bob = await signToken(TEST_SECRET, { sub: 'cluster-bob' });
    const emit = (title: string) =>
      gql(
        b!.url,
        producer,
        `mutation { emitNotification(input: {recipientIds: ["cluster-bob"], title: "${title}", body: "b", type: UPDATE}) { deliveredCount } }`,
      );
    const first = await subscribe(a!.url, bob, 'aDE6MA');
    await emit('k1');
    await emit('k2');
    const got = await first.take<{ notificationAdded: { title: string } }>(2);
    await a!.kill();
    await emit('k3'); // while the client is disconnected
    const resumed = await subscribe(b!.url, bob, got[1]!.id!);
    await emit('k4');
    const rest = await resumed.take<{ notificationAdded: { title: string } }>(2);
    const quiet = await resumed.quietFor(200);
    const titles = [...got, ...rest].map((e) => e.data.notificationAdded.title);
    report('kill -9 + resume on another instance', [
      tally(
        [1, 2, 3, 4],
        titles.map((t) => Number(t.slice(1))),
      ),
    ]);
    expect(titles).toEqual(['k1', 'k2', 'k3', 'k4']);
    expect(quiet).toBe(true);
    await resumed.close();
  });
});
