import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuthenticator, TICKET_AUDIENCE, TICKET_TYPE } from '../../src/auth/tokens.ts';
import { DEV_JWT_SECRET, loadConfig } from '../../src/config.ts';
import { encodeCursor } from '../../src/domain/cursor.ts';
import { StreamTicket, UnreadCount } from '../documents.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';

/**
 * Which credentials each key configuration accepts, over real HTTP, with a real JWKS served on a
 * local port. Rows: {secret only, JWKS only, both} x {production, development}, plus development's
 * default (no key configured: the published development secret).
 */

const REAL_SECRET = 'a-real-deployment-secret-0123456789-abcdef';
const TICKET_SECRET = 'a-stream-ticket-key-0123456789-abcdefghijk';
const INBOX = 'subscription { inboxEvents { __typename ... on UnreadCountChangedEvent { unreadCount } } }';

/** The issuer's keys (published in the JWKS) and a key nobody published. */
let rsa: { privateKey: CryptoKey; publicJwk: JWK };
let ec: { privateKey: CryptoKey };
let stranger: { privateKey: CryptoKey };
let jwksServer: Server;
let jwksUrl: string;

beforeAll(async () => {
  const rsaPair = await generateKeyPair('RS256');
  const ecPair = await generateKeyPair('ES256');
  rsa = { privateKey: rsaPair.privateKey, publicJwk: { ...(await exportJWK(rsaPair.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' } };
  ec = { privateKey: ecPair.privateKey };
  stranger = { privateKey: (await generateKeyPair('RS256')).privateKey };
  const ecJwk = { ...(await exportJWK(ecPair.publicKey)), kid: 'ec-1', alg: 'ES256', use: 'sig' };
  const body = JSON.stringify({ keys: [rsa.publicJwk, ecJwk] });
  jwksServer = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(body));
  await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
  jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/.well-known/jwks.json`;
});
afterAll(async () => {
  await new Promise((resolve) => jwksServer?.close(resolve));
});

const hs256 = (secret: string | Uint8Array, sub: string, header: Record<string, string> = {}) =>
  new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', ...header })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime('10m')
    .sign(typeof secret === 'string' ? new TextEncoder().encode(secret) : secret);

const asymmetric = (key: CryptoKey, alg: 'RS256' | 'ES256', kid: string, sub: string) =>
  new SignJWT({}).setProtectedHeader({ alg, kid }).setSubject(sub).setIssuedAt().setExpirationTime('10m').sign(key);

/** A ticket made by someone who knows a secret but not the ticket key. */
const forgedTicket = (secret: string, sub: string) =>
  new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: TICKET_TYPE })
    .setSubject(sub)
    .setAudience(TICKET_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime('1m')
    .sign(new TextEncoder().encode(secret));

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
/** An unsigned token (`alg: none`), with and without a trailing signature part. */
const unsigned = (sub: string) => `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub, exp: Math.floor(Date.now() / 1000) + 600 })}.`;

type Source = 'secret only' | 'JWKS only' | 'both' | 'development default';
type Env = 'production' | 'development';
interface Row {
  source: Source;
  env: Env;
  /** Which bearer kinds are accepted. */
  devSecret: boolean;
  realSecret: boolean;
  jwks: boolean;
}

const ROWS: Row[] = [
  ...(['production', 'development'] as const).flatMap((env): Row[] => [
    { source: 'secret only', env, devSecret: false, realSecret: true, jwks: false },
    { source: 'JWKS only', env, devSecret: false, realSecret: false, jwks: true },
    { source: 'both', env, devSecret: false, realSecret: true, jwks: true },
  ]),
  { source: 'development default', env: 'development', devSecret: true, realSecret: false, jwks: false },
];

function overrides(row: Row): Record<string, string> {
  const env: Record<string, string> = { NODE_ENV: row.env, JWT_SECRET: '' };
  if (row.source === 'secret only' || row.source === 'both') env.JWT_SECRET = REAL_SECRET;
  if (row.source === 'JWKS only' || row.source === 'both') env.JWT_JWKS_URL = jwksUrl;
  // Production requires the ticket key; development runs without it (a random key per process).
  if (row.env === 'production') env.STREAM_TICKET_SECRET = TICKET_SECRET;
  return env;
}

describe.each(ROWS)('keys: $source, $env', (row) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp('embedded', overrides(row));
  });
  afterAll(() => t?.close());

  /** The unread count as the token's user, or the error code. */
  async function asBearer(token: string): Promise<number | string | undefined> {
    const { data, errors } = await t.execute(UnreadCount, {}, token);
    return errors ? errors[0]?.extensions?.code : data?.unreadCount;
  }
  /** An accepted bearer token of this row, for minting tickets. */
  const goodBearer = (sub: string) =>
    row.realSecret ? hs256(REAL_SECRET, sub) : row.jwks ? asymmetric(rsa.privateKey, 'RS256', 'rsa-1', sub) : hs256(DEV_JWT_SECRET, sub);
  /** Opens a stream with a ticket: the HTTP status, and the first result when it opened. */
  async function withTicket(ticket: string): Promise<{ status: number; first?: unknown }> {
    const stream = await t.subscribe(INBOX, {}, { ticket });
    if (stream.response.status !== 200) return { status: stream.response.status };
    const { result } = await stream.nextResult();
    await stream.close();
    return { status: 200, first: result };
  }
  const accepted = (yes: boolean) => (yes ? 0 : 'UNAUTHENTICATED');

  it(`HS256 signed with the development secret: ${row.devSecret ? 'accepted' : 'refused'}`, async () => {
    expect(await asBearer(await hs256(DEV_JWT_SECRET, 'dev-user'))).toBe(accepted(row.devSecret));
  });

  it(`HS256 signed with the deployment's secret: ${row.realSecret ? 'accepted' : 'refused'}`, async () => {
    expect(await asBearer(await hs256(REAL_SECRET, 'real-user'))).toBe(accepted(row.realSecret));
  });

  it(`RS256 and ES256 from the issuer's JWKS: ${row.jwks ? 'accepted' : 'refused'}`, async () => {
    expect(await asBearer(await asymmetric(rsa.privateKey, 'RS256', 'rsa-1', 'rsa-user'))).toBe(accepted(row.jwks));
    expect(await asBearer(await asymmetric(ec.privateKey, 'ES256', 'ec-1', 'ec-user'))).toBe(accepted(row.jwks));
  });

  it('RS256 signed with a key the issuer never published: refused (even under a published kid)', async () => {
    expect(await asBearer(await asymmetric(stranger.privateKey, 'RS256', 'rsa-1', 'mallory'))).toBe('UNAUTHENTICATED');
    expect(await asBearer(await asymmetric(stranger.privateKey, 'RS256', 'unknown-kid', 'mallory'))).toBe('UNAUTHENTICATED');
  });

  it('alg none, and HS256 keyed with the public JWK (algorithm confusion): refused', async () => {
    expect(await asBearer(unsigned('mallory'))).toBe('UNAUTHENTICATED');
    expect(await asBearer(`${unsigned('mallory')}c2ln`)).toBe('UNAUTHENTICATED');
    expect(await asBearer(await hs256(JSON.stringify(rsa.publicJwk), 'mallory', { kid: 'rsa-1' }))).toBe('UNAUTHENTICATED');
    expect(await asBearer(await hs256(new TextEncoder().encode(rsa.publicJwk.n ?? ''), 'mallory', { kid: 'rsa-1' }))).toBe(
      'UNAUTHENTICATED',
    );
  });

  it('a ticket opens a stream; it is no bearer token, and a bearer token is no ticket (401)', async () => {
    const bearer = await goodBearer('ticket-user');
    const minted = await t.execute(StreamTicket, {}, bearer);
    const ticket = minted.data?.createStreamTicket.ticket;
    expect(ticket, JSON.stringify(minted.errors)).toBeTypeOf('string');
    if (ticket === undefined) return;
    expect(await withTicket(ticket)).toEqual({
      status: 200,
      // Every inboxEvents event carries its position: the counts of a new inbox, at 0.
      first: { data: { inboxEvents: { __typename: 'UnreadCountChangedEvent', unreadCount: 0 } }, extensions: { cursor: encodeCursor(0) } },
    });
    expect(await asBearer(ticket)).toBe('UNAUTHENTICATED');
    expect((await withTicket(bearer)).status).toBe(401);
  });

  it('a ticket forged with the development secret or with the JWT secret: 401', async () => {
    expect((await withTicket(await forgedTicket(DEV_JWT_SECRET, 'mallory'))).status).toBe(401);
    expect((await withTicket(await forgedTicket(REAL_SECRET, 'mallory'))).status).toBe(401);
    // Shaped as a bearer token too: still not accepted as one.
    expect(await asBearer(await forgedTicket(DEV_JWT_SECRET, 'mallory'))).toBe('UNAUTHENTICATED');
    expect(await asBearer(await forgedTicket(REAL_SECRET, 'mallory'))).toBe('UNAUTHENTICATED');
  });
});

