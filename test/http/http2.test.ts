import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { type ClientHttp2Session, type ClientHttp2Stream, connect, constants } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { type AddressInfo, connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { type BoundedServer, createHttpServer, type Transport } from '../../src/http/server.ts';
import { Emit, StreamTicket, UnreadCount } from '../documents.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { DEPLOYED_BACKEND } from '../helpers/backends.ts';
import { Cluster } from '../helpers/cluster.ts';
import { selfSigned } from '../helpers/tls.ts';

// Issue 16: Herald served HTTP/1.1 only; a browser opens at most 6 HTTP/1.1 connections per origin,
// and each tab's stream holds one. Now it serves HTTP/2 beside HTTP/1.1: over TLS (TLS_CERT_FILE,
// TLS_KEY_FILE; ALPN picks the protocol) and in cleartext with prior knowledge (HTTP2_CLEARTEXT,
// for proxies). Every path works over it: queries and mutations on the fast path, SSE streams
// (many on one connection), Yoga's own paths, the connection cap and the request timeout. On main
// there is no HTTP/2 at all: src/http/server.ts has no transport to ask for.

const STREAMS = 100;
const TIMEOUT = 30_000;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request on an HTTP/2 session, read whole. */
function h2(session: ClientHttp2Session, headers: Record<string, string>, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':method': body === undefined ? 'GET' : 'POST', ...headers }, { endStream: body === undefined });
    let status = 0;
    let responseHeaders: Answer['headers'] = {};
    let text = '';
    stream.setEncoding('utf8');
    stream.on('response', (h) => {
      status = Number(h[':status']);
      responseHeaders = h;
    });
    stream.on('data', (chunk: string) => (text += chunk));
    stream.on('end', () => resolve({ status, headers: responseHeaders, body: text }));
    stream.on('error', reject);
    if (body !== undefined) stream.end(body);
  });
}

/** An SSE stream on an HTTP/2 session: its events as they come. */
class H2EventStream {
  readonly events: { id?: string; event?: string; data: string }[] = [];
  readonly opened: Promise<number>;
  readonly stream: ClientHttp2Stream;
  private buffer = '';
  private waiters: (() => void)[] = [];

  constructor(session: ClientHttp2Session, path: string, token: string) {
    const stream = session.request({ ':path': path, accept: 'text/event-stream', authorization: `Bearer ${token}` });
    this.stream = stream;
    this.opened = new Promise((resolve, reject) => {
      stream.once('response', (h) => resolve(Number(h[':status'])));
      stream.once('error', reject);
    });
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      this.buffer += chunk;
      let end = this.buffer.indexOf('\n\n');
      while (end >= 0) {
        const block = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        const event: { id?: string; event?: string; data: string } = { data: '' };
        for (const line of block.split('\n')) {
          if (line.startsWith('id: ')) event.id = line.slice(4);
          else if (line.startsWith('event: ')) event.event = line.slice(7);
          else if (line.startsWith('data: ')) event.data += line.slice(6);
        }
        if (event.event) this.events.push(event);
        end = this.buffer.indexOf('\n\n');
      }
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  /** Resolves with the first `next` event. */
  async next(): Promise<{ id?: string; data: string }> {
    const deadline = Date.now() + TIMEOUT;
    for (;;) {
      const found = this.events.find((e) => e.event === 'next');
      if (found) return found;
      if (Date.now() > deadline) throw new Error('no next event in time');
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 500);
      });
    }
  }
}

const SUBSCRIPTION = 'subscription { notificationAdded { title recipientId cursor } }';
const streamPath = `/graphql?query=${encodeURIComponent(SUBSCRIPTION)}`;

