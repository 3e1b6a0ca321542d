import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BoundedServer, createHttpServer, type Transport } from '../../src/http/server.ts';
import { Emit } from '../documents.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { DEPLOYED_BACKEND } from '../helpers/backends.ts';
import { launchBrowser } from '../helpers/browser.ts';
import { selfSigned } from '../helpers/tls.ts';

// Issue 16: a browser opens at most 6 HTTP/1.1 connections per origin, and each open stream holds
// one: with 6 tabs (or 6 streams in one) listening, the app's next request to Herald waits. Over
// HTTP/2 (TLS here, as browsers speak it) every stream and request shares one connection. In
// Chromium: 10 SSE streams from one page and a query beside them, all answered, over h2; the same
// page over HTTP/1.1 has its query wait behind the streams (what HTTP/2 is for).

const STREAMS = 10;
const SUBSCRIPTION = 'subscription { notificationAdded { title recipientId } }';

interface PageResult {
  queried: boolean;
  protocols: string[];
}

/**
 * In the page: opens `tokens.length` SSE streams (fetch, Authorization header) and waits for each
 * to be open, then runs a query with `queryWithinMs` to answer. Streams stay open; their first
 * `next` events are collected in `window.heraldEvents`.
 */
function openStreamsAndQuery(page: Page, tokens: string[], queryWithinMs: number): Promise<PageResult> {
  return page.evaluate(
    async ({ tokens, subscription, queryWithinMs }) => {
      const events: string[] = [];
      Object.assign(window, { heraldEvents: events });
      const url = `/graphql?query=${encodeURIComponent(subscription)}`;
      const opened = tokens.map(async (token) => {
        const response = await fetch(url, { headers: { accept: 'text/event-stream', authorization: `Bearer ${token}` } });
        const reader = response.body?.getReader();
        if (!reader) throw new Error('no body');
        const decoder = new TextDecoder();
        let text = '';
        const pump = async () => {
          for (;;) {
            const { value, done } = await reader.read();
            if (done) return;
            text += decoder.decode(value, { stream: true });
            const match = /event: next\ndata: (.*)\n/.exec(text);
            if (match?.[1]) {
              events.push(match[1]);
              text = '';
            }
          }
        };
        void pump();
      });
      // Streams the browser could not open yet (HTTP/1.1, beyond 6) are still pending: don't wait for them.
      await Promise.race([Promise.all(opened), new Promise((r) => setTimeout(r, 2_000))]);
      const answer = await Promise.race([
        fetch('/graphql', {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json' },
          body: JSON.stringify({ query: '{ __typename }' }),
        }).then((r) => r.json()),
        new Promise((resolve) => setTimeout(() => resolve(null), queryWithinMs)),
      ]);
      // Entries of finished requests: the page and the query (a stream's entry comes when it ends).
      const protocols = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')]
        .map((entry) => (entry instanceof PerformanceResourceTiming ? entry.nextHopProtocol : ''))
        .filter((protocol) => protocol !== '');
      return { queried: JSON.stringify(answer) === '{"data":{"__typename":"Query"}}', protocols };
    },
    { tokens, subscription: SUBSCRIPTION, queryWithinMs },
  );
}

describe('in Chromium: many streams and requests to Herald at once', () => {
  let t: TestApp;
  let browser: Browser;
  const servers: BoundedServer[] = [];
  const cleanups: (() => void)[] = [];

  beforeAll(async () => {
    t = await startTestApp(DEPLOYED_BACKEND);
    browser = await launchBrowser();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    for (const server of servers) {
      server.close();
      server.closeAllConnections();
    }
    await t?.close();
    for (const cleanup of cleanups) cleanup();
  });

  async function serve(transport: Transport): Promise<number> {
    const server = createHttpServer(
      t.app.handler,
      { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, maxConnectionsPerIp: 1000 },
      transport,
    );
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as AddressInfo).port;
  }

  const users = () => Array.from({ length: STREAMS }, (_, i) => `h2b-${i}-${randomUUID()}`);

  it('over HTTP/2 (TLS): 10 streams and a query share one connection; every stream receives its notification', async () => {
    const tls = selfSigned();
    cleanups.push(tls.cleanup);
    const port = await serve({ kind: 'tls', cert: tls.cert, key: tls.key });
    // The certificate is this run's own: the browser is told to accept it.
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    await page.goto(`https://127.0.0.1:${port}/health`);
    const names = users();
    const result = await openStreamsAndQuery(page, await Promise.all(names.map((u) => t.token(u))), 10_000);
    expect(result.queried).toBe(true);
    expect(result.protocols.length).toBeGreaterThanOrEqual(2);
    expect(new Set(result.protocols)).toEqual(new Set(['h2']));
    // The server sees one connection from the browser, carrying the page, 10 streams and the query.
    expect([...(servers[0]?.connectionsByIp() ?? [])]).toEqual([['127.0.0.1', 1]]);
    expect(t.app.sse.stats().sseStreams).toBe(STREAMS);

    const emitted = await t.execute(Emit, { input: { recipientIds: names, title: 'to every tab' } }, await t.producerToken());
    expect(emitted.data?.emitNotification.deliveredCount).toBe(STREAMS);
    await page.waitForFunction((n) => (window as unknown as { heraldEvents: string[] }).heraldEvents.length >= n, STREAMS, {
      timeout: 15_000,
    });
    const events: string[] = await page.evaluate(() => (window as unknown as { heraldEvents: string[] }).heraldEvents);
    const recipients = events.map((e) => JSON.parse(e).data.notificationAdded.recipientId).sort();
    expect(recipients).toEqual([...names].sort());
    await context.close();
  }, 60_000);

  it("over HTTP/1.1 the same page's query waits behind the streams (6 connections per origin)", async () => {
    const port = await serve({ kind: 'http1' });
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`http://127.0.0.1:${port}/health`);
    const result = await openStreamsAndQuery(page, await Promise.all(users().map((u) => t.token(u))), 3_000);
    expect(result.queried).toBe(false);
    await context.close();
  }, 60_000);
});
