import { Client, fetchExchange } from '@urql/core';
import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Emit, NotificationAdded, UnreadCount } from '../documents.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { DEPLOYED_BACKEND } from '../helpers/backends.ts';
import { SseReader } from '../helpers/sse.ts';

// Issue 11 item 2: "A POST whose Accept lists text/event-stream and another type hangs forever".
// urql's default fetchExchange sends the Accept below with every query and mutation. On main the
// SSE endpoint reads the body, finds no subscription and hands the request on, and the operations
// endpoint then waits for a body that was already read: the request never gets an answer. On main
// the query without Origin and the urql client fail by timing out (no answer within 10 s); the
// query with an Origin (which goes to Yoga) and a subscription POSTed with Accept:
// text/event-stream already work and must keep working.

/** What @urql/core's fetchExchange sends as Accept by default. */
const URQL_ACCEPT = 'application/graphql-response+json, application/graphql+json, application/json, text/event-stream, multipart/mixed';

/** Long enough for any healthy answer on a busy machine; a hang fails the test instead of stalling the suite. */
const HANG = 10_000;

/** urql's exchange aborts with its own signal: bound its answer here, so a hang fails with a message. */
function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} got no answer within ${HANG} ms`)), HANG);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

describe('content negotiation: an Accept listing text/event-stream among other types', () => {
  let t: TestApp;
  let url: string;
  beforeAll(async () => {
    t = await startTestApp(DEPLOYED_BACKEND);
    url = `${await t.listen()}/graphql`;
  });
  afterAll(() => t?.close());

  it.each<{ name: string; headers: Record<string, string> }>([
    { name: 'without Origin', headers: {} },
    { name: 'with an Origin', headers: { origin: 'https://app.example' } },
  ])('a POSTed query with urql’s Accept answers 200 JSON ($name)', async ({ headers }) => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: URQL_ACCEPT, ...headers },
      body: JSON.stringify({ query: '{ __typename }' }),
      signal: AbortSignal.timeout(HANG),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/(graphql-response\+)?json/);
    expect(await response.json()).toEqual({ data: { __typename: 'Query' } });
  });

  it('an urql Client with its default fetchExchange runs a query and an emit mutation', async () => {
    const client = (token: string) =>
      new Client({
        url,
        exchanges: [fetchExchange],
        fetchOptions: { headers: { authorization: `Bearer ${token}` } },
      });
    const producer = client(await t.producerToken());
    const emitted = await within(
      producer.mutation(Emit, { input: { recipientIds: ['neg-urql'], title: 'negotiated', body: 'b', type: 'UPDATE' } }).toPromise(),
      'the emit mutation',
    );
    expect(emitted.error).toBeUndefined();
    expect(emitted.data?.emitNotification.deliveredCount).toBe(1);

    const user = client(await t.token('neg-urql'));
    const counted = await within(user.query(UnreadCount, {}).toPromise(), 'the unreadCount query');
    expect(counted.error).toBeUndefined();
    expect(counted.data?.unreadCount).toBe(1);
  });

  it('a subscription POSTed with Accept: text/event-stream still streams', async () => {
    const token = await t.token('neg-sse');
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: print(NotificationAdded), variables: {} }),
      signal: AbortSignal.timeout(30_000),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const stream = new SseReader(response);
    try {
      const emitted = await t.execute(
        Emit,
        { input: { recipientIds: ['neg-sse'], title: 'streamed', body: 'b', type: 'UPDATE' } },
        await t.producerToken(),
      );
      expect(emitted.data?.emitNotification.deliveredCount).toBe(1);
      const [event] = await stream.take<{ notificationAdded: { title: string } }>(1);
      expect(event?.data.notificationAdded.title).toBe('streamed');
    } finally {
      await stream.close();
    }
  });
});
