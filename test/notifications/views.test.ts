import type { ResultOf } from '@graphql-typed-document-node/core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeCursor } from '../../src/domain/cursor.ts';
import { FILTER_CHANGE_LIMIT } from '../../src/store/inbox-changes.ts';
import {
  Archive,
  ArchiveByFilter,
  Delete,
  EmitView,
  MarkAllRead,
  MarkRead,
  MarkSeen,
  MarkUnread,
  ReadByFilter,
  SeenByFilter,
  Unarchive,
  ViewCountsQuery,
  ViewEvents,
  ViewPage,
} from '../documents.ts';
import type { CountView, NotificationFilter, NotificationType } from '../gql/graphql.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { BACKENDS } from '../helpers/backends.ts';
import type { SseReader } from '../helpers/sse.ts';

type Held = {
  id: string;
  category: string | null;
  type: NotificationType;
  readAt: string | null;
  seenAt: string | null;
  archivedAt: string | null;
};
type Event = ResultOf<typeof ViewEvents>['inboxEvents'];
type Counted = { name: string; total: number; unread: number; unseen: number };

const CATEGORIES = ['billing', 'social', null] as const;
const TYPES: NotificationType[] = ['ALERT', 'UPDATE', 'PROMOTION'];

/** Five views a UI would show: the inbox, its unread tab, a category, two types, the archive. */
const VIEWS: CountView[] = [
  { name: 'inbox' },
  { name: 'unread', filter: { unread: true } },
  { name: 'billing', filter: { categories: ['billing'] } },
  { name: 'alerts+updates', filter: { types: ['ALERT', 'UPDATE'] } },
  { name: 'archive', filter: { archived: true } },
  { name: 'read social archive', filter: { archived: true, unread: false, categories: ['social'] } },
];

/** What a view lists, decided from the notification itself (the test's own reading of the filter). */
function lists(filter: NotificationFilter | null | undefined, n: Held): boolean {
  if ((n.archivedAt !== null) !== (filter?.archived === true)) return false;
  if (filter?.unread === true && n.readAt !== null) return false;
  if (filter?.unread === false && n.readAt === null) return false;
  if (filter?.types?.length && !filter.types.includes(n.type)) return false;
  if (filter?.categories?.length && (n.category === null || !filter.categories.includes(n.category))) return false;
  return true;
}

/** Each view's counts over the notifications a client holds. */
function countHeld(held: Iterable<Held>, views: CountView[] = VIEWS): Counted[] {
  const all = [...held];
  return views.map(({ name, filter }) => {
    const listed = all.filter((n) => lists(filter, n));
    return {
      name,
      total: listed.length,
      unread: listed.filter((n) => n.readAt === null).length,
      unseen: listed.filter((n) => n.seenAt === null).length,
    };
  });
}

