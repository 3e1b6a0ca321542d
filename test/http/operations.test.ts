import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Emit, Inbox, MarkRead, UnreadCount } from '../documents.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';

// Herald serves GraphQL operations on Node's own request and response, through Yoga's envelop
// pipeline (src/http/graphql.ts), and hands the rest to Yoga's handler. Each request below is sent
// twice: over HTTP to Herald's handler, and to Yoga alone (yoga.fetch). The answers must be the
// same: status, content type and body.

interface Case {
  name: string;
  /** Headers besides content-type (application/json unless given). */
  headers?: (tokens: Tokens) => Record<string, string>;
  body: (side: 'herald' | 'yoga') => unknown;
  /** Which of Herald's paths answers it: the fast path, or Yoga's handler. */
  path: 'fast' | 'yoga';
}

interface Tokens {
  user: string;
  producer: string;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const query = (doc: Parameters<typeof print>[0], variables?: unknown) => ({ query: print(doc), variables });

const cases: Case[] = [
  { name: 'a query', headers: (t) => ({ ...bearer(t.user), accept: 'application/json' }), body: () => query(UnreadCount), path: 'fast' },
  { name: 'no Accept header', headers: (t) => bearer(t.user), body: () => query(Inbox, { first: 2 }), path: 'fast' },
  { name: 'Accept */*', headers: (t) => ({ ...bearer(t.user), accept: '*/*' }), body: () => query(Inbox, { first: 2 }), path: 'fast' },
  {
    name: 'Accept graphql-response+json',
    headers: (t) => ({ ...bearer(t.user), accept: 'application/graphql-response+json' }),
    body: () => query(UnreadCount),
    path: 'fast',
  },
  {
    name: 'Accept both, graphql-response+json first',
    headers: (t) => ({ ...bearer(t.user), accept: 'application/graphql-response+json, application/json;q=0.9' }),
    body: () => query(UnreadCount),
    path: 'fast',
  },
  {
    name: 'Accept both, json first',
    headers: (t) => ({ ...bearer(t.user), accept: 'application/json, application/graphql-response+json' }),
    body: () => query(UnreadCount),
    path: 'fast',
  },
  { name: 'no token: UNAUTHENTICATED', body: () => query(UnreadCount), path: 'fast' },
  {
    name: 'no token, graphql-response+json',
    headers: () => ({ accept: 'application/graphql-response+json' }),
    body: () => query(UnreadCount),
    path: 'fast',
  },
  { name: 'a rejected token', headers: () => bearer('not.a.jwt'), body: () => query(UnreadCount), path: 'fast' },
  {
    name: 'a user emitting: FORBIDDEN',
    headers: (t) => bearer(t.user),
    body: () => query(Emit, { input: { recipientIds: ['op-x'], title: 't', body: 'b', type: 'UPDATE' } }),
    path: 'fast',
  },
  {
    name: 'an emit',
    headers: (t) => bearer(t.producer),
    body: (side) => query(Emit, { input: { recipientIds: [`op-${side}`], title: 't', body: 'b', type: 'UPDATE', data: { n: 1 } } }),
    path: 'fast',
  },
  {
    name: 'a malformed cursor: BAD_USER_INPUT',
    headers: (t) => bearer(t.user),
    body: () => query(Inbox, { after: 'not-a-cursor' }),
    path: 'fast',
  },
  { name: 'unknown ids: NOT_FOUND', headers: (t) => bearer(t.user), body: () => query(MarkRead, { ids: ['nope'] }), path: 'fast' },
  { name: 'a variable of the wrong type', headers: (t) => bearer(t.user), body: () => query(Inbox, { first: 'two' }), path: 'fast' },
  { name: 'a required variable missing', headers: (t) => bearer(t.producer), body: () => query(Emit, {}), path: 'fast' },
  {
    name: 'operationName picks one of two operations',
    headers: (t) => bearer(t.user),
    body: () => ({ query: 'query A { unreadCount } query B { __typename }', operationName: 'B' }),
    path: 'fast',
  },
  {
    name: 'an empty extensions object',
    headers: (t) => bearer(t.user),
    body: () => ({ ...query(UnreadCount), extensions: {} }),
    path: 'fast',
  },
  { name: 'a syntax error', headers: (t) => bearer(t.user), body: () => ({ query: '{ unreadCount' }), path: 'fast' },
  { name: 'an unknown field', headers: (t) => bearer(t.user), body: () => ({ query: '{ nope }' }), path: 'fast' },
  { name: 'a batch', headers: (t) => bearer(t.user), body: () => [query(UnreadCount), query(UnreadCount)], path: 'yoga' },
  { name: 'an unknown parameter', headers: (t) => bearer(t.user), body: () => ({ ...query(UnreadCount), foo: 1 }), path: 'yoga' },
  {
    name: 'variables that are not an object',
    headers: (t) => bearer(t.user),
    body: () => ({ ...query(UnreadCount), variables: [1] }),
    path: 'yoga',
  },
  { name: 'no query', headers: (t) => bearer(t.user), body: () => ({ variables: {} }), path: 'yoga' },
  {
    name: 'two operations and no operationName',
    headers: (t) => bearer(t.user),
    body: () => ({ query: 'query A { unreadCount } query B { __typename }' }),
    path: 'fast',
  },
  {
    name: 'a subscription asking for JSON',
    headers: (t) => ({ ...bearer(t.user), accept: 'application/json' }),
    body: () => ({ query: 'subscription { notificationAdded { id } }' }),
    path: 'fast',
  },
  {
    name: 'a browser request (Origin)',
    headers: (t) => ({ ...bearer(t.user), origin: 'https://app.example' }),
    body: () => query(UnreadCount),
    path: 'fast',
  },
  {
    name: 'Accept text/html (406)',
    headers: (t) => ({ ...bearer(t.user), accept: 'text/html' }),
    body: () => query(UnreadCount),
    path: 'yoga',
  },
];

/** Values that differ between two emits (generated ids, positions, times), blanked. */
function normalize(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalize);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, ['id', 'cursor', 'createdAt', 'recipientId'].includes(k) ? typeof v : normalize(v)]),
    );
  }
  return value;
}

