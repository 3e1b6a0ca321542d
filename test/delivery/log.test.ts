import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTask } from '../../examples/task-progress.ts';
import { decodeCursor, encodeCursor } from '../../src/domain/cursor.ts';
import { pruneExpired } from '../../src/notifications/retention.ts';
import {
  Archive,
  Delete,
  Emit,
  EmitKeyed,
  LogEvents,
  MarkAllRead,
  MarkRead,
  MarkSeen,
  MarkUnread,
  NotificationAdded,
  Recall,
  Unarchive,
} from '../documents.ts';
import type { EmitNotificationInput } from '../gql/graphql.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { BACKENDS } from '../helpers/backends.ts';
import { comparable, fetchInbox, LocalInbox } from '../helpers/local-inbox.ts';

type Event = {
  inboxEvents: { __typename: string; cursor: string; notificationId?: string; notification?: { id: string }; [k: string]: unknown };
};

// The inbox as a replayable log (issue 14): every change takes the next position of the user's
// sequence, and inboxEvents(after:) replays the changes after a cursor, coalesced.
describe.each(BACKENDS)('the inbox log (%s)', (backend) => {
  let t: TestApp;
  let producer: string;
  beforeAll(async () => {
    t = await startTestApp(backend);
    producer = await t.producerToken();
  });
  afterAll(() => t.close());

  const emit = async (user: string, input: Partial<EmitNotificationInput> = {}) => {
    const r = await t.execute(EmitKeyed, { input: { recipientIds: [user], title: 'task', ...input } }, producer);
    expect(r.errors).toBeUndefined();
    const delivery = r.data?.emitNotification.deliveries[0];
    return { status: delivery?.status, id: delivery?.notification?.id ?? '', notification: delivery?.notification };
  };

  it('replays every change after a cursor once per notification, in its latest state, then the counts, then live', async () => {
    const user = 'log-replay';
    const token = await t.token(user);
    const a = await emit(user, { title: 'a' });
    const b = await emit(user, { title: 'b' });
    const c = await emit(user, { title: 'c' });
    const { cursor } = await fetchInbox(t, token);
    // While the tab is away: a changes four times, b is archived, c deleted, d added and read,
    // e added and deleted (it never existed for the tab).
    await t.execute(MarkRead, { ids: [a.id] }, token);
    await t.execute(MarkUnread, { ids: [a.id] }, token);
    await t.execute(MarkRead, { ids: [a.id] }, token);
    await emit(user, { title: 'a, updated', key: 'a' }); // a has no key: a new notification, keyed
    await t.execute(Archive, { ids: [b.id] }, token);
    await t.execute(Delete, { ids: [c.id] }, token);
    const d = await emit(user, { title: 'd' });
    await t.execute(MarkRead, { ids: [d.id] }, token);
    const e = await emit(user, { title: 'e' });
    await t.execute(Delete, { ids: [e.id] }, token);
    const fresh = await fetchInbox(t, token);

    const stream = await t.subscribe(LogEvents, { after: cursor }, { token });
    const events = (await stream.take<Event>(6)).map((x) => ({ id: x.id, ...x.data.inboxEvents }));
    const keyed = [...fresh.notifications.values()].find((n) => n.title === 'a, updated');
    const positions = events.map((x) => decodeCursor(x.cursor));
    expect(positions).toEqual([...positions].sort((x, y) => x - y));
    expect(events.map((x) => x.id)).toEqual(events.map((x) => x.cursor));
    expect(events.map((x) => [x.__typename, x.notification?.id ?? x.notificationId])).toEqual([
      ['NotificationUpdatedEvent', a.id],
      ['NotificationAddedEvent', keyed?.id],
      ['NotificationUpdatedEvent', b.id],
      ['NotificationChangedEvent', c.id],
      ['NotificationAddedEvent', d.id],
      ['UnreadCountChangedEvent', undefined],
    ]);
    expect(events[0]?.notification).toEqual(fresh.notifications.get(a.id));
    expect(events[2]?.notification).toEqual(fresh.notifications.get(b.id));
    expect(events[3]).toMatchObject({ change: 'DELETED' });
    expect(events[4]?.notification).toEqual(fresh.notifications.get(d.id));
    expect(events[5]).toMatchObject({ cursor: fresh.cursor, unreadCount: fresh.unreadCount, unseenCount: fresh.unseenCount });
    // Then live.
    await t.execute(Unarchive, { ids: [b.id] }, token);
    const [live] = await stream.take<Event>(1);
    expect(live?.data.inboxEvents).toMatchObject({ __typename: 'NotificationChangedEvent', change: 'UNARCHIVED', notificationId: b.id });
    expect(decodeCursor(live?.id ?? '')).toBe(decodeCursor(fresh.cursor) + 1);
  });

  it('a fetched page plus the events applied to it equals a fresh fetch, through a reconnect by Last-Event-ID', async () => {
    const user = 'log-page';
    const token = await t.token(user);
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push((await emit(user, { title: `n${i}` })).id);
    const tab = new LocalInbox(t, token, await fetchInbox(t, token));
    await tab.connect();
    await t.execute(MarkSeen, { ids: [ids[0]!, ids[1]!] }, token);
    await t.execute(MarkRead, { ids: [ids[1]!] }, token);
    await tab.reached((await fetchInbox(t, token)).cursor);
    await tab.disconnect();
    await t.execute(Archive, { ids: [ids[2]!, ids[3]!] }, token);
    await t.execute(Delete, { ids: [ids[4]!] }, token);
    await emit(user, { title: 'progress', key: 'job', progress: 0.25, taskState: 'RUNNING' });
    await emit(user, { title: 'progress', key: 'job', progress: 0.75, taskState: 'RUNNING' });
    await t.execute(MarkAllRead, {}, token);
    await tab.connect('header');
    const fresh = await fetchInbox(t, token);
    await tab.reached(fresh.cursor);
    expect(comparable(tab.view)).toEqual(comparable(fresh));
    expect(tab.errors).toEqual([]);
  });

  it('updates a notification in place end to end: one notification, every step live, a late tab gets only the latest state', async () => {
    const user = 'log-task';
    const token = await t.token(user);
    const tab = new LocalInbox(t, token, await fetchInbox(t, token));
    await tab.connect();
    const first = await emit(user, { title: 'Export', key: 'export:42', progress: 0, taskState: 'PENDING' });
    expect(first.status).toBe('DELIVERED');
    const late = await fetchInbox(t, token);
    for (let step = 1; step <= 10; step++) {
      const r = await emit(user, { title: `Export ${step * 10}%`, key: 'export:42', progress: step / 10, taskState: 'RUNNING' });
      expect(r).toMatchObject({ status: 'UPDATED', id: first.id });
      expect(r.notification).toMatchObject({ progress: step / 10, taskState: 'RUNNING', title: `Export ${step * 10}%` });
    }
    await emit(user, { title: 'Export ready', key: 'export:42', progress: 1, taskState: 'SUCCEEDED' });
    const fresh = await fetchInbox(t, token);
    expect([...fresh.notifications.values()]).toEqual([
      expect.objectContaining({ id: first.id, title: 'Export ready', progress: 1, taskState: 'SUCCEEDED', updatedAt: expect.any(String) }),
    ]);
    await tab.reached(fresh.cursor);
    // Live: the addition, then each update in place, each followed by the exact counts.
    const kinds = tab.events.filter((e) => e.__typename !== 'UnreadCountChangedEvent').map((e) => e.__typename);
    expect(kinds).toEqual(['NotificationAddedEvent', ...Array(11).fill('NotificationUpdatedEvent')]);
    expect(comparable(tab.view)).toEqual(comparable(fresh));
    // A tab that fetched at 0% and comes back now receives the one notification once, in its latest state.
    const back = new LocalInbox(t, token, late);
    await back.connect();
    await back.reached(fresh.cursor);
    expect(back.events.map((e) => e.__typename)).toEqual(['NotificationUpdatedEvent', 'UnreadCountChangedEvent']);
    expect(comparable(back.view)).toEqual(comparable(fresh));
  });

  it('seed 002: the example task runner reports 0 to 100% in 20 steps; one notification, each step live, counts exact, a tab back mid-task gets the latest state', async () => {
    const user = 'log-seed-002';
    const token = await t.token(user);
    const tab = new LocalInbox(t, token, await fetchInbox(t, token));
    await tab.connect();
    const away = new LocalInbox(t, token, await fetchInbox(t, token));
    const url = `${await t.listen()}/graphql`;
    const task = runTask({ url, token: producer, recipientId: user, key: 'export:42', steps: 20, delayMs: 5 });
    // The user reads it while it runs; the finished export comes back unread (markUnread).
    let read = false;
    while (!read) {
      const held = [...tab.view.notifications.values()][0];
      if (held && held.progress !== null && held.progress >= 0.5) {
        await t.execute(MarkRead, { ids: [held.id] }, token);
        read = true;
      } else await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await away.connect(); // mid-task
    expect(await task).toEqual(['DELIVERED', ...Array(20).fill('UPDATED')]);
    const fresh = await fetchInbox(t, token);
    expect(fresh.notifications.size).toBe(1);
    expect([...fresh.notifications.values()][0]).toMatchObject({
      title: 'Export ready',
      progress: 1,
      taskState: 'SUCCEEDED',
      readAt: null,
    });
    expect(fresh).toMatchObject({ unreadCount: 1, unseenCount: 1 });
    for (const each of [tab, away]) {
      await each.reached(fresh.cursor);
      expect(comparable(each.view)).toEqual(comparable(fresh));
    }
    const live = tab.events.filter((e) => e.__typename !== 'UnreadCountChangedEvent').map((e) => e.__typename);
    expect(live.filter((e) => e === 'NotificationUpdatedEvent')).toHaveLength(20); // each step
    expect(live.filter((e) => e === 'NotificationChangedEvent')).toHaveLength(1); // the read
    // The tab that fetched before the task and came back mid-task: the notification once, in its
    // state then (a new one to it), then each step after.
    expect(away.events.slice(0, 2).map((e) => e.__typename)).toEqual(['NotificationAddedEvent', 'UnreadCountChangedEvent']);
  });

  it("updates in place through a fan-out: one emit with a key to 100 recipients updates each one's notification", async () => {
    const users = Array.from({ length: 100 }, (_, i) => `log-fan-${i}`);
    const token = await t.token('log-fan-7');
    const tab = new LocalInbox(t, token, await fetchInbox(t, token));
    await tab.connect();
    const first = await t.execute(
      EmitKeyed,
      { input: { recipientIds: users, key: 'release', title: 'Deploying', progress: 0.1 } },
      producer,
    );
    expect(first.data?.emitNotification.deliveredCount).toBe(100);
    const second = await t.execute(
      EmitKeyed,
      { input: { recipientIds: users, key: 'release', title: 'Deployed', progress: 1, taskState: 'SUCCEEDED' } },
      producer,
    );
    expect(second.data?.emitNotification).toMatchObject({ updatedCount: 100, deliveredCount: 0 });
    const fresh = await fetchInbox(t, token);
    await tab.reached(fresh.cursor);
    expect(comparable(tab.view)).toEqual(comparable(fresh));
    expect([...fresh.notifications.values()]).toEqual([
      expect.objectContaining({ title: 'Deployed', progress: 1, taskState: 'SUCCEEDED' }),
    ]);
  });

  it('markUnread: an update of a read notification makes it unread and unseen again, counts exact; without it the state stays', async () => {
    const user = 'log-unread';
    const token = await t.token(user);
    const n = await emit(user, { title: 'Build', key: 'build:7', taskState: 'RUNNING' });
    await t.execute(MarkRead, { ids: [n.id] }, token);
    await emit(user, { title: 'Build still running', key: 'build:7', taskState: 'RUNNING' });
    expect(await fetchInbox(t, token)).toMatchObject({ unreadCount: 0, unseenCount: 0 });
    const failed = await emit(user, { title: 'Build failed', key: 'build:7', taskState: 'FAILED', markUnread: true });
    expect(failed.notification).toMatchObject({ readAt: null, seenAt: null, taskState: 'FAILED' });
    expect(await fetchInbox(t, token)).toMatchObject({ unreadCount: 1, unseenCount: 1 });
    // An archived one counts for nothing, marked unread or not.
    await t.execute(Archive, { ids: [n.id] }, token);
    await emit(user, { title: 'Build failed again', key: 'build:7', markUnread: true });
    expect(await fetchInbox(t, token)).toMatchObject({ unreadCount: 0, unseenCount: 0 });
  });

  it('keys are per producer and recipient; idempotency keys keep working on updates; bad input is refused whole', async () => {
    const user = 'log-keys';
    const other = await t.token('other-producer', { scope: 'notifications:emit' });
    const mine = await emit(user, { key: 'k', title: 'mine' });
    const theirs = await t.execute(EmitKeyed, { input: { recipientIds: [user], key: 'k', title: 'theirs' } }, other);
    expect(theirs.data?.emitNotification.deliveries[0]?.status).toBe('DELIVERED');
    const update = { key: 'k', title: 'mine, updated', idempotencyKey: 'update-1' };
    expect(await emit(user, update)).toMatchObject({ status: 'UPDATED', id: mine.id });
    const retry = await t.execute(EmitKeyed, { input: { recipientIds: [user], ...update } }, producer);
    expect(retry.data?.emitNotification).toMatchObject({ duplicateCount: 1, updatedCount: 0 });
    expect(retry.data?.emitNotification.deliveries[0]?.notification?.id).toBe(mine.id);
    // Two recipients, one with the key, one without: one update, one addition, in one emit.
    const both = await t.execute(EmitKeyed, { input: { recipientIds: [user, 'log-keys-2'], key: 'k', title: 'both' } }, producer);
    expect(both.data?.emitNotification).toMatchObject({ deliveredCount: 1, updatedCount: 1 });
    for (const input of [{ progress: 1.5 }, { progress: -0.1 }, { key: '' }, { key: 'x'.repeat(201) }]) {
      const r = await t.execute(EmitKeyed, { input: { recipientIds: [user], title: 'bad', ...input } }, producer);
      expect(r.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    }
    const bogusState = await t.execute(
      EmitKeyed,
      { input: { recipientIds: [user], title: 'bad', taskState: 'DONE' as EmitNotificationInput['taskState'] } },
      producer,
    );
    expect(bogusState.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it("recall: a producer deletes its notification by key from every recipient's inbox, pushed and replayed as a deletion", async () => {
    const users = ['recall-a', 'recall-b', 'recall-c'];
    const token = await t.token('recall-a');
    const before = await fetchInbox(t, token);
    const tab = new LocalInbox(t, token, before);
    await tab.connect();
    await t.execute(EmitKeyed, { input: { recipientIds: users, key: 'outage', title: 'Service degraded' } }, producer);
    const other = await t.token('recall-producer-2', { scope: 'notifications:emit' });
    await t.execute(EmitKeyed, { input: { recipientIds: ['recall-a'], key: 'outage', title: 'Not mine to recall' } }, other);
    // recall-c deleted theirs already.
    const c = await t.token('recall-c');
    const held = (await fetchInbox(t, c)).notifications.keys().next().value ?? '';
    await t.execute(Delete, { ids: [held] }, c);
    expect((await t.execute(Recall, { key: 'outage' }, token)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await t.execute(Recall, { key: 'outage' }, producer)).data?.recallNotifications.recalledCount).toBe(2);
    expect((await t.execute(Recall, { key: 'outage' }, producer)).data?.recallNotifications.recalledCount).toBe(0);
    expect((await t.execute(Recall, { key: '' }, producer)).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const fresh = await fetchInbox(t, token);
    expect([...fresh.notifications.values()].map((n) => n.title)).toEqual(['Not mine to recall']);
    await tab.reached(fresh.cursor);
    expect(comparable(tab.view)).toEqual(comparable(fresh));
    // A tab that was away since before: the recalled one never reaches it; one that had it replays the deletion.
    const back = new LocalInbox(t, token, before);
    await back.connect();
    await back.reached(fresh.cursor);
    expect(back.events.map((e) => e.__typename)).toEqual(['NotificationAddedEvent', 'UnreadCountChangedEvent']);
    expect(comparable(back.view)).toEqual(comparable(fresh));
  });

  it('updates of one key sent at once are applied in order (the last one sent is the state)', async () => {
    const user = 'log-order';
    const token = await t.token(user);
    await emit(user, { key: 'order', title: 'step 0', progress: 0 });
    await Promise.all(Array.from({ length: 20 }, (_, i) => emit(user, { key: 'order', title: `step ${i + 1}`, progress: (i + 1) / 20 })));
    const fresh = await fetchInbox(t, token);
    expect([...fresh.notifications.values()]).toEqual([expect.objectContaining({ title: 'step 20', progress: 1 })]);
  });

  it('notificationAdded(after:) keeps its meaning: every addition after the cursor exactly once, whatever took positions between', async () => {
    const user = 'log-added';
    const token = await t.token(user);
    const a = await emit(user, { title: 'a', key: 'a' });
    await t.execute(MarkRead, { ids: [a.id] }, token);
    await emit(user, { title: 'a2', key: 'a' }); // an update: not an addition
    const b = await emit(user, { title: 'b' });
    const stream = await t.subscribe(NotificationAdded, { after: encodeCursor(0) }, { token });
    type Added = { notificationAdded: { id: string; cursor: string } };
    const replayed = await stream.take<Added>(2);
    expect(replayed.map((x) => x.data.notificationAdded.id)).toEqual([a.id, b.id]);
    await t.execute(MarkRead, { ids: [b.id] }, token);
    await t.execute(Emit, { input: { recipientIds: [user], title: 'c' } }, producer);
    const [c] = await stream.take<Added>(1);
    expect(c?.data.notificationAdded).toMatchObject({ cursor: c?.id });
    expect(await stream.quietFor(200)).toBe(true);
    // Resuming from the last addition's id replays nothing.
    const again = await t.subscribe(NotificationAdded, { after: c?.id }, { token });
    expect(await again.quietFor(300)).toBe(true);
  });

  it('a cursor older than the retention of a deletion ends the replay with CURSOR_EXPIRED, never a silent gap', async () => {
    const user = 'log-expired';
    const token = await t.token(user);
    const n = await emit(user, { title: 'old' });
    const { cursor } = await fetchInbox(t, token);
    await t.execute(Delete, { ids: [n.id] }, token);
    const s = t.app.services;
    await pruneExpired(
      { sql: s.db.sql, bus: s.bus, log: s.log, retentionDays: 1, idempotencyTtlHours: 24 },
      new Date(Date.now() + 2 * 86_400_000),
    );
    const stream = await t.subscribe(LogEvents, { after: cursor }, { token });
    expect((await stream.nextResult()).result.errors?.[0]?.extensions?.code).toBe('CURSOR_EXPIRED');
    // From the new streamCursor it works.
    const fresh = await fetchInbox(t, token);
    const again = await t.subscribe(LogEvents, { after: fresh.cursor }, { token });
    const [counts] = await again.take<Event>(1);
    expect(counts?.data.inboxEvents).toMatchObject({ __typename: 'UnreadCountChangedEvent', cursor: fresh.cursor, unreadCount: 0 });
  });
});