describe.each(BACKENDS)('counts per view (%s)', (backend) => {
  let t: TestApp;
  let producer: string;
  let run = 0;
  beforeAll(async () => {
    t = await startTestApp(backend);
    producer = await t.producerToken();
  });
  afterAll(() => t.close());

  /** A fresh COUNT(*) of each view, straight from the notification table: what `counts` must equal. */
  async function countedFresh(user: string, views: CountView[] = VIEWS): Promise<Counted[]> {
    const rows = await t.app.services.db.sql.query<Held & { read_at: Date | null; seen_at: Date | null; archived_at: Date | null }>(
      'SELECT id, category, type, read_at, seen_at, archived_at FROM notification WHERE recipient_id = $1',
      [user],
    );
    return countHeld(
      rows.map((r) => ({
        id: r.id,
        category: r.category,
        type: r.type,
        readAt: r.read_at === null ? null : 'x',
        seenAt: r.seen_at === null ? null : 'x',
        archivedAt: r.archived_at === null ? null : 'x',
      })),
      views,
    );
  }

  const counts = async (token: string, views: CountView[] = VIEWS) => {
    const r = await t.execute(ViewCountsQuery, { views }, token);
    if (!r.data) throw new Error(`counts failed: ${JSON.stringify(r.errors)}`);
    return r.data;
  };

  const emit = async (user: string, input: { category?: string | null; type?: NotificationType; key?: string; markUnread?: boolean }) => {
    const r = await t.execute(EmitView, { input: { recipientIds: [user], title: 'n', ...input } }, producer);
    const d = r.data?.emitNotification.deliveries[0];
    if (!d?.notification) throw new Error(`emit failed: ${JSON.stringify(r.errors)}`);
    return { id: d.notification.id, status: d.status };
  };

  const change = (kind: 'read' | 'unread' | 'seen' | 'archive' | 'unarchive' | 'delete', ids: string[], token: string) => {
    switch (kind) {
      case 'read':
        return t.execute(MarkRead, { ids }, token);
      case 'unread':
        return t.execute(MarkUnread, { ids }, token);
      case 'seen':
        return t.execute(MarkSeen, { ids }, token);
      case 'archive':
        return t.execute(Archive, { ids }, token);
      case 'unarchive':
        return t.execute(Unarchive, { ids }, token);
      case 'delete':
        return t.execute(Delete, { ids }, token);
    }
  };

  const byFilter = async (kind: 'read' | 'seen' | 'archive', filter: NotificationFilter | null, token: string) => {
    const vars = { filter, views: VIEWS };
    const payload =
      kind === 'read'
        ? (await t.execute(ReadByFilter, vars, token)).data?.markNotificationsReadByFilter
        : kind === 'seen'
          ? (await t.execute(SeenByFilter, vars, token)).data?.markNotificationsSeenByFilter
          : (await t.execute(ArchiveByFilter, vars, token)).data?.archiveNotificationsByFilter;
    if (!payload) throw new Error(`${kind} by filter failed`);
    return payload;
  };

  /** Fetches every notification the user has (both views, at most 100 each). */
  async function fetchAll(token: string): Promise<{ held: Map<string, Held>; cursor: string }> {
    const held = new Map<string, Held>();
    let cursor = '';
    for (const archived of [false, true]) {
      const r = await t.execute(ViewPage, { filter: { archived } }, token);
      if (!r.data) throw new Error(`fetch failed: ${JSON.stringify(r.errors)}`);
      expect(r.data.notifications.pageInfo.hasNextPage).toBe(false);
      for (const e of r.data.notifications.edges) held.set(e.node.id, e.node);
      cursor = r.data.notifications.streamCursor;
    }
    return { held, cursor };
  }

  it('answers each view exactly, the default view agreeing with the badges', async () => {
    const user = `views-basic-${backend}`;
    const token = await t.token(user);
    expect((await counts(token)).counts).toEqual(VIEWS.map(({ name }) => ({ name, total: 0, unread: 0, unseen: 0 })));
    const a = await emit(user, { category: 'billing', type: 'ALERT' });
    const b = await emit(user, { category: 'social', type: 'PROMOTION' });
    await emit(user, { type: 'UPDATE' });
    await t.execute(MarkRead, { ids: [a.id] }, token);
    await t.execute(Archive, { ids: [b.id] }, token);
    const r = await counts(token);
    expect(r.counts).toEqual([
      { name: 'inbox', total: 2, unread: 1, unseen: 1 },
      { name: 'unread', total: 1, unread: 1, unseen: 1 },
      { name: 'billing', total: 1, unread: 0, unseen: 0 },
      { name: 'alerts+updates', total: 2, unread: 1, unseen: 1 },
      { name: 'archive', total: 1, unread: 1, unseen: 1 },
      { name: 'read social archive', total: 0, unread: 0, unseen: 0 },
    ]);
    expect(r.counts[0]).toMatchObject({ unread: r.unreadCount, unseen: r.unseenCount });
  });

  it('refuses more than 10 views, duplicate names and bad filters with BAD_USER_INPUT, before reading anything', async () => {
    const token = await t.token('views-bad');
    const many = Array.from({ length: 11 }, (_, i) => ({ name: `v${i}` }));
    for (const views of [
      many,
      [{ name: 'a' }, { name: 'a' }],
      [{ name: '' }],
      [{ name: 'c', filter: { categories: ['bad category!'] } }],
    ]) {
      const r = await t.execute(ViewCountsQuery, { views }, token);
      expect(r.data ?? null).toBeNull();
      expect(r.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    }
    const stream = await t.subscribe(ViewEvents, { views: many }, { token });
    const first = await stream.next();
    await stream.close();
    expect(first?.data).toContain('BAD_USER_INPUT');
    expect(
      (
        await counts(
          token,
          Array.from({ length: 10 }, (_, i) => ({ name: `v${i}` })),
        )
      ).counts,
    ).toHaveLength(10);
  });

  /** What a user or producer does next. */
  type Action =
    | { k: 'emit'; category: number; type: number }
    | { k: 'update'; key: number; category: number; type: number; markUnread: boolean }
    | { k: 'change'; change: 'read' | 'unread' | 'seen' | 'archive' | 'unarchive' | 'delete'; pick: number }
    | { k: 'all-read' }
    | { k: 'by-filter'; change: 'read' | 'seen' | 'archive'; view: number };
  const action: fc.Arbitrary<Action> = fc.oneof(
    { weight: 4, arbitrary: fc.record({ k: fc.constant('emit' as const), category: fc.nat(2), type: fc.nat(2) }) },
    {
      weight: 2,
      arbitrary: fc.record({
        k: fc.constant('update' as const),
        key: fc.nat(1),
        category: fc.nat(2),
        type: fc.nat(2),
        markUnread: fc.boolean(),
      }),
    },
    {
      weight: 5,
      arbitrary: fc.record({
        k: fc.constant('change' as const),
        change: fc.constantFrom(
          'read' as const,
          'unread' as const,
          'seen' as const,
          'archive' as const,
          'unarchive' as const,
          'delete' as const,
        ),
        pick: fc.nat(),
      }),
    },
    { weight: 1, arbitrary: fc.constant({ k: 'all-read' as const }) },
    {
      weight: 2,
      arbitrary: fc.record({
        k: fc.constant('by-filter' as const),
        change: fc.constantFrom('read' as const, 'seen' as const, 'archive' as const),
        view: fc.nat(VIEWS.length - 1),
      }),
    },
  );

  // The counts a client is shown, in every way it is shown them: `counts`, the answer of a change by
  // filter, and each CountsChangedEvent of an open stream (checked against what the stream's own
  // events say the inbox held at that position). All equal a fresh COUNT(*) of the table.
  it('keeps every view exact through random emits, updates in place, changes and changes by filter, on the stream too', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 3, maxLength: 25 }), async (actions) => {
        const user = `views-prop-${backend}-${++run}`;
        const token = await t.token(user);
        const alive: string[] = [];
        await emit(user, { category: 'billing', type: 'ALERT' }).then((n) => alive.push(n.id));
        const start = await fetchAll(token);
        const tab = new ViewTab(await t.subscribe(ViewEvents, { after: start.cursor, views: VIEWS }, { token }), start.held);
        try {
          for (const a of actions) {
            if (a.k === 'emit') {
              alive.push((await emit(user, { category: CATEGORIES[a.category] ?? null, type: TYPES[a.type] ?? 'ALERT' })).id);
            } else if (a.k === 'update') {
              const n = await emit(user, {
                key: `k${a.key}`,
                category: CATEGORIES[a.category] ?? null,
                type: TYPES[a.type] ?? 'ALERT',
                markUnread: a.markUnread,
              });
              if (n.status === 'DELIVERED') alive.push(n.id);
            } else if (a.k === 'all-read') {
              await t.execute(MarkAllRead, {}, token);
            } else if (a.k === 'by-filter') {
              const payload = await byFilter(a.change, VIEWS[a.view]?.filter ?? null, token);
              expect(payload.hasMore).toBe(false);
              expect(payload.counts).toEqual(await countedFresh(user));
              expect(payload.counts[0]).toMatchObject({ unread: payload.unreadCount, unseen: payload.unseenCount });
            } else if (alive.length > 0) {
              const id = alive[a.pick % alive.length] ?? '';
              const r = await change(a.change, [id], token);
              if (r.errors) throw new Error(`${a.change} failed: ${JSON.stringify(r.errors)}`);
              if (a.change === 'delete') alive.splice(alive.indexOf(id), 1);
            }
          }
          const fresh = await countedFresh(user);
          expect((await counts(token)).counts).toEqual(fresh);
          await tab.until((c) => JSON.stringify(c) === JSON.stringify(fresh));
          expect(tab.mismatches).toEqual([]);
          expect(countHeld(tab.held.values())).toEqual(fresh);
        } finally {
          await tab.close();
        }
      }),
      { numRuns: Number(process.env.VIEWS_RUNS ?? 10) },
    );
  }, 240_000);

  it('changes everything a filter selects in one transaction, streamed to an open tab, and answers the counts at its position', async () => {
    const user = `views-bulk-${backend}`;
    const token = await t.token(user);
    for (let i = 0; i < 6; i++) await emit(user, { category: i % 2 === 0 ? 'billing' : 'social', type: 'ALERT' });
    const start = await fetchAll(token);
    const tab = new ViewTab(await t.subscribe(ViewEvents, { after: start.cursor, views: VIEWS }, { token }), start.held);
    try {
      await tab.until((c) => c[0]?.total === 6);
      const r = await t.execute(ArchiveByFilter, { filter: { categories: ['billing'] }, views: VIEWS }, token);
      const payload = r.data?.archiveNotificationsByFilter;
      expect(payload).toMatchObject({ changedCount: 3, hasMore: false, unreadCount: 3, unseenCount: 3 });
      expect(payload?.counts).toEqual(await countedFresh(user));
      // Three changes, three positions, right after the fetch's.
      expect(decodeCursor(payload?.cursor ?? '')).toBe(decodeCursor(start.cursor) + 3);
      await tab.until((c) => c[2]?.total === 0);
      expect(tab.changes.filter((c) => c === 'ARCHIVED')).toHaveLength(3);
      expect(tab.lastCountsAt).toBe(payload?.cursor);
      expect(tab.mismatches).toEqual([]);
      // Nothing more to archive: no change, no position taken.
      const again = await t.execute(ArchiveByFilter, { filter: { categories: ['billing'] } }, token);
      expect(again.data?.archiveNotificationsByFilter).toMatchObject({
        changedCount: 0,
        hasMore: false,
        cursor: payload?.cursor,
        counts: [],
      });
      const bad = await t.execute(ReadByFilter, { filter: { categories: ['no spaces allowed'] } }, token);
      expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      const tooMany = await t.execute(SeenByFilter, { views: Array.from({ length: 11 }, (_, i) => ({ name: `v${i}` })) }, token);
      expect(tooMany.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect((await counts(token)).counts).toEqual(await countedFresh(user));
    } finally {
      await tab.close();
    }
  });

  it(`changes at most ${FILTER_CHANGE_LIMIT.toLocaleString('en')} per call and says when more remain`, async () => {
    const user = `views-limit-${backend}`;
    const token = await t.token(user);
    const sql = t.app.services.db.sql;
    // Rows straight into the table (an emit to one recipient 10,001 times would take minutes); the
    // triggers count them as they count an emit's.
    const n = FILTER_CHANGE_LIMIT + 2;
    await sql.query(
      'INSERT INTO inbox_state (user_id, last_seq, unread_count, unseen_count, version) VALUES ($1, $2::int, $2::int, $2::int, 1)',
      [user, n],
    );
    await sql.query(
      `INSERT INTO notification (recipient_id, seq, change_seq, title, body, type, category)
       SELECT $1, s, s, 't', '', 'ALERT', 'billing' FROM generate_series(1, $2::int) s`,
      [user, n],
    );
    const first = await t.execute(
      ReadByFilter,
      { filter: { categories: ['billing'] }, views: [{ name: 'billing', filter: { categories: ['billing'] } }] },
      token,
    );
    expect(first.data?.markNotificationsReadByFilter).toMatchObject({
      changedCount: FILTER_CHANGE_LIMIT,
      hasMore: true,
      unreadCount: 2,
      counts: [{ name: 'billing', total: n, unread: 2, unseen: 2 }],
    });
    const second = await t.execute(ReadByFilter, { filter: { categories: ['billing'] } }, token);
    expect(second.data?.markNotificationsReadByFilter).toMatchObject({ changedCount: 2, hasMore: false, unreadCount: 0 });
    expect(decodeCursor(second.data?.markNotificationsReadByFilter.cursor ?? '')).toBe(2 * n);
  }, 60_000);
});

