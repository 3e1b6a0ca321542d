import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Archive, Counts, Delete, Emit, MarkAllRead, MarkAllSeen, MarkRead, MarkSeen, MarkUnread } from '../documents.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { BACKENDS } from '../helpers/backends.ts';

// Seen vs read (issue 14): the bell badge counts what the user has not seen in a list yet, the
// list's own badge what they have not read. Every tab's stream carries both, exact, after each change.
const EVENTS = `subscription { inboxEvents {
  __typename
  ... on UnreadCountChangedEvent { unreadCount unseenCount }
  ... on NotificationChangedEvent { change notificationId seenAt }
} }`;
type Event = { inboxEvents: { __typename: string; unreadCount?: number; unseenCount?: number; change?: string } };

describe.each(BACKENDS)('seen and read (%s)', (backend) => {
  let t: TestApp;
  let producer: string;
  beforeAll(async () => {
    t = await startTestApp(backend);
    producer = await t.producerToken();
  });
  afterAll(() => t.close());

  /** Emits one notification to `user`; its id. */
  const emit = async (user: string) => {
    const r = await t.execute(Emit, { input: { recipientIds: [user], title: 'hello' } }, producer);
    expect(r.errors).toBeUndefined();
    return r.data?.emitNotification.deliveries[0]?.notification?.id ?? '';
  };
  /** The counts as COUNT(*) over the rows: what the kept counters must always equal. */
  const counted = async (user: string) => {
    const rows = await t.app.services.db.prisma.notification.findMany({ where: { recipientId: user, archivedAt: null } });
    return { unreadCount: rows.filter((r) => r.readAt === null).length, unseenCount: rows.filter((r) => r.seenAt === null).length };
  };
  const counts = async (token: string) => (await t.execute(Counts, {}, token)).data;

  it('keeps both badges exact through every kind of change, and pushes them to every tab', async () => {
    const user = 'seen-user';
    const token = await t.token(user);
    const tabs = await Promise.all([t.subscribe(EVENTS, {}, { token }), t.subscribe(EVENTS, {}, { token })]);
    for (const tab of tabs) expect((await tab.take<Event>(1))[0]?.data.inboxEvents).toMatchObject({ unreadCount: 0, unseenCount: 0 });

    const a = await emit(user);
    const b = await emit(user);
    await emit(user);
    expect(await counts(token)).toEqual({ unreadCount: 3, unseenCount: 3 });

    // Opening the list: everything seen, nothing read.
    const allSeen = await t.execute(MarkAllSeen, {}, token);
    expect(allSeen.data?.markAllNotificationsSeen).toEqual({ changedCount: 3, unreadCount: 3, unseenCount: 0 });
    expect(await counts(token)).toEqual(await counted(user));

    // A new one is unseen; reading it sees it; marking it unread keeps it seen.
    const d = await emit(user);
    expect(await counts(token)).toEqual({ unreadCount: 4, unseenCount: 1 });
    expect((await t.execute(MarkRead, { ids: [d] }, token)).data?.markNotificationsRead.unreadCount).toBe(3);
    expect(await counts(token)).toEqual({ unreadCount: 3, unseenCount: 0 });
    await t.execute(MarkUnread, { ids: [d] }, token);
    expect(await counts(token)).toEqual({ unreadCount: 4, unseenCount: 0 });

    // Archived ones count for neither; deleting an unread one moves only the unread count.
    const e = await emit(user);
    await t.execute(Archive, { ids: [e] }, token);
    expect(await counts(token)).toEqual({ unreadCount: 4, unseenCount: 0 });
    await t.execute(Delete, { ids: [a] }, token);
    expect(await counts(token)).toEqual({ unreadCount: 3, unseenCount: 0 });
    // Seeing one already seen changes nothing.
    const again = await t.execute(MarkSeen, { ids: [b] }, token);
    expect(again.data?.markNotificationsSeen).toMatchObject({ changedCount: 0, unreadCount: 3, unseenCount: 0 });
    expect(again.data?.markNotificationsSeen.notifications).toEqual([{ id: b, read: false, seen: true, seenAt: expect.any(String) }]);
    await t.execute(MarkAllRead, {}, token);
    expect(await counts(token)).toEqual({ unreadCount: 0, unseenCount: 0 });
    expect(await counts(token)).toEqual(await counted(user));

    // Each tab saw the same sequence of counts, ending where the database is.
    for (const tab of tabs) {
      // 5 additions and 6 changes, each followed by the counts; mark-all-read changes 4 rows (the archived one too).
      const events = (await tab.take<Event>(27, 10_000)).map((x) => x.data.inboxEvents);
      const seenChanges = events.filter((x) => x.change === 'SEEN').length;
      expect(seenChanges).toBe(3);
      const last = events.filter((x) => x.__typename === 'UnreadCountChangedEvent').at(-1);
      expect(last).toEqual({ __typename: 'UnreadCountChangedEvent', unreadCount: 0, unseenCount: 0 });
      expect(await tab.quietFor(200)).toBe(true);
    }
  });

  it('marks a list of ids seen, all or nothing, leaving them unread', async () => {
    const user = 'seen-ids';
    const token = await t.token(user);
    const a = await emit(user);
    const b = await emit(user);
    const missing = await t.execute(MarkSeen, { ids: [a, crypto.randomUUID()] }, token);
    expect(missing.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(await counts(token)).toEqual({ unreadCount: 2, unseenCount: 2 });
    const seen = await t.execute(MarkSeen, { ids: [a] }, token);
    expect(seen.data?.markNotificationsSeen).toMatchObject({ changedCount: 1, unreadCount: 2, unseenCount: 1 });
    // Another user cannot see someone else's.
    const other = await t.execute(MarkSeen, { ids: [b] }, await t.token('seen-other'));
    expect(other.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(await counts(token)).toEqual({ unreadCount: 2, unseenCount: 1 });
  });
});
