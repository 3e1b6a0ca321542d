import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMIT_SCOPE } from '../../src/auth/tokens.ts';
import { createLogger, redactUrl } from '../../src/logger.ts';
import { until } from '../client/harness.ts';
import { Emit, StreamTicket, UnreadCount } from '../documents.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { DEPLOYED_BACKEND, TEST_REDIS_URL } from '../helpers/backends.ts';

/**
 * The token and ticket rules (README, Security: "Tokens and tickets") over real HTTP: every kind of
 * bad bearer token is refused, in both key modes, for queries and for streams; tickets open one
 * stream, of their own user, within their lifetime; a key removed at the JWKS issuer stops working
 * once the JWKS cache expires; streams end when the token behind them expires.
 */

const SECRET = 'security-tokens-test-secret-0123456789-abc';
const TICKET_SECRET = 'security-tokens-ticket-key-0123456789-abcd';
const ISSUER = 'https://issuer.test';
const AUDIENCE = 'herald-test';
const INBOX = 'subscription { inboxEvents { __typename ... on UnreadCountChangedEvent { unreadCount } } }';
const ADDED = 'subscription { notificationAdded { title } }';
const HOUR = 3600;
const now = () => Math.floor(Date.now() / 1000);

/** A token's claims and header, with the issuer and audience the apps require. */
interface Draft {
  claims: JWTPayload;
  header?: Record<string, unknown>;
}
const good = (sub = 'tok-user'): JWTPayload => ({ sub, iss: ISSUER, aud: AUDIENCE, iat: now(), exp: now() + HOUR });
const without = (claims: JWTPayload, key: keyof JWTPayload): JWTPayload => {
  const copy = { ...claims };
  delete copy[key];
  return copy;
};

/** Every kind of bad token, and what its refusal says. */
const BAD: [string, () => Draft, RegExp][] = [
  ['no exp', () => ({ claims: without(good(), 'exp') }), /no "exp"/],
  ['expired', () => ({ claims: { ...good(), iat: now() - 120, exp: now() - 5 } }), /expired/],
  ['no iat', () => ({ claims: without(good(), 'iat') }), /no "iat"/],
  [
    'iat a year in the future',
    () => ({ claims: { ...good(), iat: now() + 365 * 24 * HOUR, exp: now() + 365 * 24 * HOUR + 60 } }),
    /future/,
  ],
  ['iat 5 minutes in the future', () => ({ claims: { ...good(), iat: now() + 300, exp: now() + 900 } }), /future/],
  ['nbf in the future', () => ({ claims: { ...good(), nbf: now() + 600 } }), /not valid yet/],
  ['iat older than the maximum age', () => ({ claims: { ...good(), iat: now() - 25 * HOUR, exp: now() + HOUR } }), /older than/],
  ['a lifetime over the maximum age', () => ({ claims: { ...good(), exp: now() + 48 * HOUR } }), /longer than the 86400 s/],
  ['sub missing', () => ({ claims: without(good(), 'sub') }), /no "sub"/],
  ['sub of 256 characters', () => ({ claims: good('u'.repeat(256)) }), /longer than 255/],
  ['sub with surrounding space', () => ({ claims: good(' tok-user') }), /white space/],
  ['sub with a NUL', () => ({ claims: good('tok\0user') }), /NUL/],
  ['another issuer', () => ({ claims: { ...good(), iss: 'https://elsewhere.test' } }), /"iss"/],
  ['no issuer', () => ({ claims: without(good(), 'iss') }), /"iss"/],
  ['another audience', () => ({ claims: { ...good(), aud: 'another-service' } }), /"aud"/],
  ['a stream ticket audience', () => ({ claims: { ...good(), aud: [AUDIENCE, 'herald:stream-ticket'] } }), /stream ticket/],
];

interface Mode {
  name: string;
  /** Signs a draft the way this mode's issuer does. */
  sign(draft: Draft): Promise<string>;
  /** A token of this mode with a forged signature (a key the server does not know). */
  forged(): Promise<string>;
  /** A token in an algorithm this mode refuses. */
  wrongAlg(): Promise<string>;
  t: TestApp;
}