/**
 * A tab with views: the notifications it fetched, kept up to date with inboxEvents as a client
 * does, and every CountsChangedEvent compared with the counts of what the tab holds at that moment
 * (that is, at the event's position): `mismatches` lists the ones that differ.
 */
class ViewTab {
  readonly held: Map<string, Held>;
  readonly mismatches: unknown[] = [];
  readonly changes: string[] = [];
  lastCounts: Counted[] | undefined;
  lastCountsAt: string | undefined;
  private waiter: { check: (c: Counted[]) => boolean; resolve: () => void } | undefined;
  private readonly pump: Promise<void>;
  private closed = false;

  constructor(
    private readonly reader: SseReader,
    held: Map<string, Held>,
  ) {
    this.held = new Map(held);
    this.pump = this.read();
  }

  private async read() {
    for (;;) {
      const e = await this.reader.next(60_000).catch(() => null);
      if (e === null || this.closed) return;
      if (e.event !== 'next') continue;
      const result = JSON.parse(e.data) as { data?: { inboxEvents: Event }; errors?: unknown[] };
      if (!result.data) {
        this.mismatches.push(result.errors);
        continue;
      }
      this.apply(result.data.inboxEvents);
    }
  }

  private apply(event: Event) {
    switch (event.__typename) {
      case 'NotificationAddedEvent':
      case 'NotificationUpdatedEvent':
        this.held.set(event.notification.id, event.notification);
        return;
      case 'NotificationChangedEvent': {
        this.changes.push(event.change);
        const n = this.held.get(event.notificationId);
        if (event.change === 'DELETED' || event.change === 'EXPIRED') this.held.delete(event.notificationId);
        else if (n)
          this.held.set(n.id, { ...n, readAt: event.readAt ?? null, seenAt: event.seenAt ?? null, archivedAt: event.archivedAt ?? null });
        return;
      }
      case 'CountsChangedEvent': {
        const local = countHeld(this.held.values());
        if (JSON.stringify(local) !== JSON.stringify(event.counts)) this.mismatches.push({ at: event.cursor, local, pushed: event.counts });
        this.lastCounts = event.counts;
        this.lastCountsAt = event.cursor;
        if (this.waiter?.check(event.counts)) this.waiter.resolve();
        return;
      }
      default:
        return;
    }
  }

  /** Resolves once the tab has been pushed counts that satisfy `check`. */
  until(check: (c: Counted[]) => boolean, timeoutMs = 10_000): Promise<void> {
    if (this.lastCounts && check(this.lastCounts)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`counts not pushed within ${timeoutMs} ms; last: ${JSON.stringify(this.lastCounts)}`)),
        timeoutMs,
      );
      this.waiter = {
        check,
        resolve: () => {
          clearTimeout(timer);
          this.waiter = undefined;
          resolve();
        },
      };
    });
  }

  async close() {
    this.closed = true;
    await this.reader.close();
    await this.pump;
  }
}
