import { EventSource } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTicketStream, type EventSourceConstructor } from '../../src/client/index.ts';
import { Emit } from '../documents.ts';
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

  it('after the ticket expired, a dropped stream gets 401, mints a new ticket and resumes from its last id: all once, in order', async () => {
    const token = await t.token('ticket-stream-user');
    const producer = await t.producerToken();
    const emit = (title: string) =>
      t.execute(Emit, { input: { recipientIds: ['ticket-stream-user'], title, body: 'b', type: 'UPDATE' } }, producer);
    const { notifications } = await gql<{ notifications: { streamCursor: string } }>(token, '{ notifications { streamCursor } }');
    const tickets: number[] = [];
    let release: () => void = () => {};
    const renewed = new Promise<void>((resolve) => {
      release = resolve;
    });
    const received: { title: string; cursor: string }[] = [];
    const errors: unknown[] = [];
    const stream = createTicketStream({
      url: `${base}/graphql`,
      query: ADDED,
      after: notifications.streamCursor,
      EventSource: QuickEventSource,
      async getTicket() {
        if (tickets.length > 0) await renewed; // the test emits while the client is away
        const minted = await gql<{ createStreamTicket: { ticket: string; expiresAt: string } }>(
          token,
          'mutation { createStreamTicket { ticket expiresAt } }',
        );
        tickets.push(new Date(minted.createStreamTicket.expiresAt).getTime());
        return minted.createStreamTicket.ticket;
      },
      onEvent: (result) => {
        const added = (result.data as { notificationAdded?: { title: string; cursor: string } } | undefined)?.notificationAdded;
        if (added) received.push(added);
        if (result.errors) errors.push(result.errors);
      },
      onError: (error) => errors.push(error),
    });
    try {
      await emit('k1');
      await emit('k2');
      await until(() => received.length === 2, 'k1 and k2 live');
      const expiry = tickets[0] ?? 0;
      await until(() => Date.now() > expiry + 300, 'the first ticket to expire', 15_000);
      t.app.sse.closeAll(); // the connection drops; EventSource's reconnect now carries an expired ticket
      await until(() => tickets.length === 1 && received.length === 2 && stream.cursor === received[1]?.cursor, 'state');
      await emit('k3');
      await emit('k4');
      release();
      await until(() => received.length >= 4, 'k3 and k4 after the new ticket', 20_000);
      await emit('k5');
      await until(() => received.length >= 5, 'k5 live');
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(received.map((n) => n.title)).toEqual(['k1', 'k2', 'k3', 'k4', 'k5']);
      expect(new Set(received.map((n) => n.cursor)).size).toBe(5);
      expect(tickets.length).toBe(2);
      expect(errors).toEqual([]);
    } finally {
      stream.close();
    }
  }, 60_000);
});
