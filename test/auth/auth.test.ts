import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { Emit, Presence, StreamTicket, UnreadCount } from '../documents.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';

describe('auth', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp('embedded');
  });
  afterAll(() => t.close());
  const input = { recipientIds: ['someone'], title: 't', body: 'b', type: 'UPDATE' as const };

  it('answers no token with UNAUTHENTICATED and a bad token with UNAUTHENTICATED', async () => {
    expect((await t.execute(UnreadCount, {}, null)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect((await t.execute(UnreadCount, {}, 'abc.def.ghi')).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const wrongSecret = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('x')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode('another-secret-another-secret-123'));
    expect((await t.execute(UnreadCount, {}, wrongSecret)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const expired = await t.token('x', { expiresInSeconds: -10 });
    expect((await t.execute(UnreadCount, {}, expired)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('lets only tokens with scope notifications:emit emit (FORBIDDEN otherwise)', async () => {
    expect((await t.execute(Emit, { input }, await t.token('user'))).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(
      (await t.execute(Emit, { input }, await t.token('svc', { scope: 'profile notifications:emit' }))).data?.emitNotification
        .deliveredCount,
    ).toBe(1);
    expect((await t.execute(Presence, { userIds: ['a'] }, await t.token('user'))).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('gives EventSource a short-lived ticket that opens streams only', async () => {
    const user = await t.token('ticket-user');
    const { data } = await t.execute(StreamTicket, {}, user);
    const ticket = data!.createStreamTicket.ticket;
    expect(new Date(data!.createStreamTicket.expiresAt).getTime() - Date.now()).toBeLessThanOrEqual(60_000);
    // A ticket is not a bearer token.
    expect((await t.execute(UnreadCount, {}, ticket)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const stream = await t.subscribe(
      'subscription { inboxEvents { __typename ... on UnreadCountChangedEvent { unreadCount } } }',
      {},
      { ticket },
    );
    const { result } = await stream.nextResult();
    expect(result.data).toEqual({ inboxEvents: { __typename: 'UnreadCountChangedEvent', unreadCount: 0 } });
  });

  it('ends a stream whose token expires with UNAUTHENTICATED', async () => {
    const shortLived = await t.token('expiring', { expiresInSeconds: 2 });
    const stream = await t.subscribe('subscription { notificationAdded { id } }', {}, { token: shortLived });
    const { result } = await stream.nextResult(8_000);
    expect(result.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('refuses to start in production without a real secret', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/JWT_SECRET/);
    expect(() => loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'short' })).toThrow(/JWT_SECRET/);
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(40), STREAM_TICKET_SECRET: 'y'.repeat(40) }).PORT).toBe(4000);
    expect(() => loadConfig({ PORT: 'abc' })).toThrow(/PORT/);
  });
});
