import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMIT_SCOPE, TICKET_AUDIENCE, TICKET_TYPE } from '../../src/auth/tokens.ts';
import { Emit, UnreadCount } from '../documents.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { BACKENDS } from '../helpers/backends.ts';

const TICKET_SECRET = 'subject-test-ticket-key-0123456789-abcdef';
const BAD_SUBS: [string, string][] = [
  ['a NUL', 'ali\0ce'],
  ['a lone high surrogate', 'ali\uD800ce'],
  ['a lone low surrogate', '\uDC00alice'],
  ['nothing', ''],
  ['256 characters', 'a'.repeat(256)],
];

describe.each(BACKENDS)('token sub (%s)', (backend) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp(backend, { STREAM_TICKET_SECRET: TICKET_SECRET });
  });
  afterAll(() => t?.close());
  const input = { recipientIds: ['sub-recipient'], title: 't', body: 'b', type: 'UPDATE' as const };

  it.each(BAD_SUBS)('a sub with %s is UNAUTHENTICATED for queries, emits and streams', async (_what, sub) => {
    const user = await t.token(sub);
    expect((await t.execute(UnreadCount, {}, user)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const producer = await t.token(sub, { scope: EMIT_SCOPE });
    expect((await t.execute(Emit, { input }, producer)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const stream = await t.subscribe('subscription { notificationAdded { id } }', {}, { token: user });
    const { result } = await stream.nextResult();
    expect(result.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('a ticket whose sub holds a NUL is refused with 401', async () => {
    const ticket = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256', typ: TICKET_TYPE })
      .setSubject('x\0y')
      .setAudience(TICKET_AUDIENCE)
      .setExpirationTime('1m')
      .sign(new TextEncoder().encode(TICKET_SECRET));
    expect((await t.subscribe('subscription { notificationAdded { id } }', {}, { ticket })).response.status).toBe(401);
  });

  it('an expired ticket is refused with 401; a live one opens the stream', async () => {
    const sign = (exp: number) =>
      new SignJWT({ stream_exp: exp + 3600 })
        .setProtectedHeader({ alg: 'HS256', typ: TICKET_TYPE })
        .setSubject('ticket-owner')
        .setAudience(TICKET_AUDIENCE)
        .setJti(`ticket-${exp}`)
        .setIssuedAt(exp - 60)
        .setExpirationTime(exp)
        .sign(new TextEncoder().encode(TICKET_SECRET));
    const now = Math.floor(Date.now() / 1000);
    const expired = await t.subscribe('subscription { notificationAdded { id } }', {}, { ticket: await sign(now - 10) });
    expect(expired.response.status).toBe(401);
    const live = await t.subscribe('subscription { notificationAdded { id } }', {}, { ticket: await sign(now + 60) });
    expect(live.response.status).toBe(200);
  });

  it('ids up to 255 characters, with surrogate pairs, are users', async () => {
    for (const sub of ['a'.repeat(255), 'zoë-🦊']) {
      expect((await t.execute(UnreadCount, {}, await t.token(sub))).data?.unreadCount).toBe(0);
    }
  });
});
