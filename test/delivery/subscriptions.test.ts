import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCursor } from '../../src/domain/cursor.ts';
import { pruneExpired } from '../../src/notifications/retention.ts';
import { Emit, Inbox, InboxEvents, MarkRead, NotificationAdded } from '../documents.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { BACKENDS, TEST_DATABASE_URL, TEST_REDIS_URL } from '../helpers/backends.ts';

type Added = { notificationAdded: { title: string; cursor: string; recipientId: string } };

describe.each(BACKENDS)('live delivery (%s)', (backend) => {
  let t: TestApp;
  let producer: string;
  const emit = (recipientIds: string[], title: string) =>
    t.execute(Emit, { input: { recipientIds, title, body: 'b', type: 'UPDATE' } }, producer);
  beforeAll(async () => {
    t = await startTestApp(backend);
    producer = await t.producerToken();
  });
  afterAll(() => t.close());

  it('fetch-then-listen through streamCursor misses nothing and repeats nothing while emits continue', async () => {
    const token = await t.token('ftl');
    let n = 0;
    const emitting = (async () => {
      while (n < 30) await emit(['ftl'], `m${++n}`);
    })();
    const inbox = await t.execute(Inbox, { first: 100 }, token);
    const fetched = inbox.data!.notifications.edges.map((e) => e.node.title);
    const stream = await t.subscribe(NotificationAdded, { after: inbox.data!.notifications.streamCursor }, { token });
    await emitting;
    const live = (await stream.take<Added>(30 - fetched.length)).map((e) => e.data.notificationAdded.title);
    expect([...fetched.reverse(), ...live]).toEqual(Array.from({ length: 30 }, (_, i) => `m${i + 1}`));
    expect(await stream.quietFor(150)).toBe(true);
  });

  it('delivers to every tab of a user, and to no other user', async () => {
    const [tab1, tab2, other] = await Promise.all([
      t.subscribe(NotificationAdded, { after: encodeCursor(0) }, { token: await t.token('tabs') }),
      t.subscribe(NotificationAdded, { after: encodeCursor(0) }, { token: await t.token('tabs') }),
      t.subscribe(NotificationAdded, { after: encodeCursor(0) }, { token: await t.token('not-tabs') }),
    ]);
    await emit(['tabs'], 'for both tabs');
    for (const tab of [tab1!, tab2!]) expect((await tab.take<Added>(1))[0]!.data.notificationAdded.title).toBe('for both tabs');
    expect(await other!.quietFor(200)).toBe(true);
  });

  it('writes the cursor as the SSE id and resumes after Last-Event-ID with no gap and no duplicate', async () => {
    const token = await t.token('resumer');
    const first = await t.subscribe(NotificationAdded, { after: encodeCursor(0) }, { token });
    for (let i = 1; i <= 3; i++) await emit(['resumer'], `r${i}`);
    const got = await first.take<Added>(3);
    expect(got.map((e) => e.id)).toEqual(got.map((e) => e.data.notificationAdded.cursor));
    await first.close();
    for (let i = 4; i <= 6; i++) await emit(['resumer'], `r${i}`); // while disconnected
    // The browser reconnects with the original URL (after = 0) plus Last-Event-ID: the header wins.
    const again = await t.subscribe(NotificationAdded, { after: encodeCursor(0) }, { token, lastEventId: got[1]!.id! });
    await emit(['resumer'], 'r7');
    const resumed = await again.take<Added>(5);
    expect(resumed.map((e) => e.data.notificationAdded.title)).toEqual(['r3', 'r4', 'r5', 'r6', 'r7']);
  });

  it('ends with CURSOR_EXPIRED for an unknown cursor and for one older than retention', async () => {
    const token = await t.token('expired-cursor');
    await emit(['expired-cursor'], 'one');
    const unknown = await t.subscribe(NotificationAdded, { after: encodeCursor(999) }, { token });
    expect((await unknown.nextResult()).result.errors?.[0]?.extensions?.code).toBe('CURSOR_EXPIRED');
    expect((await unknown.next())?.event).toBe('complete');
    // Retention prunes everything older than the window: cursors before it expire.
    await emit(['expired-cursor'], 'two');
    const s = t.app.services;
    await pruneExpired(
      { sql: s.db.sql, bus: s.bus, log: s.log, retentionDays: 1, idempotencyTtlHours: 24 },
      new Date(Date.now() + 2 * 86_400_000),
    );
    const old = await t.subscribe(NotificationAdded, { after: encodeCursor(1) }, { token });
    expect((await old.nextResult()).result.errors?.[0]?.extensions?.code).toBe('CURSOR_EXPIRED');
    // The newest position is still a valid starting point.
    const fresh = await t.subscribe(NotificationAdded, { after: encodeCursor(2) }, { token });
    await emit(['expired-cursor'], 'three');
    expect((await fresh.take<Added>(1))[0]!.data.notificationAdded.title).toBe('three');
  });

  it('inboxEvents: exact unread counts, additions and changes on one stream, for every tab', async () => {
    const token = await t.token('events');
    const tabs = await Promise.all([t.subscribe(InboxEvents, {}, { token }), t.subscribe(InboxEvents, {}, { token })]);
    type E = { inboxEvents: { __typename: string; unreadCount?: number; change?: string; notification?: { title: string } } };
    for (const tab of tabs)
      expect((await tab.take<E>(1))[0]!.data.inboxEvents).toEqual({ __typename: 'UnreadCountChangedEvent', unreadCount: 0 });
    const r = await emit(['events'], 'hello');
    const id = r.data!.emitNotification.deliveries[0]!.notification!.id;
    await t.execute(MarkRead, { ids: [id] }, token);
    for (const tab of tabs) {
      const taken = await tab.take<E>(4);
      // Every event carries its position in the log as the SSE id: the addition 1, the read 2 (a
      // position of its own), each count the position it is exact at.
      expect(taken.map((e) => e.id)).toEqual([1, 1, 2, 2].map((p) => encodeCursor(p)));
      const events = taken.map((e) => e.data.inboxEvents);
      expect(events).toEqual([
        { __typename: 'NotificationAddedEvent', cursor: expect.any(String), notification: { id, title: 'hello' } },
        { __typename: 'UnreadCountChangedEvent', unreadCount: 1 },
        { __typename: 'NotificationChangedEvent', cursor: expect.any(String), notificationId: id, change: 'READ' },
        { __typename: 'UnreadCountChangedEvent', unreadCount: 0 },
      ]);
    }
  });

  it('serves POST subscriptions and a real port with the same stream', async () => {
    const token = await t.token('http-user');
    const post = await t.subscribe(NotificationAdded, { after: encodeCursor(0) }, { token, method: 'POST' });
    const base = await t.listen();
    const url = new URL(`${base}/graphql`);
    url.searchParams.set('query', 'subscription { notificationAdded(after: "aDE6MA") { title } }');
    const response = await fetch(url, { headers: { accept: 'text/event-stream', authorization: `Bearer ${token}` } });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const { SseReader } = await import('../helpers/sse.ts');
    const network = new SseReader(response);
    await emit(['http-user'], 'over the wire');
    expect((await post.take<Added>(1))[0]!.data.notificationAdded.title).toBe('over the wire');
    expect((await network.take<{ notificationAdded: { title: string } }>(1))[0]!.data.notificationAdded.title).toBe('over the wire');
    await network.close();
  });
});

describe.runIf(TEST_DATABASE_URL && TEST_REDIS_URL)('deployments sharing one Redis', () => {
  it('see nothing of each other when their REDIS_PREFIX differs, even for the same user ids', async () => {
    const [a, b] = await Promise.all([startTestApp('postgres+redis'), startTestApp('postgres+redis')]);
    try {
      expect(a.config.REDIS_PREFIX).not.toBe(b.config.REDIS_PREFIX);
      const stream = await a.subscribe(NotificationAdded, { after: encodeCursor(0) }, { token: await a.token('shared-id') });
      const emitOn = async (t: TestApp, title: string) =>
        t.execute(Emit, { input: { recipientIds: ['shared-id'], title, body: 'b', type: 'UPDATE' } }, await t.producerToken());
      await emitOn(b, 'from the other deployment');
      await emitOn(a, 'from this deployment');
      const [event] = await stream.take<Added>(1);
      expect(event!.data.notificationAdded.title).toBe('from this deployment');
      expect(await stream.quietFor(300)).toBe(true);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