/** A local JWKS issuer whose key set a test can replace. */
class Issuer {
  private keys: JWK[] = [];
  fetches = 0;
  url = '';
  private server: Server | undefined;
  async start() {
    this.server = createServer((_req, res) => {
      this.fetches++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: this.keys }));
    });
    const server = this.server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  }
  /** A new ES256 key under `kid`, published (replacing every other key when `replace`). */
  async rotate(kid: string, replace: boolean): Promise<CryptoKey> {
    const pair = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(pair.publicKey)), kid, alg: 'ES256', use: 'sig' };
    this.keys = replace ? [jwk] : [...this.keys, jwk];
    return pair.privateKey;
  }
  close() {
    return new Promise((resolve) => (this.server ? this.server.close(resolve) : resolve(undefined)));
  }
}

const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const unsigned = (claims: JWTPayload) => `${encode({ alg: 'none', typ: 'JWT' })}.${encode(claims)}.`;
const hs256 = (draft: Draft, secret = SECRET) =>
  new SignJWT(draft.claims).setProtectedHeader({ alg: 'HS256', ...draft.header }).sign(new TextEncoder().encode(secret));

const issuer = new Issuer();
let hsApp: TestApp;
let jwksApp: TestApp;
let issuerKey: CryptoKey;
const modes: Mode[] = [];

beforeAll(async () => {
  await issuer.start();
  issuerKey = await issuer.rotate('key-1', true);
  const claims = { JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, STREAM_TICKET_SECRET: TICKET_SECRET };
  [hsApp, jwksApp] = await Promise.all([
    startTestApp(DEPLOYED_BACKEND, { ...claims, JWT_SECRET: SECRET, STREAM_TICKET_TTL_SECONDS: '5' }),
    startTestApp(DEPLOYED_BACKEND, { ...claims, JWT_SECRET: '', JWT_JWKS_URL: issuer.url, JWT_JWKS_CACHE_SECONDS: '1' }),
  ]);
  const stranger = (await generateKeyPair('ES256')).privateKey;
  const es256 = (draft: Draft, key: CryptoKey, kid: string) =>
    new SignJWT(draft.claims).setProtectedHeader({ alg: 'ES256', kid, ...draft.header }).sign(key);
  modes.push(
    {
      name: 'HS256 (JWT_SECRET)',
      sign: (draft) => hs256(draft),
      forged: () => hs256({ claims: good() }, 'another-secret-of-the-same-length-012345'),
      wrongAlg: () => es256({ claims: good() }, stranger, 'key-1'),
      t: hsApp,
    },
    {
      name: 'JWKS',
      sign: (draft) => es256(draft, issuerKey, 'key-1'),
      forged: () => es256({ claims: good() }, stranger, 'key-1'),
      wrongAlg: () => hs256({ claims: good() }),
      t: jwksApp,
    },
  );
}, 60_000);
afterAll(async () => {
  await Promise.all([hsApp?.close(), jwksApp?.close()]);
  await issuer.close();
});

/** What a query and a stream opened with `token` get: the query's error code and message, and the stream's. */
async function refusal(t: TestApp, token: string) {
  const query = await t.execute(UnreadCount, {}, token);
  const stream = await t.subscribe(INBOX, {}, { token });
  const { result } = await stream.nextResult();
  await stream.close();
  return {
    query: query.errors?.[0]?.extensions?.code ?? 'accepted',
    stream: result.errors?.[0]?.extensions?.code ?? 'accepted',
    message: query.errors?.[0]?.message ?? '',
  };
}

describe.each(['HS256 (JWT_SECRET)', 'JWKS'])('bearer tokens, %s', (name) => {
  const mode = () => {
    const found = modes.find((m) => m.name === name);
    if (!found) throw new Error(`no mode ${name}`);
    return found;
  };

  it('a well-formed token is accepted, also with iat and nbf a few seconds ahead (clock tolerance)', async () => {
    const m = mode();
    expect((await m.t.execute(UnreadCount, {}, await m.sign({ claims: good() }))).data?.unreadCount).toBe(0);
    const skewed = { ...good(), iat: now() + 10, nbf: now() + 10 };
    expect((await m.t.execute(UnreadCount, {}, await m.sign({ claims: skewed }))).data?.unreadCount).toBe(0);
  });

  it.each(BAD)('%s: UNAUTHENTICATED for queries and streams, saying why', async (_kind, draft, why) => {
    const m = mode();
    const answer = await refusal(m.t, await m.sign(draft()));
    expect(answer).toMatchObject({ query: 'UNAUTHENTICATED', stream: 'UNAUTHENTICATED' });
    expect(answer.message).toMatch(why);
  });

  it('a forged signature, alg none and an algorithm of the other key source: UNAUTHENTICATED', async () => {
    const m = mode();
    for (const token of [await m.forged(), unsigned(good()), await m.wrongAlg()]) {
      expect(await refusal(m.t, token)).toMatchObject({ query: 'UNAUTHENTICATED', stream: 'UNAUTHENTICATED' });
    }
  });
});

