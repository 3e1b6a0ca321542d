import { EventSource } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createInboxStore,
  createTicketStream,
  type EventSourceConstructor,
  type InboxNotification,
  NOTIFICATION_FIELDS,
  type StreamResult,
} from '../../src/client/index.ts';
import { Emit, MarkRead } from '../documents.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { BACKENDS } from '../helpers/backends.ts';
import { until } from './harness.ts';

/** undici's EventSource (a real one, over real HTTP) reconnecting after 100 ms instead of 3 s. */
const QuickEventSource: EventSourceConstructor = class extends EventSource {
  constructor(url: string) {
    super(url, { node: { reconnectionTime: 100 } });
  }
};

const ADDED = 'subscription($after: String) { notificationAdded(after: $after) { title cursor } }';

describe.each(BACKENDS)('EventSource with stream tickets (%s)', (backend) => {
  let t: TestApp;
  let base: string;
  beforeAll(async () => {
    t = await startTestApp(backend, { STREAM_TICKET_TTL_SECONDS: '5', STREAM_TICKET_SECRET: 'ticket-stream-test-key-0123456789-abcdef' });
    base = await t.listen();
  });
  afterAll(() => t?.close());

  async function gql<T>(token: string, query: string): Promise<T> {
    const response = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query }),
    });
    return ((await response.json()) as { data: T }).data;
  }

  const mint = async (token: string) =>
    (
      await gql<{ createStreamTicket: { ticket: string; expiresAt: string } }>(
        token,
        'mutation { createStreamTicket { ticket expiresAt } }',
      )
    ).createStreamTicket;

  /** Follows `user`'s notificationAdded through createTicketStream; `getToken` gives the app's current token. */
  async function follow(user: string, getToken: () => Promise<string>, beforeTicket: (n: number) => Promise<void> = async () => {}) {
    const { notifications } = await gql<{ notifications: { streamCursor: string } }>(
      await getToken(),
      '{ notifications { streamCursor } }',
    );
    const tickets: string[] = [];
    const received: { title: string; cursor: string }[] = [];
    const results: StreamResult[] = [];
    const errors: unknown[] = [];
    const stream = createTicketStream({
      url: `${base}/graphql`,
      query: ADDED,
      after: notifications.streamCursor,
      EventSource: QuickEventSource,
      async getTicket() {
        await beforeTicket(tickets.length);
        const { ticket } = await mint(await getToken());
        tickets.push(ticket);
        return ticket;
      },
      onEvent: (result) => {
        results.push(result);
        const added = (result.data as { notificationAdded?: { title: string; cursor: string } } | undefined)?.notificationAdded;
        if (added) received.push(added);
      },
      onError: (error) => errors.push(error),
    });
    const producer = await t.producerToken();
    const emit = (title: string) => t.execute(Emit, { input: { recipientIds: [user], title, body: 'b', type: 'UPDATE' } }, producer);
    return { stream, tickets, received, results, errors, emit };
  }

  it('a stream dropped by the server resumes with a new ticket from its last position (the used one is refused): all once, in order', async () => {
    const token = await t.token('ticket-stream-user');
    let release: () => void = () => {};
    const renewed = new Promise<void>((resolve) => {
      release = resolve;
    });
    // The test emits while the client is away: the second ticket waits for it.
    const f = await follow(
      'ticket-stream-user',
      async () => token,
      (n) => (n > 0 ? renewed : Promise.resolve()),
    );
    try {
      await f.emit('k1');
      await f.emit('k2');
      await until(() => f.received.length === 2, 'k1 and k2 live');
      // Within the first ticket's lifetime: it is used, so only a new ticket continues.
      const first = f.tickets[0] ?? '';
      t.app.sse.closeAll();
      await until(() => f.tickets.length === 1 && f.stream.cursor === f.received[1]?.cursor, 'state');
      const reused = await t.subscribe(ADDED, { after: null }, { ticket: first });
      expect(reused.response.status).toBe(401);
      await f.emit('k3');
      await f.emit('k4');
      release();
      await until(() => f.received.length >= 4, 'k3 and k4 after the new ticket', 20_000);
      await f.emit('k5');
      await until(() => f.received.length >= 5, 'k5 live');
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(f.received.map((n) => n.title)).toEqual(['k1', 'k2', 'k3', 'k4', 'k5']);
      expect(new Set(f.received.map((n) => n.cursor)).size).toBe(5);
      expect(f.tickets.length).toBe(2);
      expect(f.errors).toEqual([]);
    } finally {
      f.stream.close();
    }
  }, 60_000);

  it('when the token behind the ticket expires the stream ends (UNAUTHENTICATED); a ticket from the fresh token continues without loss', async () => {
    const user = 'ticket-expiring-user';
    const tokens: string[] = [];
    // The app's token: short-lived at first, then a fresh one (what an app's token refresh gives).
    const f = await follow(user, async () => {
      const token = await t.token(user, { expiresInSeconds: tokens.length < 2 ? 3 : 3600 });
      tokens.push(token);
      return token;
    });
    try {
      await f.emit('e1');
      await until(() => f.received.length === 1, 'e1 live');
      await until(
        () => f.results.some((r) => r.errors?.[0]?.extensions?.code === 'UNAUTHENTICATED'),
        'the stream to end at expiry',
        15_000,
      );
      await f.emit('e2');
      await until(() => f.received.length >= 2, 'e2 after the new ticket', 20_000);
      expect(f.received.map((n) => n.title)).toEqual(['e1', 'e2']);
      expect(f.tickets.length).toBe(2);
      expect(f.errors).toEqual([]);
    } finally {
      f.stream.close();
    }
  }, 60_000);
  it('an inbox store over tickets outlives its ticket: dropped, it mints a new one and the replay converges with a fresh fetch', async () => {
    const user = 'ticket-store-user';
    const token = await t.token(user);
    let release: () => void = () => {};
    const renewed = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tickets: string[] = [];
    const store = createInboxStore({
      url: `${base}/graphql`,
      headers: () => ({ authorization: `Bearer ${token}` }),
      tickets: {
        EventSource: QuickEventSource,
        async getTicket() {
          if (tickets.length > 0) await renewed;
          const { ticket } = await mint(token);
          tickets.push(ticket);
          return ticket;
        },
      },
    });
    const statuses: string[] = [];
    store.subscribe((state) => {
      if (statuses.at(-1) !== state.status) statuses.push(state.status);
    });
    const producer = await t.producerToken();
    const emit = async (title: string) => {
      const r = await t.execute(Emit, { input: { recipientIds: [user], title, body: 'b', type: 'UPDATE' } }, producer);
      return r.data?.emitNotification.deliveries[0]?.notification?.id ?? '';
    };
    const fresh = async () => {
      const data = await gql<{ notifications: { edges: { node: InboxNotification }[]; streamCursor: string }; unreadCount: number }>(
        token,
        `{ notifications(first: 100) { edges { node { ${NOTIFICATION_FIELDS} } } streamCursor } unreadCount }`,
      );
      return { items: data.notifications.edges.map((e) => e.node), unreadCount: data.unreadCount, cursor: data.notifications.streamCursor };
    };
    try {
      const a = await emit('a');
      await store.start();
      const b = await emit('b');
      await until(() => store.getState().items.length === 2, 'b live');
      t.app.sse.closeAll();
      await until(() => store.getState().status === 'reconnecting', 'the drop');
      await emit('c');
      await t.execute(MarkRead, { ids: [a, b] }, token);
      release();
      const now = await fresh();
      await until(
        () => store.getState().cursor === now.cursor && store.getState().unreadCount === now.unreadCount,
        'the replay after the new ticket',
        20_000,
      );
      const state = store.getState();
      expect({ items: state.items, unreadCount: state.unreadCount }).toEqual({ items: now.items, unreadCount: now.unreadCount });
      expect(state.items.map((n) => n.title)).toEqual(['c', 'b', 'a']);
      expect(tickets.length).toBe(2);
      await until(() => store.getState().status === 'live', 'live again');
      expect(statuses).toEqual(['loading', 'connecting', 'live', 'reconnecting', 'live']);
    } finally {
      store.close();
    }
  }, 60_000);
});