describe('POSTed queries and mutations answer exactly as Yoga does', () => {
  let t: TestApp;
  let origin: string;
  let tokens: Tokens;
  beforeAll(async () => {
    t = await startTestApp('embedded');
    origin = await t.listen();
    tokens = { user: await t.token('op-user'), producer: await t.producerToken() };
  });
  afterAll(() => t.close());

  it.each(cases)('$name', async ({ headers, body, path }) => {
    const send = async (side: 'herald' | 'yoga') => {
      const b = body(side);
      const init = {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers?.(tokens) },
        body: typeof b === 'string' ? b : JSON.stringify(b),
      };
      const res = side === 'herald' ? await fetch(`${origin}/graphql`, init) : await t.app.yoga.fetch('http://herald.test/graphql', init);
      const text = await res.text();
      // CORS is the front door's (test/http/cors.test.ts), not Yoga's.
      return { status: res.status, type: res.headers.get('content-type'), text };
    };
    const before = t.app.routes().served;
    const herald = await send('herald');
    const after = t.app.routes().served;
    const yoga = await send('yoga');

    expect({ ...herald, text: undefined }).toEqual({ ...yoga, text: undefined });
    const parse = (text: string) => (text ? normalize(JSON.parse(text)) : text);
    expect(parse(herald.text)).toEqual(parse(yoga.text));
    expect(herald.status).toBeLessThan(500);
    expect(after - before).toBe(path === 'fast' ? 1 : 0);
  });

  it('an emit served on the fast path is stored and counted like any other', async () => {
    const r = await t.execute(Emit, { input: { recipientIds: ['op-stored'], title: 't', body: 'b', type: 'UPDATE' } }, tokens.producer);
    expect(r.data?.emitNotification.deliveredCount).toBe(1);
    const inbox = await t.execute(Inbox, {}, await t.token('op-stored'));
    expect(inbox.data?.notifications.edges.map((e) => e.node.id)).toEqual([r.data?.emitNotification.deliveries[0]?.notification?.id]);
  });
});
