import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMIT_SCOPE, signToken } from '../../src/auth/tokens.ts';
import { type Database, openDatabase } from '../../src/db/index.ts';
import { NotificationAdded } from '../documents.ts';
import { startTestApp, TEST_SECRET, type TestApp } from '../helpers/app.ts';
import { createScratchDatabase, TEST_DATABASE_URL, TEST_REDIS_URL } from '../helpers/backends.ts';
import { Cluster, type Instance } from '../helpers/cluster.ts';
import { type SseEvent, SseReader } from '../helpers/sse.ts';

// Issue 13, erase a user (GDPR): one producer call deletes everything Herald holds of a user and
// ends the user's streams on every instance. Two server processes on one PostgreSQL and Redis.

type Answer = { data?: Record<string, unknown> | null; errors?: { message: string; extensions?: { code?: string } }[] };

const gql = async (url: string, token: string | null, query: string, variables: Record<string, unknown> = {}): Promise<Answer> => {
  const r = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return r.json() as Promise<Answer>;
};

const ERASE = 'mutation($id: ID!) { eraseUser(userId: $id) { userId notificationsDeleted inboxStatesDeleted preferencesDeleted } }';
const EMIT = `mutation($ids: [ID!]!, $title: String!, $key: String) {
  emitNotification(input: {recipientIds: $ids, title: $title, body: "b", type: UPDATE, idempotencyKey: $key}) { deliveredCount duplicateCount }
}`;

async function stream(url: string, token: string, method: 'GET' | 'POST', query: string): Promise<SseReader> {
  const headers = { accept: 'text/event-stream', authorization: `Bearer ${token}` };
  if (method === 'POST') {
    return new SseReader(
      await fetch(`${url}/graphql`, {
        method,
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify({ query }),
      }),
    );
  }
  const u = new URL(`${url}/graphql`);
  u.searchParams.set('query', query);
  return new SseReader(await fetch(u, { headers }));
}

/** Reads a stream to its end; returns every event it carried. */
async function drain(reader: SseReader): Promise<SseEvent[]> {
  const events: SseEvent[] = [];
  for (;;) {
    const e = await reader.next(10_000);
    if (e === null) return events;
    events.push(e);
  }
}

