import type { ResultOf } from '@graphql-typed-document-node/core';
import { LogEvents, type LogNotification, LogPage } from '../documents.ts';
import type { TestApp } from './app.ts';
import type { SseReader } from './sse.ts';

/** A notification as a client holds it. */
export type Held = ResultOf<typeof LogNotification>;
type Event = ResultOf<typeof LogEvents>['inboxEvents'];

/** What a client holds: its notifications (both views), the badges, and the position it is at. */
export interface InboxView {
  notifications: Map<string, Held>;
  unreadCount: number;
  unseenCount: number;
  cursor: string;
}

/**
 * Fetches what a client would: the default view and the archived view (at most 100 each, which
 * the tests stay under), the badges and the stream cursor. Called while nothing else changes the
 * inbox, so the reads agree with each other.
 */
export async function fetchInbox(t: TestApp, token: string): Promise<InboxView> {
  const notifications = new Map<string, Held>();
  let cursor = '';
  let unreadCount = 0;
  let unseenCount = 0;
  for (const archived of [false, true]) {
    const r = await t.execute(LogPage, { first: 100, filter: { archived } }, token);
    if (!r.data) throw new Error(`fetch failed: ${JSON.stringify(r.errors)}`);
    if (r.data.notifications.pageInfo.hasNextPage) throw new Error('more than a page: the test holds at most 100 per view');
    for (const edge of r.data.notifications.edges) notifications.set(edge.node.id, edge.node);
    cursor = r.data.notifications.streamCursor;
    unreadCount = r.data.unreadCount;
    unseenCount = r.data.unseenCount;
  }
  return { notifications, unreadCount, unseenCount, cursor };
}

/**
 * A tab: the inbox it fetched, kept up to date by applying inboxEvents, as a client of the
 * documented contract does (Added and Updated replace the notification, Changed moves its state or
 * removes it, counts replace the badges; the last SSE id is where it resumes after a disconnect).
 */
export class LocalInbox {
  readonly view: InboxView;
  /** Events applied (all connections). */
  readonly events: Event[] = [];
  private reader: SseReader | undefined;
  private pump: Promise<void> | undefined;
  private waiters: { cursor: string; resolve: () => void }[] = [];
  errors: string[] = [];
  /** The position of the last counts applied. */
  private countsAt: string | undefined;

  constructor(
    private readonly t: TestApp,
    private readonly token: string,
    fetched: InboxView,
  ) {
    this.view = { ...fetched, notifications: new Map(fetched.notifications) };
  }

  get connected(): boolean {
    return this.reader !== undefined;
  }

  /** Subscribes from the position it holds: by `after`, or as a reconnecting EventSource (Last-Event-ID). */
  async connect(via: 'after' | 'header' = 'after'): Promise<void> {
    if (this.reader) return;
    const reader =
      via === 'after'
        ? await this.t.subscribe(LogEvents, { after: this.view.cursor }, { token: this.token })
        : await this.t.subscribe(LogEvents, {}, { token: this.token, lastEventId: this.view.cursor });
    this.reader = reader;
    this.pump = this.read(reader);
  }

  /** Hangs up (what arrives afterwards on that connection is never seen). */
  async disconnect(): Promise<void> {
    const reader = this.reader;
    if (!reader) return;
    this.reader = undefined;
    await reader.close();
    await this.pump;
  }

  /**
   * Resolves once the tab has applied everything up to `cursor` (the position of a fresh fetch):
   * the counts at that position, which end every replay and every live transaction.
   */
  reached(cursor: string, timeoutMs = 10_000): Promise<void> {
    if (this.countsAt === cursor) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`tab at ${this.view.cursor} did not reach ${cursor} within ${timeoutMs} ms: ${this.errors.join('; ')}`)),
        timeoutMs,
      );
      this.waiters.push({
        cursor,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  private async read(reader: SseReader) {
    for (;;) {
      let event: Awaited<ReturnType<SseReader['next']>>;
      try {
        event = await reader.next(60_000);
      } catch {
        continue;
      }
      if (event === null || this.reader !== reader) return;
      if (event.event !== 'next') continue;
      const result = JSON.parse(event.data) as { data?: { inboxEvents: Event }; errors?: unknown[] };
      if (!result.data) {
        this.errors.push(event.data);
        continue;
      }
      this.apply(result.data.inboxEvents);
      if (event.id === undefined) this.errors.push(`an event without an id: ${event.data}`);
      else this.view.cursor = event.id;
      if (result.data.inboxEvents.__typename !== 'UnreadCountChangedEvent') continue;
      this.countsAt = event.id;
      for (const w of this.waiters.filter((w) => w.cursor === this.countsAt)) w.resolve();
      this.waiters = this.waiters.filter((w) => w.cursor !== this.countsAt);
    }
  }

  private apply(e: Event) {
    this.events.push(e);
    const { notifications } = this.view;
    switch (e.__typename) {
      case 'NotificationAddedEvent':
      case 'NotificationUpdatedEvent':
        notifications.set(e.notification.id, e.notification);
        break;
      case 'NotificationChangedEvent': {
        if (e.change === 'DELETED' || e.change === 'EXPIRED') {
          notifications.delete(e.notificationId);
          break;
        }
        const held = notifications.get(e.notificationId);
        if (held === undefined) this.errors.push(`a change of ${e.notificationId}, which the tab does not hold`);
        else notifications.set(e.notificationId, { ...held, readAt: e.readAt, seenAt: e.seenAt, archivedAt: e.archivedAt });
        break;
      }
      case 'UnreadCountChangedEvent':
        this.view.unreadCount = e.unreadCount;
        this.view.unseenCount = e.unseenCount;
        break;
    }
  }
}

/** A view as comparable data: notifications sorted by id. */
export function comparable(view: InboxView) {
  return {
    notifications: [...view.notifications.values()].sort((a, b) => a.id.localeCompare(b.id)),
    unreadCount: view.unreadCount,
    unseenCount: view.unseenCount,
    cursor: view.cursor,
  };
}