describe.each(['tls', 'h2c'] as const)('HTTP/2 (%s) beside HTTP/1.1', (kind) => {
  let t: TestApp;
  let server: BoundedServer;
  let origin: string;
  let cleanup = () => {};
  let ca: Buffer | undefined;
  const sessions: ClientHttp2Session[] = [];

  beforeAll(async () => {
    t = await startTestApp(DEPLOYED_BACKEND);
    let transport: Transport = { kind: 'h2c' };
    if (kind === 'tls') {
      const tls = selfSigned();
      cleanup = tls.cleanup;
      ca = tls.cert;
      transport = { kind: 'tls', cert: tls.cert, key: tls.key };
    }
    server = createHttpServer(t.app.handler, { headersTimeoutMs: 5_000, requestTimeoutMs: 3_000, maxConnectionsPerIp: 256 }, transport);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `${kind === 'tls' ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }, 120_000);
  afterAll(async () => {
    for (const session of sessions) session.destroy();
    server?.close();
    server?.closeAllConnections();
    await t?.close();
    cleanup();
  });

  /** A new HTTP/2 connection (TLS: the certificate is this run's own, trusted by name). */
  function open(): ClientHttp2Session {
    const session = ca ? connect(origin, { ca }) : connect(origin);
    sessions.push(session);
    return session;
  }

  const json = { 'content-type': 'application/json', accept: 'application/json' };

  it('answers a mutation and a query on the fast path', async () => {
    const session = open();
    const user = `h2-${randomUUID()}`;
    const emitted = await h2(
      session,
      { ':path': '/graphql', ...json, authorization: `Bearer ${await t.producerToken()}` },
      JSON.stringify({ query: print(Emit), variables: { input: { recipientIds: [user], title: 'over HTTP/2' } } }),
    );
    expect(emitted.status, emitted.body).toBe(200);
    expect(JSON.parse(emitted.body).data.emitNotification.deliveredCount).toBe(1);
    const counted = await h2(
      session,
      { ':path': '/graphql', ...json, authorization: `Bearer ${await t.token(user)}` },
      JSON.stringify({ query: print(UnreadCount) }),
    );
    expect(counted.status).toBe(200);
    expect(JSON.parse(counted.body).data.unreadCount).toBe(1);
    expect(counted.headers['x-request-id']).toBeTruthy();
    // A GET query too (the fast path's other entry), and Yoga's own paths: health and a batch.
    const get = await h2(session, { ':path': `/graphql?query=${encodeURIComponent('{ __typename }')}`, accept: 'application/json' });
    expect(JSON.parse(get.body)).toEqual({ data: { __typename: 'Query' } });
    expect((await h2(session, { ':path': '/health' })).status).toBe(200);
    // A batch goes to Yoga's handler: the same answer as over HTTP/1.1.
    const batchBody = JSON.stringify([{ query: '{ __typename }' }, { query: '{ __typename }' }]);
    const batch = await h2(session, { ':path': '/graphql', ...json }, batchBody);
    const overHttp1 = await fetch(`${await t.listen()}/graphql`, { method: 'POST', headers: json, body: batchBody });
    expect({ status: batch.status, body: batch.body }).toEqual({ status: overHttp1.status, body: await overHttp1.text() });
    // A graphql-sse single-connection reservation (Yoga's plugin): 201 and its token.
    const reserved = await h2(
      session,
      { ':method': 'PUT', ':path': '/graphql/stream', authorization: `Bearer ${await t.token(user)}` },
      '',
    );
    expect(reserved.status).toBe(201);
    expect(reserved.body).toMatch(/^[\w-]+$/);
    await new Promise<void>((resolve) => session.close(resolve));
  });

  it(
    `carries ${STREAMS} SSE streams on one connection, each receiving its notification`,
    async () => {
      // The earlier tests' connections are closed (the server sees them go a moment after the client).
      for (let i = 0; i < 100 && server.connectionsByIp().size > 0; i++) await new Promise((r) => setTimeout(r, 50));
      expect(server.connectionsByIp().size).toBe(0);
      const session = open();
      const users = Array.from({ length: STREAMS }, (_, i) => `h2-${i}-${randomUUID()}`);
      const streams = await Promise.all(users.map(async (user) => new H2EventStream(session, streamPath, await t.token(user))));
      expect(await Promise.all(streams.map((s) => s.opened))).toEqual(users.map(() => 200));
      // One TCP connection from this address (the session), however many streams it carries.
      expect([...server.connectionsByIp()]).toEqual([['127.0.0.1', 1]]);
      expect(t.app.sse.stats().sseStreams).toBeGreaterThanOrEqual(STREAMS);

      const emitted = await t.execute(Emit, { input: { recipientIds: users, title: 'to every stream' } }, await t.producerToken());
      expect(emitted.data?.emitNotification.deliveredCount).toBe(STREAMS);
      const received = await Promise.all(streams.map((s) => s.next()));
      received.forEach((event, i) => {
        const added = JSON.parse(event.data).data.notificationAdded;
        expect(added).toMatchObject({ title: 'to every stream', recipientId: users[i] });
        expect(event.id).toBe(added.cursor);
      });
      // Each stream got exactly its one notification.
      expect(streams.map((s) => s.events.filter((e) => e.event === 'next').length)).toEqual(users.map(() => 1));
      session.close();
    },
    TIMEOUT * 2,
  );

  it('resumes a POSTed stream from Last-Event-ID, opens a stream with a ticket, serves GraphiQL and metrics', async () => {
    const session = open();
    const user = `h2-resume-${randomUUID()}`;
    const token = await t.token(user);
    const producer = await t.producerToken();
    const first = await t.execute(Emit, { input: { recipientIds: [user], title: 'before' } }, producer);
    const cursor = first.data?.emitNotification.deliveries[0]?.notification?.cursor;
    if (!cursor) throw new Error('no cursor');
    await t.execute(Emit, { input: { recipientIds: [user], title: 'after' } }, producer);

    // POST with Last-Event-ID: only what came after it.
    const posted = session.request({
      ':method': 'POST',
      ':path': '/graphql',
      'content-type': 'application/json',
      accept: 'text/event-stream',
      authorization: `Bearer ${token}`,
      'last-event-id': cursor,
    });
    posted.end(JSON.stringify({ query: SUBSCRIPTION }));
    posted.setEncoding('utf8');
    let text = '';
    await new Promise<void>((resolve) => {
      posted.on('data', (chunk: string) => {
        text += chunk;
        if (text.includes('event: next')) resolve();
      });
    });
    expect(text).toContain('"title":"after"');
    expect(text).not.toContain('"title":"before"');
    posted.close(constants.NGHTTP2_CANCEL);

    // A ticket (EventSource's way): minted over HTTP/2, opening a GET stream over HTTP/2.
    const minted = await h2(
      session,
      { ':path': '/graphql', ...json, authorization: `Bearer ${token}` },
      JSON.stringify({ query: print(StreamTicket) }),
    );
    const ticket: string = JSON.parse(minted.body).data.createStreamTicket.ticket;
    const ticketed = session.request({ ':path': `${streamPath}&ticket=${encodeURIComponent(ticket)}`, accept: 'text/event-stream' });
    const status = await new Promise<number>((resolve) => ticketed.once('response', (h) => resolve(Number(h[':status']))));
    expect(status).toBe(200);
    ticketed.close(constants.NGHTTP2_CANCEL);

    // GraphiQL's page and its script (gzipped), and the metrics (Yoga's plugin).
    const page = await h2(session, { ':path': '/graphql', accept: 'text/html' });
    expect(page.status).toBe(200);
    const script = /src="([^"]+graphiql\.js)"/.exec(page.body)?.[1];
    if (!script) throw new Error('no GraphiQL script');
    const asset = await h2(session, { ':path': script, 'accept-encoding': 'gzip' });
    expect([asset.status, asset.headers['content-encoding'], asset.headers['cache-control']]).toEqual([
      200,
      'gzip',
      'public, max-age=31536000, immutable',
    ]);
    const metrics = await h2(session, { ':path': '/metrics' });
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(/^# HELP/m);
    await new Promise<void>((resolve) => session.close(resolve));
  });

  it('still serves HTTP/1.1 on the same port', async () => {
    const body = JSON.stringify({ query: '{ __typename }' });
    const answer = await new Promise<{ status: number; version: string; text: string }>((resolve, reject) => {
      const request = (kind === 'tls' ? httpsRequest : httpRequest)(
        `${origin}/graphql`,
        { method: 'POST', headers: json, ...(ca ? { ca } : {}) },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, version: res.httpVersion, text }));
        },
      );
      request.on('error', reject);
      request.end(body);
    });
    expect(answer).toEqual({ status: 200, version: '1.1', text: '{"data":{"__typename":"Query"}}' });
  });

  it('answers 408 to an HTTP/2 request whose body does not arrive in time, and keeps the connection', async () => {
    const session = open();
    const stream = session.request({ ':method': 'POST', ':path': '/graphql', ...json });
    stream.write('{"query":');
    const status = await new Promise<number>((resolve, reject) => {
      stream.once('response', (h) => resolve(Number(h[':status'])));
      stream.once('error', reject);
    });
    expect(status).toBe(408);
    await new Promise<void>((resolve) => stream.once('close', () => resolve()));
    expect(stream.rstCode).toBe(constants.NGHTTP2_CANCEL);
    const after = await h2(session, { ':path': '/graphql', ...json }, JSON.stringify({ query: '{ __typename }' }));
    expect(after.status).toBe(200);
  });
});

describe('HTTP/2 connection bounds (h2c)', () => {
  const CAP = 2;
  const IDLE_MS = 1_500;
  const REQUEST_MS = 2_000;
  let t: TestApp;
  let server: BoundedServer;
  let origin: string;
  let port: number;
  const sessions: ClientHttp2Session[] = [];

  beforeAll(async () => {
    // Heartbeats every 500 ms: a connection carrying a stream is never idle for IDLE_MS.
    t = await startTestApp(DEPLOYED_BACKEND, { HEARTBEAT_INTERVAL_MS: '500', STREAM_BUFFER_LIMIT_BYTES: String(32 * 1024) });
    server = createHttpServer(
      t.app.handler,
      { headersTimeoutMs: 2_000, requestTimeoutMs: REQUEST_MS, maxConnectionsPerIp: CAP, http2IdleTimeoutMs: IDLE_MS },
      { kind: 'h2c' },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    origin = `http://127.0.0.1:${port}`;
  }, 120_000);
  afterAll(async () => {
    for (const session of sessions) session.destroy();
    server?.close();
    server?.closeAllConnections();
    await t?.close();
  });

  function open(): ClientHttp2Session {
    const session = connect(origin);
    session.on('error', () => {});
    sessions.push(session);
    return session;
  }
  const closed = (session: ClientHttp2Session) =>
    new Promise<void>((resolve) => (session.closed ? resolve() : session.once('close', () => resolve())));
  const health = { ':path': '/health' };

  const sseStreams = () => t.app.sse.stats().sseStreams;
  async function until(condition: () => boolean) {
    for (let i = 0; i < 100 && !condition(); i++) await new Promise((r) => setTimeout(r, 50));
    expect(condition()).toBe(true);
  }

  it(
    'an SSE stream outlives the request timeout and the idle timeout (heartbeats), delivers, and is released when the client goes',
    async () => {
      const session = open();
      const user = `h2-long-${randomUUID()}`;
      const stream = new H2EventStream(session, streamPath, await t.token(user));
      const other = new H2EventStream(session, streamPath, await t.token(user));
      expect([await stream.opened, await other.opened]).toEqual([200, 200]);
      expect(sseStreams()).toBe(2);
      await new Promise((r) => setTimeout(r, Math.max(IDLE_MS, REQUEST_MS) + 1_500));
      expect(session.closed).toBe(false);
      await t.execute(Emit, { input: { recipientIds: [user], title: 'still listening' } }, await t.producerToken());
      expect(JSON.parse((await stream.next()).data).data.notificationAdded.title).toBe('still listening');
      // One stream cancelled (an EventSource closed): released, the connection and its other stream go on.
      other.stream.close(constants.NGHTTP2_CANCEL);
      await until(() => sseStreams() === 1);
      expect(session.closed).toBe(false);
      // The client gone (a tab closed): its connection's streams are released.
      session.destroy();
      await until(() => sseStreams() === 0);
    },
    TIMEOUT,
  );

  it('a stream whose reader stops reading is dropped at STREAM_BUFFER_LIMIT_BYTES; the connection goes on', async () => {
    const session = open();
    const user = `h2-slow-${randomUUID()}`;
    const withBody = `/graphql?query=${encodeURIComponent('subscription { notificationAdded { title body } }')}`;
    const slow = new H2EventStream(session, withBody, await t.token(user));
    expect(await slow.opened).toBe(200);
    slow.stream.pause(); // reads nothing more: HTTP/2's flow-control window fills, then Herald's buffer
    const dropped = t.app.sse.stats().droppedSlow;
    const body = 'x'.repeat(10_000);
    for (let i = 0; i < 40 && t.app.sse.stats().droppedSlow === dropped; i++) {
      await t.execute(Emit, { input: { recipientIds: [user], title: `big ${i}`, body } }, await t.producerToken());
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(t.app.sse.stats().droppedSlow).toBe(dropped + 1);
    expect((await h2(session, health)).status).toBe(200);
    session.destroy();
  });

  it('a connection without streams or traffic is closed after the idle timeout', async () => {
    const session = open();
    expect((await h2(session, health)).status).toBe(200);
    const started = performance.now();
    await closed(session);
    const idle = performance.now() - started;
    expect(idle).toBeGreaterThan(IDLE_MS - 500);
    expect(idle).toBeLessThan(IDLE_MS + 3_000);
  });

  it('a connection beyond MAX_CONNECTIONS_PER_IP gets 429 TOO_MANY_CONNECTIONS, then GOAWAY; the others go on', async () => {
    await until(() => server.connectionsByIp().size === 0);
    const kept = [open(), open()];
    for (const session of kept) expect((await h2(session, health)).status).toBe(200);
    const extra = open();
    const goaway = new Promise<void>((resolve) => extra.once('goaway', () => resolve()));
    const refused = await h2(extra, health);
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBe('5');
    expect(JSON.parse(refused.body).errors[0].extensions).toMatchObject({ code: 'TOO_MANY_CONNECTIONS', limit: CAP });
    await goaway;
    await closed(extra);
    for (const session of kept) expect((await h2(session, health)).status).toBe(200);
  });

  it('a cleartext connection that sends nothing is closed within the header timeout', async () => {
    const started = performance.now();
    const socket = netConnect(port, '127.0.0.1');
    socket.on('error', () => {});
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    expect(performance.now() - started).toBeLessThan(2_000 + 2_000);
  });
});

describe('configuration: TLS_CERT_FILE, TLS_KEY_FILE, HTTP2_CLEARTEXT', () => {
  it.each([
    [{ TLS_CERT_FILE: '/c.pem' }, /TLS_CERT_FILE, TLS_KEY_FILE: set both/],
    [{ TLS_KEY_FILE: '/k.pem' }, /TLS_CERT_FILE, TLS_KEY_FILE: set both/],
    [{ TLS_CERT_FILE: '/c.pem', TLS_KEY_FILE: '/k.pem', HTTP2_CLEARTEXT: 'true' }, /HTTP2_CLEARTEXT: not with TLS_CERT_FILE/],
    [{ HTTP2_MAX_CONCURRENT_STREAMS: '10' }, /HTTP2_MAX_CONCURRENT_STREAMS/],
  ])('%o is refused', (env, message) => {
    expect(() => loadConfig({ NODE_ENV: 'test', ...env })).toThrow(message);
  });

  it('defaults to HTTP/1.1 only', () => {
    const config = loadConfig({ NODE_ENV: 'test' });
    expect([config.TLS_CERT_FILE, config.TLS_KEY_FILE, config.HTTP2_CLEARTEXT]).toEqual([undefined, undefined, false]);
  });
});

describe('the server process (npm start) with HTTP/2', () => {
  const cluster = new Cluster({});
  const dirs: string[] = [];
  const tls = selfSigned();
  afterAll(async () => {
    await cluster.cleanup();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    tls.cleanup();
  });
  const dataDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-h2-'));
    dirs.push(dir);
    return dir;
  };

  async function typename(session: ClientHttp2Session) {
    const answer = await h2(
      session,
      { ':path': '/graphql', 'content-type': 'application/json', accept: 'application/json' },
      '{"query":"{ __typename }"}',
    );
    session.close();
    return answer.body;
  }

  it('serves HTTP/2 over TLS with TLS_CERT_FILE and TLS_KEY_FILE', async () => {
    const instance = await cluster.start(
      { HERALD_DATA_DIR: dataDir(), TLS_CERT_FILE: tls.certFile, TLS_KEY_FILE: tls.keyFile },
      { ca: tls.cert },
    );
    expect(instance.url).toMatch(/^https:/);
    expect(await typename(connect(instance.url, { ca: tls.cert }))).toBe('{"data":{"__typename":"Query"}}');
  }, 60_000);

  it('serves h2c beside HTTP/1.1 with HTTP2_CLEARTEXT=true', async () => {
    const instance = await cluster.start({ HERALD_DATA_DIR: dataDir(), HTTP2_CLEARTEXT: 'true' });
    expect(await typename(connect(instance.url))).toBe('{"data":{"__typename":"Query"}}');
    expect((await fetch(`${instance.url}/health`)).status).toBe(200);
  }, 60_000);

  it('refuses to start when the certificate cannot be read, naming the setting', async () => {
    await expect(
      cluster.start({ HERALD_DATA_DIR: dataDir(), TLS_CERT_FILE: '/nonexistent/cert.pem', TLS_KEY_FILE: tls.keyFile }),
    ).rejects.toThrow(/TLS_CERT_FILE: cannot read \/nonexistent\/cert\.pem/);
  }, 60_000);
});
