import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Emit, NotificationAdded, UnreadCount } from '../documents.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { DEPLOYED_BACKEND } from '../helpers/backends.ts';

// /metrics (issue 12): the GraphQL metrics of @graphql-yoga/plugin-prometheus see the requests the
// fast path serves (POSTed operations, SSE subscriptions), and Herald's own metrics count streams,
// deliveries and their lag. No token ever reaches a label.

/** The value of one sample line (`name{labels} value`), or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const has = Object.entries(labels).every(([k, v]) => (m[2] ?? '').includes(`${k}="${v}"`));
    if (has) return Number(m[3]);
  }
  return undefined;
}

describe('/metrics', () => {
  let t: TestApp;
  let origin: string;
  beforeAll(async () => {
    t = await startTestApp(DEPLOYED_BACKEND);
    origin = await t.listen();
  });
  afterAll(() => t.close());

  it('counts fast-path queries, mutations and SSE subscriptions, and what Herald delivers', async () => {
    const user = await t.token('metrics-user');
    const stream = await t.subscribe(NotificationAdded, {}, { token: user });
    await t.execute(UnreadCount, {}, user);
    await t.execute(
      Emit,
      { input: { recipientIds: ['metrics-user'], title: 'hello', body: 'b', type: 'UPDATE' } },
      await t.producerToken(),
    );
    const { result } = await stream.nextResult(10_000);
    expect(result.data).toBeTruthy();

    const response = await fetch(`${origin}/metrics`);
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(sample(text, 'graphql_envelop_request', { operationName: 'UnreadCount' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'graphql_envelop_request', { operationName: 'Emit' })).toBeGreaterThanOrEqual(1);
    // A subscription's parse, validate and context phases are counted when it opens (its subscribe
    // phase only once it ends).
    for (const phase of ['parse', 'validate', 'context']) {
      expect(sample(text, `graphql_envelop_phase_${phase}_count`, { operationName: 'NotificationAdded' }), phase).toBe(1);
    }
    expect(sample(text, 'herald_streams_open')).toBe(1);
    expect(sample(text, 'herald_delivery_lag_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'herald_emit_deliveries_total', { status: 'DELIVERED' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'herald_group_commit_emits_count')).toBeGreaterThanOrEqual(1);
    expect(text).not.toContain(user);
    await stream.close();
  });

  it('counts closed streams by reason: the client left, or the stream ended with complete', async () => {
    const read = async () => {
      const text = await (await fetch(`${origin}/metrics`)).text();
      const n = (reason: string) => sample(text, 'herald_sse_streams_closed_total', { reason }) ?? 0;
      return { client: n('client'), complete: n('complete') };
    };
    const before = await read();
    const leaving = await t.subscribe(NotificationAdded, {}, { token: await t.token('metrics-leaver') });
    await leaving.close();
    // A token that expires ends its stream with UNAUTHENTICATED and `complete`.
    const expiring = await t.subscribe(NotificationAdded, {}, { token: await t.token('metrics-expiring', { expiresInSeconds: 2 }) });
    const { result } = await expiring.nextResult(10_000);
    expect(result.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    await expect.poll(read, { timeout: 5_000 }).toEqual({ client: before.client + 1, complete: before.complete + 1 });
  });
});

describe('/metrics access', () => {
  it('needs the bearer token when METRICS_TOKEN is set', async () => {
    const t = await startTestApp(DEPLOYED_BACKEND, { METRICS_TOKEN: 'metrics-token-0123456789' });
    try {
      const url = `${await t.listen()}/metrics`;
      expect((await fetch(url)).status).toBe(401);
      expect((await fetch(url, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status).toBe(401);
      const ok = await fetch(url, { headers: { authorization: 'Bearer metrics-token-0123456789' } });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain('herald_streams_open');
    } finally {
      await t.close();
    }
  });

  it('is off in production without METRICS_TOKEN', async () => {
    const t = await startTestApp(DEPLOYED_BACKEND, {
      NODE_ENV: 'production',
      STREAM_TICKET_SECRET: 'ticket-secret-that-is-long-enough-0123',
    });
    try {
      expect((await fetch(`${await t.listen()}/metrics`)).status).toBe(404);
    } finally {
      await t.close();
    }
  });
});