describe.runIf(TEST_DATABASE_URL && TEST_REDIS_URL)('eraseUser across two instances', () => {
  let cluster: Cluster;
  let db: Database;
  let drop: () => Promise<void>;
  let a: Instance;
  let b: Instance;
  let producer: string;

  beforeAll(async () => {
    const scratch = await createScratchDatabase('herald_erase');
    drop = scratch.drop;
    db = await openDatabase({ url: scratch.url });
    await db.migrate();
    cluster = new Cluster({ DATABASE_URL: scratch.url, REDIS_URL: TEST_REDIS_URL ?? '' });
    [a, b] = await Promise.all([cluster.start(), cluster.start()]);
    producer = await signToken(TEST_SECRET, { sub: 'producer', scope: EMIT_SCOPE });
  }, 60_000);

  afterAll(async () => {
    await cluster.cleanup();
    await db.close();
    await drop();
  });

  const rowsOf = async (userId: string) => {
    const [row] = await db.sql.query<{ n: number; s: number; p: number }>(
      `SELECT (SELECT count(*)::int FROM notification WHERE recipient_id = $1) AS n,
              (SELECT count(*)::int FROM inbox_state WHERE user_id = $1) AS s,
              (SELECT count(*)::int FROM notification_preference WHERE user_id = $1) AS p`,
      [userId],
    );
    return row;
  };

  it('deletes the user, ends their streams on both instances, leaves others alone, and is idempotent', { timeout: 60_000 }, async () => {
    const alice = await signToken(TEST_SECRET, { sub: 'erase-alice' });
    const bob = await signToken(TEST_SECRET, { sub: 'erase-bob' });
    for (let i = 0; i < 3; i++) {
      const r = await gql(a.url, producer, EMIT, { ids: ['erase-alice', 'erase-bob'], title: `n${i}`, key: `k${i}` });
      expect(r.errors).toBeUndefined();
    }
    const prefs = await gql(b.url, alice, 'mutation { updateNotificationPreferences(input: {email: false}) { email } }');
    expect(prefs.errors).toBeUndefined();
    expect(await rowsOf('erase-alice')).toEqual({ n: 3, s: 1, p: 1 });

    const aliceOnA = await stream(a.url, alice, 'GET', 'subscription { inboxEvents { __typename } }');
    const aliceOnB = await stream(b.url, alice, 'POST', 'subscription { notificationAdded { title } }');
    const bobOnB = await stream(b.url, bob, 'GET', 'subscription { notificationAdded { title } }');
    expect((await aliceOnA.nextResult()).result.errors).toBeUndefined(); // the opening unread count: the stream is live
    // Streams are live on both instances once an emit reaches them.
    await gql(a.url, producer, EMIT, { ids: ['erase-alice', 'erase-bob'], title: 'live' });
    await aliceOnB.take(1);
    await bobOnB.take(1);

    const erased = await gql(a.url, producer, ERASE, { id: 'erase-alice' });
    expect(erased.errors).toBeUndefined();
    expect(erased.data?.eraseUser).toEqual({
      userId: 'erase-alice',
      notificationsDeleted: 4,
      inboxStatesDeleted: 1,
      preferencesDeleted: 1,
    });

    // Both of alice's streams end, each with a final USER_ERASED error (the one on B through Redis).
    for (const ended of await Promise.all([drain(aliceOnA), drain(aliceOnB)])) {
      const codes = ended
        .flatMap((e) => (e.event === 'next' ? ((JSON.parse(e.data) as Answer).errors ?? []) : []))
        .map((e) => e.extensions?.code);
      expect(codes).toContain('USER_ERASED');
    }

    expect(await rowsOf('erase-alice')).toEqual({ n: 0, s: 0, p: 0 });
    const inbox = await gql(b.url, alice, '{ notifications { edges { node { id } } } unreadCount notificationPreferences { email } }');
    expect(inbox.data).toEqual({ notifications: { edges: [] }, unreadCount: 0, notificationPreferences: { email: true } });

    // Bob: untouched, still streaming.
    expect(await rowsOf('erase-bob')).toEqual({ n: 4, s: 1, p: 0 });
    await gql(b.url, producer, EMIT, { ids: ['erase-bob'], title: 'after' });
    const [after] = await bobOnB.take<{ notificationAdded: { title: string } }>(1);
    expect(after?.data.notificationAdded.title).toBe('after');
    await bobOnB.close();

    // Again (on the other instance): nothing left, zeros, no error.
    const again = await gql(b.url, producer, ERASE, { id: 'erase-alice' });
    expect(again).toEqual({
      data: { eraseUser: { userId: 'erase-alice', notificationsDeleted: 0, inboxStatesDeleted: 0, preferencesDeleted: 0 } },
    });
    // The idempotency keys went with the notifications: the same key delivers again.
    const reused = await gql(a.url, producer, EMIT, { ids: ['erase-alice'], title: 'new life', key: 'k0' });
    expect(reused.data?.emitNotification).toEqual({ deliveredCount: 1, duplicateCount: 0 });
    // A stream opened after the erasure works as for any new user.
    const fresh = await stream(b.url, alice, 'GET', 'subscription { notificationAdded { title } }');
    await gql(a.url, producer, EMIT, { ids: ['erase-alice'], title: 'fresh' });
    const [got] = await fresh.take<{ notificationAdded: { title: string } }>(1);
    expect(got?.data.notificationAdded.title).toBe('fresh');
    await fresh.close();
  });

  it('needs the producer scope and a valid user id', async () => {
    const user = await signToken(TEST_SECRET, { sub: 'erase-mallory' });
    const before = await rowsOf('erase-bob');
    expect((await gql(a.url, user, ERASE, { id: 'erase-bob' })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await gql(a.url, null, ERASE, { id: 'erase-bob' })).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect((await gql(a.url, producer, ERASE, { id: '' })).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect((await gql(a.url, producer, ERASE, { id: 'x'.repeat(256) })).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(await rowsOf('erase-bob')).toEqual(before);
  });
});

describe('eraseUser embedded (one process, in-process bus)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp('embedded');
  }, 60_000);
  afterAll(async () => {
    await t.close();
  });

  it('deletes the rows, ends the stream with USER_ERASED, and a second erasure answers zeros', { timeout: 30_000 }, async () => {
    const base = await t.listen();
    const producer = await t.producerToken();
    const carol = await t.token('erase-carol');
    await gql(base, producer, EMIT, { ids: ['erase-carol', 'erase-dave'], title: 'one' });
    const open = await t.subscribe(NotificationAdded, {}, { token: carol });
    await gql(base, producer, EMIT, { ids: ['erase-carol'], title: 'two' });
    await open.take(1);
    const erased = await gql(base, producer, ERASE, { id: 'erase-carol' });
    expect(erased.data?.eraseUser).toEqual({
      userId: 'erase-carol',
      notificationsDeleted: 2,
      inboxStatesDeleted: 1,
      preferencesDeleted: 0,
    });
    const codes = (await drain(open))
      .flatMap((e) => (e.event === 'next' ? ((JSON.parse(e.data) as Answer).errors ?? []) : []))
      .map((e) => e.extensions?.code);
    expect(codes).toContain('USER_ERASED');
    expect((await gql(base, carol, '{ unreadCount notifications { edges { node { id } } } }')).data).toEqual({
      unreadCount: 0,
      notifications: { edges: [] },
    });
    const dave = await signToken(TEST_SECRET, { sub: 'erase-dave' });
    expect((await gql(base, dave, '{ unreadCount }')).data).toEqual({ unreadCount: 1 });
    expect((await gql(base, producer, ERASE, { id: 'erase-carol' })).data?.eraseUser).toMatchObject({
      notificationsDeleted: 0,
      inboxStatesDeleted: 0,
      preferencesDeleted: 0,
    });
  });
});