describe('key configuration', () => {
  const prod = { NODE_ENV: 'production', STREAM_TICKET_SECRET: TICKET_SECRET };

  it('production needs a key source and a ticket key, and never takes the development secret', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', STREAM_TICKET_SECRET: TICKET_SECRET })).toThrow(/JWT_SECRET/);
    expect(() => loadConfig({ ...prod, JWT_SECRET: DEV_JWT_SECRET })).toThrow(/JWT_SECRET/);
    expect(() => loadConfig({ ...prod, JWT_SECRET: DEV_JWT_SECRET, JWT_JWKS_URL: 'https://issuer.example/jwks' })).toThrow(/JWT_SECRET/);
    expect(() => loadConfig({ ...prod, JWT_SECRET: 'short', JWT_JWKS_URL: 'https://issuer.example/jwks' })).toThrow(/JWT_SECRET/);
    expect(() => loadConfig({ NODE_ENV: 'production', JWT_SECRET: REAL_SECRET })).toThrow(/STREAM_TICKET_SECRET/);
    expect(() => loadConfig({ NODE_ENV: 'production', JWT_JWKS_URL: 'https://issuer.example/jwks' })).toThrow(/STREAM_TICKET_SECRET/);
    expect(loadConfig({ ...prod, JWT_JWKS_URL: 'https://issuer.example/jwks' }).JWT_SECRET).toBeUndefined();
    expect(loadConfig({ ...prod, JWT_SECRET: REAL_SECRET }).JWT_SECRET).toBe(REAL_SECRET);
  });

  it('the ticket key is its own: not the JWT secret, not the development secret, not short', () => {
    expect(() => loadConfig({ ...prod, JWT_SECRET: REAL_SECRET, STREAM_TICKET_SECRET: REAL_SECRET })).toThrow(/STREAM_TICKET_SECRET/);
    expect(() => loadConfig({ STREAM_TICKET_SECRET: DEV_JWT_SECRET })).toThrow(/STREAM_TICKET_SECRET/);
    expect(() => loadConfig({ STREAM_TICKET_SECRET: 'short' })).toThrow(/STREAM_TICKET_SECRET/);
  });

  it('development keeps the development secret only while no key source is configured', () => {
    expect(loadConfig({}).JWT_SECRET).toBe(DEV_JWT_SECRET);
    expect(loadConfig({ JWT_JWKS_URL: 'https://issuer.example/jwks' }).JWT_SECRET).toBeUndefined();
    expect(loadConfig({ JWT_SECRET: REAL_SECRET }).JWT_SECRET).toBe(REAL_SECRET);
  });

  it("without STREAM_TICKET_SECRET each process has its own ticket key (another process's ticket is refused); with it, instances share", async () => {
    const auth = { userId: 'u', scopes: new Set<string>(), expiresAt: Date.now() + 600_000, via: 'bearer' as const };
    const dev = loadConfig({});
    const a = createAuthenticator(dev);
    const b = createAuthenticator(dev);
    const { ticket } = await a.mintTicket(auth);
    expect((await a.verifyTicket(ticket)).userId).toBe('u');
    await expect(b.verifyTicket(ticket)).rejects.toThrow(/stream ticket/);
    const shared = loadConfig({ STREAM_TICKET_SECRET: TICKET_SECRET });
    const minted = await createAuthenticator(shared).mintTicket(auth);
    expect((await createAuthenticator(shared).verifyTicket(minted.ticket)).via).toBe('ticket');
  });

  it('warns when it generates the ticket key', () => {
    const warnings: unknown[] = [];
    createAuthenticator(loadConfig({}), { warn: (message: unknown) => warnings.push(message) });
    createAuthenticator(loadConfig({ STREAM_TICKET_SECRET: TICKET_SECRET }), { warn: (message: unknown) => warnings.push(message) });
    expect(warnings).toEqual([expect.stringMatching(/STREAM_TICKET_SECRET is not set/)]);
  });
});
