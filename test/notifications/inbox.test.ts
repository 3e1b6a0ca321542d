import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Archive, Delete, Emit, Inbox, MarkAllRead, MarkRead, MarkUnread, OneNotification, UnreadCount } from '../documents.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { BACKENDS } from '../helpers/backends.ts';

describe.each(BACKENDS)('inbox (%s)', (backend) => {
  let t: TestApp;
  let producer: string;
  const emit = (recipientIds: string[], title: string, extra: Record<string, unknown> = {}) =>
    t.execute(Emit, { input: { recipientIds, title, body: 'b', type: 'UPDATE', ...extra } }, producer);
  beforeAll(async () => {
    t = await startTestApp(backend);
    producer = await t.producerToken();
  });
  afterAll(() => t.close());

  it('pages newest first by cursor, with no duplicate or skip while new notifications arrive', async () => {
    const alice = await t.token('page-alice');
    for (let i = 1; i <= 25; i++) await emit(['page-alice'], `n${i}`);
    const first = await t.execute(Inbox, { first: 10 }, alice);
    expect(first.data!.notifications.edges.map((e) => e.node.title)).toEqual(Array.from({ length: 10 }, (_, i) => `n${25 - i}`));
    expect(first.data!.notifications.pageInfo.hasNextPage).toBe(true);
    // New notifications arrive between pages: they do not shift the pages already cursor-anchored.
    await emit(['page-alice'], 'late-1');
    await emit(['page-alice'], 'late-2');
    const seen = first.data!.notifications.edges.map((e) => e.node.title);
    let after = first.data!.notifications.pageInfo.endCursor;
    for (;;) {
      const page = await t.execute(Inbox, { first: 10, after }, alice);
      seen.push(...page.data!.notifications.edges.map((e) => e.node.title));
      if (!page.data!.notifications.pageInfo.hasNextPage) break;
      after = page.data!.notifications.pageInfo.endCursor;
    }
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => `n${25 - i}`));
    // streamCursor is the newest position whatever the filter.
    const filtered = await t.execute(Inbox, { first: 1, filter: { unread: false } }, alice);
    const latest = await t.execute(Inbox, { first: 1 }, alice);
    expect(filtered.data!.notifications.streamCursor).toBe(latest.data!.notifications.edges[0]!.cursor);
  });

  it('filters by unread, archived, types and categories', async () => {
    const user = await t.token('filter-user');
    const a = await emit(['filter-user'], 'alert', { type: 'ALERT', category: 'billing.due' });
    await emit(['filter-user'], 'reminder', { type: 'REMINDER', category: 'calendar.soon' });
    const c = await emit(['filter-user'], 'update', { type: 'UPDATE', category: 'billing.paid' });
    await t.execute(MarkRead, { ids: [a.data!.emitNotification.deliveries[0]!.notification!.id] }, user);
    await t.execute(Archive, { ids: [c.data!.emitNotification.deliveries[0]!.notification!.id] }, user);
    const titles = async (filter: Record<string, unknown>) =>
      (await t.execute(Inbox, { filter }, user)).data!.notifications.edges.map((e) => e.node.title);
    expect(await titles({})).toEqual(['reminder', 'alert']);
    expect(await titles({ unread: true })).toEqual(['reminder']);
    expect(await titles({ unread: false })).toEqual(['alert']);
    expect(await titles({ archived: true })).toEqual(['update']);
    expect(await titles({ types: ['ALERT', 'REMINDER'] })).toEqual(['reminder', 'alert']);
    expect(await titles({ categories: ['billing.due', 'billing.paid'] })).toEqual(['alert']);
  });

  it('keeps the unread count exact through read, unread, archive, delete and mark-all', async () => {
    const user = await t.token('count-user');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await emit(['count-user'], `c${i}`)).data!.emitNotification.deliveries[0]!.notification!.id);
    const count = async () => (await t.execute(UnreadCount, {}, user)).data!.unreadCount;
    expect(await count()).toBe(5);
    expect((await t.execute(MarkRead, { ids: [ids[0]!, ids[1]!] }, user)).data!.markNotificationsRead).toMatchObject({
      changedCount: 2,
      unreadCount: 3,
    });
    expect((await t.execute(MarkRead, { ids: [ids[0]!] }, user)).data!.markNotificationsRead).toMatchObject({
      changedCount: 0,
      unreadCount: 3,
    });
    expect((await t.execute(MarkUnread, { ids: [ids[0]!] }, user)).data!.markNotificationsUnread.unreadCount).toBe(4);
    expect((await t.execute(Archive, { ids: [ids[2]!, ids[1]!] }, user)).data!.archiveNotifications.unreadCount).toBe(3);
    expect((await t.execute(Delete, { ids: [ids[3]!] }, user)).data!.deleteNotifications).toEqual({ deletedIds: [ids[3]], unreadCount: 2 });
    expect((await t.execute(MarkAllRead, {}, user)).data!.markAllNotificationsRead.unreadCount).toBe(0);
    expect(await count()).toBe(0);
  });

  it('stays exact under concurrent emits and reads', async () => {
    const user = await t.token('busy-user');
    const first = await Promise.all(Array.from({ length: 20 }, (_, i) => emit(['busy-user'], `x${i}`)));
    const ids = first.map((r) => r.data!.emitNotification.deliveries[0]!.notification!.id);
    await Promise.all([
      ...Array.from({ length: 20 }, (_, i) => emit(['busy-user'], `y${i}`)),
      ...ids.slice(0, 15).map((id) => t.execute(MarkRead, { ids: [id] }, user)),
      t.execute(MarkRead, { ids: ids.slice(5, 12) }, user),
    ]);
    const rows = await t.app.services.db.prisma.notification.count({ where: { recipientId: 'busy-user', readAt: null, archivedAt: null } });
    expect(rows).toBe(40 - 15);
    expect((await t.execute(UnreadCount, {}, user)).data!.unreadCount).toBe(rows);
    // Positions are dense and unique: 1..40.
    const seqs = (await t.app.services.db.prisma.notification.findMany({ where: { recipientId: 'busy-user' }, select: { seq: true } }))
      .map((r) => Number(r.seq))
      .sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
  });

  it("isolates users: someone else's notification behaves as not found, and nothing is changed", async () => {
    const r = await emit(['owner'], 'private');
    const id = r.data!.emitNotification.deliveries[0]!.notification!.id;
    const mine = await emit(['intruder'], 'mine');
    const mineId = mine.data!.emitNotification.deliveries[0]!.notification!.id;
    const intruder = await t.token('intruder');
    expect((await t.execute(OneNotification, { id }, intruder)).data!.notification).toBeNull();
    const attempt = await t.execute(MarkRead, { ids: [mineId, id] }, intruder);
    expect(attempt.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    // All or nothing: the intruder's own notification was not marked either.
    expect((await t.execute(OneNotification, { id: mineId }, intruder)).data!.notification?.read).toBe(false);
    expect((await t.execute(Delete, { ids: [id] }, intruder)).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect((await t.execute(OneNotification, { id }, await t.token('owner'))).data!.notification?.title).toBe('private');
  });
});
