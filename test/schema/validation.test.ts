import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Emit, Inbox, MarkRead, UnreadCount } from '../documents.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { BACKENDS } from '../helpers/backends.ts';

describe.each(BACKENDS)('bad input gets a coded error and writes nothing (%s)', (backend) => {
  let t: TestApp;
  let producer: string;
  const base = { recipientIds: ['v-user'], title: 'ok', body: 'ok', type: 'UPDATE' as const };
  beforeAll(async () => {
    t = await startTestApp(backend);
    producer = await t.producerToken();
  });
  afterAll(() => t.close());

  const cases: [string, Record<string, unknown>][] = [
    ['empty title', { title: '   ' }],
    ['oversized title', { title: 'x'.repeat(201) }],
    ['a title of only white space', { title: '\t\n ' }],
    ['oversized body', { body: 'x'.repeat(10_001) }],
    ['no recipients', { recipientIds: [] }],
    ['more than 10,000 recipients', { recipientIds: Array.from({ length: 10_001 }, (_, i) => `u${i}`) }],
    ['duplicate recipients', { recipientIds: ['v-user', 'other', 'v-user'] }],
    ['oversized data', { data: { blob: 'x'.repeat(20_000) } }],
    ['data that is not an object', { data: [1, 2] }],
    ['a malformed category', { category: 'has spaces' }],
  ];
  it.each(cases)('emit with %s: BAD_USER_INPUT, nothing stored', async (_name, patch) => {
    const r = await t.execute(Emit, { input: { ...base, ...patch } as never }, producer);
    expect(r.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(r.data ?? null).toBeNull();
    expect(await t.app.services.db.prisma.notification.count({ where: { recipientId: 'v-user' } })).toBe(0);
  });

  it('rejects more than 1,000 ids and malformed cursors', async () => {
    const user = await t.token('v-user');
    const many = Array.from({ length: 1001 }, () => crypto.randomUUID());
    expect((await t.execute(MarkRead, { ids: many }, user)).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect((await t.execute(Inbox, { after: 'not-a-cursor' }, user)).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect((await t.execute(Inbox, { first: 1000 }, user)).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const sub = await t.subscribe('subscription { notificationAdded(after: "garbage") { id } }', {}, { token: user });
    const { result } = await sub.nextResult();
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('answers unknown ids with NOT_FOUND', async () => {
    const r = await t.execute(MarkRead, { ids: [crypto.randomUUID(), 'not-a-uuid'] }, await t.token('v-user'));
    expect(r.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  it('never answers bad JSON or a bad query with a 500', async () => {
    const res = await fetch(`${await t.listen()}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await t.token('v-user')}` },
      body: '{"query": "{ unreadCount',
    });
    expect(res.status).toBeLessThan(500);
    const wellFormed = await t.execute(UnreadCount, {} as never, await t.token('v-user'));
    expect(wellFormed.errors).toBeUndefined();
  });
});
