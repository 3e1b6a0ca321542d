import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMIT_SCOPE, signToken } from '../../src/auth/tokens.ts';
import { createInboxStore, type InboxNotification, type InboxState, type InboxStore, NOTIFICATION_FIELDS } from '../../src/client/index.ts';
import { TEST_SECRET } from '../helpers/app.ts';
import { Herald, MODES, RetryGate, until, userId } from './harness.ts';

interface Fresh {
  items: InboxNotification[];
  unreadCount: number;
  unseenCount: number;
  streamCursor: string;
}

/**
 * The inbox store against real Herald processes: every kind of change, live and while the client's
 * instance is down, ends with the store showing exactly what a fresh fetch shows.
 */
describe.each(MODES)('createInboxStore against real Herald processes (%s)', (mode) => {
  let herald: Herald;
  beforeAll(async () => {
    herald = await Herald.start(mode);
  });
  afterAll(async () => {
    await herald?.close();
  });

  async function producer<T>(query: string, variables: Record<string, unknown>): Promise<T> {
    const token = await signToken(TEST_SECRET, { sub: 'producer', scope: EMIT_SCOPE });
    return herald.gql<T>(await herald.emitBase(), token, query, variables);
  }

  /** Emits to `user` (with `key`: adds, or updates in place); returns the notification's id. */
  async function emit(user: string, title: string, extra: Record<string, unknown> = {}): Promise<string> {
    const data = await producer<{ emitNotification: { deliveries: { notification: { id: string } }[] } }>(
      'mutation($input: EmitNotificationInput!) { emitNotification(input: $input) { deliveries { notification { id } } } }',
      { input: { recipientIds: [user], title, body: 'b', type: 'UPDATE', ...extra } },
    );
    const delivery = data.emitNotification.deliveries[0];
    if (!delivery) throw new Error('no delivery');
    return delivery.notification.id;
  }

  /** One of the user's own bulk mutations (read, unread, seen, archive, unarchive, delete). */
  const change = (token: string, mutation: string, ids: string[]) =>
    herald.gql(herald.url.replace(/\/graphql$/, ''), token, `mutation($ids: [ID!]!) { ${mutation}(ids: $ids) { unreadCount } }`, { ids });

  async function fresh(token: string): Promise<Fresh> {
    const data = await herald.gql<{
      notifications: { edges: { node: InboxNotification }[]; streamCursor: string };
      unreadCount: number;
      unseenCount: number;
    }>(
      herald.url.replace(/\/graphql$/, ''),
      token,
      `{ notifications(first: 100) { edges { node { ${NOTIFICATION_FIELDS} } } streamCursor } unreadCount unseenCount }`,
    );
    return {
      items: data.notifications.edges.map((e) => e.node),
      unreadCount: data.unreadCount,
      unseenCount: data.unseenCount,
      streamCursor: data.notifications.streamCursor,
    };
  }

  /** Waits until the store has applied everything up to the inbox's newest position, then compares. */
  async function converged(store: InboxStore, token: string, what: string): Promise<Fresh> {
    const now = await fresh(token);
    // The counts after a change share its position and follow it as an event of their own.
    const caughtUp = () => {
      const s = store.getState();
      return s.cursor === now.streamCursor && s.status === 'live' && s.unreadCount === now.unreadCount && s.unseenCount === now.unseenCount;
    };
    await until(caughtUp, what);
    const state = store.getState();
    expect({ items: state.items, unreadCount: state.unreadCount, unseenCount: state.unseenCount }).toEqual({
      items: now.items,
      unreadCount: now.unreadCount,
      unseenCount: now.unseenCount,
    });
    return now;
  }

  it('converges with a fresh fetch after emits, updates in place, reads, seen, archive, unarchive, deletes and a killed instance', async () => {
    const user = userId('inbox-store');
    const token = await herald.token(user);
    const a = await emit(user, 'a');
    const b = await emit(user, 'b');
    const c = await emit(user, 'c');
    const d = await emit(user, 'd');
    await change(token, 'archiveNotifications', [d]); // archived before the fetch: the store never holds it

    const gate = new RetryGate();
    const store = createInboxStore({
      url: () => herald.url,
      headers: () => ({ authorization: `Bearer ${token}` }),
      pageSize: 50,
      client: { retry: gate.retry },
    });
    const statuses: InboxState['status'][] = [];
    store.subscribe((state) => {
      if (statuses.at(-1) !== state.status) statuses.push(state.status);
    });
    try {
      await store.start();
      expect(store.getState().items.map((n) => n.title)).toEqual(['c', 'b', 'a']);
      expect(store.getState().unreadCount).toBe(3);
      await until(() => store.getState().status === 'live', 'the stream to open');

      // Live.
      const e = await emit(user, 'e');
      const task = await emit(user, 'Export 10%', { key: 'export:1', progress: 0.1, taskState: 'RUNNING' });
      await emit(user, 'Export 50%', { key: 'export:1', progress: 0.5, taskState: 'RUNNING' });
      await change(token, 'markNotificationsRead', [a]);
      await change(token, 'markNotificationsSeen', [b]);
      await change(token, 'archiveNotifications', [b]);
      await change(token, 'unarchiveNotifications', [d]);
      await change(token, 'deleteNotifications', [c]);
      await change(token, 'markNotificationsRead', [e]);
      await change(token, 'markNotificationsUnread', [e]);
      const live = await converged(store, token, 'the live changes');
      expect(live.items.map((n) => n.title)).toEqual(['Export 50%', 'e', 'd', 'a']);
      expect(store.getState().items.find((n) => n.id === task)?.progress).toBe(0.5);

      // The clients' instance dies; everything below happens while the store waits to reconnect.
      gate.close();
      await herald.outage('kill');
      await gate.dropped;
      expect(store.getState().status).toBe('reconnecting');
      await emit(user, 'f');
      await emit(user, 'Export done', { key: 'export:1', progress: 1, taskState: 'SUCCEEDED', markUnread: true });
      await change(token, 'deleteNotifications', [a]);
      await change(token, 'archiveNotifications', [e]);
      await change(token, 'unarchiveNotifications', [b]);
      await change(token, 'markNotificationsRead', [d]);
      gate.release();
      const replayed = await converged(store, token, 'the replay after the reconnect');
      expect(replayed.items.map((n) => n.title)).toEqual(['f', 'Export done', 'd', 'b']);

      // And live again on the new connection.
      await emit(user, 'g');
      const after = await converged(store, token, 'a live emit after the reconnect');
      expect(after.items.map((n) => n.title)).toEqual(['g', 'f', 'Export done', 'd', 'b']);
      expect(statuses).toEqual(['loading', 'connecting', 'live', 'reconnecting', 'live']);
    } finally {
      store.close();
    }
  });

  it('loadMore appends older pages; events about notifications beyond them are not shown until loaded', async () => {
    const user = userId('inbox-pages');
    const token = await herald.token(user);
    const ids: string[] = [];
    for (let i = 1; i <= 5; i++) ids.push(await emit(user, `n${i}`));
    const store = createInboxStore({ url: () => herald.url, headers: () => ({ authorization: `Bearer ${token}` }), pageSize: 2 });
    try {
      await store.start();
      await until(() => store.getState().status === 'live', 'the stream to open');
      expect(store.getState().items.map((n) => n.title)).toEqual(['n5', 'n4']);
      expect(store.getState().hasMore).toBe(true);
      // n1 is beyond the loaded page: its read changes the count, not the list.
      await change(token, 'markNotificationsRead', [ids[0] ?? '']);
      await until(() => store.getState().unreadCount === 4, 'the count after reading n1');
      expect(store.getState().items.map((n) => n.title)).toEqual(['n5', 'n4']);
      await store.loadMore();
      await store.loadMore();
      expect(store.getState().hasMore).toBe(false);
      await converged(store, token, 'all pages');
    } finally {
      store.close();
    }
  });
  it('changes that arrive while loadMore waits for its page are applied to that page', async () => {
    const user = userId('inbox-race');
    const token = await herald.token(user);
    const ids: string[] = [];
    for (let i = 1; i <= 5; i++) ids.push(await emit(user, `n${i}`));
    let hold: Promise<void> | undefined;
    let read: () => void = () => {};
    const pageRead = new Promise<void>((resolve) => {
      read = resolve;
    });
    const store = createInboxStore({
      url: () => herald.url,
      headers: () => ({ authorization: `Bearer ${token}` }),
      pageSize: 2,
      // The next page's answer, read from the server, is handed over only once `hold` resolves.
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        if (hold && String(init?.body).includes('"after":"')) {
          read();
          await hold;
        }
        return response;
      },
    });
    try {
      await store.start();
      await until(() => store.getState().status === 'live', 'the stream to open');
      let release: () => void = () => {};
      hold = new Promise((resolve) => {
        release = resolve;
      });
      const more = store.loadMore();
      await pageRead; // the page (n3, n2) is read: n3 unread, n2 there
      const [n2, n3] = [ids[1] ?? '', ids[2] ?? ''];
      await change(token, 'markNotificationsRead', [n3]);
      await change(token, 'deleteNotifications', [n2]);
      const now = await fresh(token);
      await until(
        () => store.getState().cursor === now.streamCursor && store.getState().unreadCount === now.unreadCount,
        'both changes on the stream',
      );
      release();
      await more;
      expect(store.getState().items.map((n) => [n.title, n.read])).toEqual([
        ['n5', false],
        ['n4', false],
        ['n3', true],
      ]);
      expect(store.getState().items).toEqual(now.items.slice(0, 3));
    } finally {
      store.close();
    }
  });
});
