import { type Client, type ClientOptions, createClient } from 'graphql-sse';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHeraldClient, cursorSeq } from '../../src/client/index.ts';
import { encodeCursor } from '../../src/domain/cursor.ts';
import {
  Herald,
  MODES,
  NOTIFICATION_ADDED,
  type Notification,
  outageScenario,
  RetryGate,
  type Subscriber,
  sleep,
  until,
  userId,
} from './harness.ts';

type AddedData = { notificationAdded: Notification };

/** graphql-sse options as an app would write them; `retry` is the test's gate, `url` follows the outage. */
const options = (setup: { token: string; gate: RetryGate; url: () => string }): ClientOptions<false> => ({
  url: setup.url,
  headers: () => ({ authorization: `Bearer ${setup.token}` }),
  retryAttempts: 20,
  retry: setup.gate.retry,
});

/** Subscribes with `client.subscribe` (a sink). */
function viaSink(client: Client<false>, query: string, variables: Record<string, unknown>): Subscriber {
  const received: Notification[] = [];
  let ended: unknown;
  const dispose = client.subscribe<AddedData>(
    { query, variables },
    {
      next: (result) => {
        if (result.data) received.push(result.data.notificationAdded);
      },
      error: (error) => {
        ended = error;
      },
      complete: () => {
        ended = 'complete';
      },
    },
  );
  return {
    received,
    ended: () => ended,
    dispose: () => {
      dispose();
      client.dispose();
    },
  };
}

/** Subscribes with `client.iterate` (an async iterator). */
function viaIterator(client: Client<false>, query: string, variables: Record<string, unknown>): Subscriber {
  const received: Notification[] = [];
  let ended: unknown;
  const iterator = client.iterate<AddedData>({ query, variables });
  void (async () => {
    try {
      for await (const result of iterator) if (result.data) received.push(result.data.notificationAdded);
      ended = 'complete';
    } catch (error) {
      ended = error;
    }
  })();
  return {
    received,
    ended: () => ended,
    dispose: () => {
      void iterator.return?.();
      client.dispose();
    },
  };
}

const titles = (ns: Notification[]) => ns.map((n) => n.title);

describe.each(MODES)('graphql-sse client against real Herald processes (%s)', (mode) => {
  let herald: Herald;
  beforeAll(async () => {
    herald = await Herald.start(mode);
  }, 120_000);
  afterAll(async () => {
    await herald?.close();
  });

  it('with the helper: every notification exactly once, in order, across a SIGKILL of the server', async () => {
    const run = await outageScenario(herald, 'kill', (s) =>
      viaSink(createHeraldClient(options(s)), NOTIFICATION_ADDED, { after: s.after }),
    );
    expect(run.retries).toBeGreaterThan(0);
    expect(run.received).toEqual(run.emitted);
    expect(run.ended).toBeUndefined();
  }, 120_000);

  it('with the helper: the same across a graceful shutdown (streams end without complete)', async () => {
    const run = await outageScenario(herald, 'stop', (s) =>
      viaSink(createHeraldClient(options(s)), NOTIFICATION_ADDED, { after: s.after }),
    );
    expect(run.retries).toBeGreaterThan(0);
    expect(run.received).toEqual(run.emitted);
    expect(run.ended).toBeUndefined();
  }, 120_000);

  it('without the helper, graphql-sse retries with the original `after` and replays what it already delivered', async () => {
    // Documented behaviour of a plain graphql-sse client, and the reason the helper exists.
    const run = await outageScenario(herald, 'kill', (s) => viaSink(createClient(options(s)), NOTIFICATION_ADDED, { after: s.after }));
    expect(run.retries).toBeGreaterThan(0);
    expect(titles(run.received)).toEqual(['k1', 'k2', 'k1', 'k2', 'k3', 'k4', 'k5']);
  }, 120_000);

  it('with the helper: iterate() and an inline `after` literal resume exactly once too (Last-Event-ID wins)', async () => {
    const run = await outageScenario(herald, 'kill', (s) =>
      viaIterator(createHeraldClient(options(s)), `subscription { notificationAdded(after: "${s.after}") { id title cursor } }`, {}),
    );
    expect(run.received).toEqual(run.emitted);
    expect(run.ended).toBeUndefined();
  }, 120_000);

  it('inboxEvents: a change takes a position of its own, and a reconnect resumes after it', async () => {
    const user = userId('client-inbox');
    const token = await herald.token(user);
    const after = await herald.streamCursor(token);
    const gate = new RetryGate();
    const seen: string[] = [];
    const cursors: string[] = [];
    const client = createHeraldClient({ ...options({ token, gate, url: () => herald.url }), onCursor: (c) => cursors.push(c) });
    const dispose = client.subscribe<{ inboxEvents: { __typename: string; title?: string; change?: string; unreadCount?: number } }>(
      {
        query: `subscription($after: String) { inboxEvents(after: $after) {
          __typename
          ... on NotificationAddedEvent { notification { title } }
          ... on NotificationChangedEvent { change }
          ... on UnreadCountChangedEvent { unreadCount }
        } }`,
        variables: { after },
      },
      {
        next: (r) => {
          const e = r.data?.inboxEvents as { __typename: string; notification?: { title: string }; change?: string; unreadCount?: number };
          if (e.__typename === 'NotificationAddedEvent') seen.push(`added ${e.notification!.title}`);
          if (e.__typename === 'NotificationChangedEvent') seen.push(`changed ${e.change}`);
        },
        error: () => {},
        complete: () => {},
      },
    );
    try {
      const k1 = await herald.emit(user, 'k1');
      const k2 = await herald.emit(user, 'k2');
      await until(() => seen.length >= 2, 'k1 and k2');
      await herald.markRead(token, [k1.id]); // a change of k1, at the position after k2
      await until(() => seen.length >= 3, 'the change');
      gate.close();
      await herald.outage('kill');
      await gate.dropped;
      const k3 = await herald.emit(user, 'k3');
      gate.release();
      await until(() => seen.includes('added k3'), 'k3 after the reconnect', 30_000);
      await sleep(300);
      expect(seen).toEqual(['added k1', 'added k2', 'changed READ', 'added k3']);
      expect(cursors).toEqual([k1.cursor, k2.cursor, encodeCursor(cursorSeq(k2.cursor)! + 1), k3.cursor]);
    } finally {
      dispose();
      client.dispose();
    }
  }, 120_000);
});

describe('createHeraldClient', () => {
  it('refuses single connection mode, where a reconnect cannot carry a per-subscription cursor', () => {
    expect(() => createHeraldClient({ url: 'http://localhost/graphql', singleConnection: true as false })).toThrow(
      /distinct connections mode only/,
    );
  });

  it('reads the position inside a Herald cursor, and nothing else', () => {
    expect(cursorSeq('aDE6MA')).toBe(0); // h1:0
    expect(cursorSeq('aDE6MQ')).toBe(1);
    expect(cursorSeq(Buffer.from('h1:123456').toString('base64url'))).toBe(123456);
    expect(cursorSeq('not a cursor')).toBeUndefined();
    expect(cursorSeq(Buffer.from('x1:5').toString('base64url'))).toBeUndefined();
    expect(cursorSeq(42)).toBeUndefined();
  });
});