describe('JWKS rotation', () => {
  it('a key replaced at the issuer: new tokens accepted, tokens of the removed key refused once the JWKS cache (1 s here) expired', async () => {
    const oldToken = await modes[1]?.sign({ claims: good('rotation-user') });
    if (!oldToken) throw new Error('no JWKS mode');
    expect((await jwksApp.execute(UnreadCount, {}, oldToken)).data?.unreadCount).toBe(0);
    const newKey = await issuer.rotate('key-2', true);
    const newToken = await new SignJWT(good('rotation-user')).setProtectedHeader({ alg: 'ES256', kid: 'key-2' }).sign(newKey);
    // Unknown kid: jose fetches the set again (at most once per cooldown, here the cache age).
    let accepted = false;
    const started = Date.now();
    while (!accepted && Date.now() - started < 5_000) {
      accepted = (await jwksApp.execute(UnreadCount, {}, newToken)).data?.unreadCount === 0;
      if (!accepted) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(accepted).toBe(true);
    let refused = false;
    while (!refused && Date.now() - started < 10_000) {
      refused = (await jwksApp.execute(UnreadCount, {}, oldToken)).errors?.[0]?.extensions?.code === 'UNAUTHENTICATED';
      if (!refused) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(refused).toBe(true);
    // And it stays refused: the old key is gone, not merely out of the cache for a moment.
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect((await jwksApp.execute(UnreadCount, {}, oldToken)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect((await jwksApp.execute(UnreadCount, {}, newToken)).data?.unreadCount).toBe(0);
  }, 30_000);
});

describe('stream tickets', () => {
  const bearer = (sub: string, lifetime = HOUR) => hs256({ claims: { ...good(sub), exp: now() + lifetime } });
  async function ticketFor(token: string) {
    const minted = await hsApp.execute(StreamTicket, {}, token);
    const ticket = minted.data?.createStreamTicket;
    if (!ticket) throw new Error(`no ticket: ${JSON.stringify(minted.errors)}`);
    return ticket;
  }
  /** Opens a stream with `ticket` as EventSource would: the status and the JSON body of a refusal. */
  async function refusedTicket(ticket: string) {
    const url = new URL(`${await hsApp.listen()}/graphql`);
    url.searchParams.set('query', INBOX);
    url.searchParams.set('ticket', ticket);
    // A stream that opened (the ticket was accepted) is cut after a moment: the status says enough.
    const response = await fetch(url, { headers: { accept: 'text/event-stream' }, signal: AbortSignal.timeout(3_000) });
    const text = await response.text().catch(() => '');
    return { status: response.status, body: response.status === 200 ? text : JSON.parse(text) };
  }
  const emitTo = async (user: string, title: string) => {
    const producer = await hs256({ claims: { ...good('tok-producer'), scope: EMIT_SCOPE } });
    const r = await hsApp.execute(Emit, { input: { recipientIds: [user], title, body: 'b', type: 'UPDATE' } }, producer);
    expect(r.data?.emitNotification.deliveredCount, JSON.stringify(r.errors)).toBe(1);
  };

  it('a ticket opens one stream: used again (while still valid) it is refused with 401', async () => {
    const { ticket } = await ticketFor(await bearer('ticket-once'));
    const first = await hsApp.subscribe(ADDED, {}, { ticket });
    expect(first.response.status).toBe(200);
    expect(await refusedTicket(ticket)).toMatchObject({
      status: 401,
      body: { errors: [{ message: expect.stringMatching(/used already/), extensions: { code: 'UNAUTHENTICATED' } }] },
    });
    // The first stream is not disturbed by the refused reuse.
    await emitTo('ticket-once', 'still here');
    expect((await first.nextResult()).result.data).toEqual({ notificationAdded: { title: 'still here' } });
  });

  it("a ticket is its user's: A's stream gets A's notifications and never B's", async () => {
    const { ticket } = await ticketFor(await bearer('ticket-a'));
    const stream = await hsApp.subscribe(ADDED, {}, { ticket });
    expect(stream.response.status).toBe(200);
    await emitTo('ticket-b', 'for b');
    await emitTo('ticket-a', 'for a');
    expect((await stream.nextResult()).result.data).toEqual({ notificationAdded: { title: 'for a' } });
    expect(await stream.quietFor(300)).toBe(true);
    // Nor is it a bearer token for anyone.
    expect((await hsApp.execute(UnreadCount, {}, ticket)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('an expired ticket is refused with 401 (STREAM_TICKET_TTL_SECONDS, 5 s here)', async () => {
    const { ticket, expiresAt } = await ticketFor(await bearer('ticket-late'));
    expect(new Date(expiresAt).getTime() - Date.now()).toBeLessThanOrEqual(5_000);
    await until(() => Date.now() > new Date(expiresAt).getTime() + 1_000, 'the ticket to expire', 10_000);
    expect(await refusedTicket(ticket)).toMatchObject({
      status: 401,
      body: { errors: [{ message: expect.stringMatching(/expired/), extensions: { code: 'UNAUTHENTICATED' } }] },
    });
  }, 20_000);

  it('a ticket never outlives its token, and its stream ends (UNAUTHENTICATED, complete) when the token expires', async () => {
    const token = await bearer('ticket-short', 3);
    const { ticket, expiresAt } = await ticketFor(token);
    expect(new Date(expiresAt).getTime()).toBeLessThanOrEqual((now() + 3) * 1000);
    const stream = await hsApp.subscribe(INBOX, {}, { ticket });
    expect(stream.response.status).toBe(200);
    await stream.nextResult(); // the initial count
    const { result } = await stream.nextResult(10_000);
    expect(result.errors?.[0]).toMatchObject({ message: expect.stringMatching(/expired/), extensions: { code: 'UNAUTHENTICATED' } });
    expect((await stream.next(2_000))?.event).toBe('complete');
  }, 20_000);

  it("a bearer token's stream ends when the token expires", async () => {
    const stream = await hsApp.subscribe(ADDED, {}, { token: await bearer('bearer-short', 2) });
    const { result } = await stream.nextResult(10_000);
    expect(result.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect((await stream.next(2_000))?.event).toBe('complete');
  }, 20_000);

  it.runIf(DEPLOYED_BACKEND === 'postgres+redis' && TEST_REDIS_URL)(
    'with Redis, a ticket used on one instance is refused on another (they share the record of used tickets)',
    async () => {
      const shared = { JWT_SECRET: SECRET, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, STREAM_TICKET_SECRET: TICKET_SECRET };
      const prefix = `tickets-${process.pid}-${Date.now()}`;
      const [a, b] = await Promise.all([
        startTestApp('postgres+redis', { ...shared, REDIS_PREFIX: prefix }),
        startTestApp('postgres+redis', { ...shared, REDIS_PREFIX: prefix }),
      ]);
      try {
        const minted = await a.execute(StreamTicket, {}, await bearer('ticket-cluster'));
        const ticket = minted.data?.createStreamTicket.ticket ?? '';
        expect((await b.subscribe(INBOX, {}, { ticket })).response.status).toBe(200);
        expect((await a.subscribe(INBOX, {}, { ticket })).response.status).toBe(401);
        expect((await b.subscribe(INBOX, {}, { ticket })).response.status).toBe(401);
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    },
    30_000,
  );
});

describe('logs', () => {
  it("redact the ticket of a logged url and of a logged request (pino's req)", async () => {
    const lines: string[] = [];
    const log = createLogger('info', { write: (line: string) => void lines.push(line) });
    const server = createServer((req, res) => {
      log.info({ req, url: req.url }, 'request');
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      await fetch(`http://127.0.0.1:${port}/graphql?query=subscription%7Bx%7D&ticket=eyJ.secret-part.sig`);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toMatch(/secret-part/);
    const entry = JSON.parse(lines[0] ?? '{}');
    expect(entry.url).toBe('/graphql?query=subscription%7Bx%7D&ticket=[redacted]');
    expect(entry.req.url).toBe('/graphql?query=subscription%7Bx%7D&ticket=[redacted]');
  });

  it('redact the ticket query parameter wherever it is in the URL', () => {
    expect(redactUrl('/graphql?query=subscription%7Bx%7D&ticket=eyJabc.def.ghi&variables=%7B%7D')).toBe(
      '/graphql?query=subscription%7Bx%7D&ticket=[redacted]&variables=%7B%7D',
    );
    expect(redactUrl('/graphql?ticket=eyJabc.def.ghi')).toBe('/graphql?ticket=[redacted]');
  });
});
