import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Emit, Inbox } from '../documents.ts';
import { type GraphQLResponse, startTestApp, type TestApp } from '../helpers/app.ts';
import { BACKENDS } from '../helpers/backends.ts';

/** Nested arrays `depth` levels deep (about 2 bytes a level, well under the 16 KiB size limit). */
const deep = (depth: number) => {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = [value];
  return { nested: value };
};

/**
 * Stands for data nested 5,000 deep in a request body: JSON.stringify itself overflows the stack
 * on such a value, so the text is spliced in by hand.
 */
const DEEP_5000 = '__deep_5000__';
const deepText = `{"nested":${'['.repeat(5_000)}1${']'.repeat(5_000)}}`;

/** POSTs an emit whose input may hold DEEP_5000. */
async function postEmit(
  t: TestApp,
  input: Record<string, unknown>,
  token: string,
  query = print(Emit),
): Promise<GraphQLResponse<EmitPayload>> {
  const body = JSON.stringify({ query, variables: { input } }).replace(`"${DEEP_5000}"`, deepText);
  const response = await fetch(`${await t.listen()}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${token}` },
    body,
  });
  expect(response.status).toBeLessThan(500);
  return (await response.json()) as GraphQLResponse<EmitPayload>;
}

type EmitPayload = { emitNotification: { deliveredCount: number } };
const COUNT_ONLY = 'mutation($input: EmitNotificationInput!) { emitNotification(input: $input) { deliveredCount } }';

/** Each bad emit: a value PostgreSQL cannot store (NUL, an unpaired surrogate) or data too deep. */
const BAD: [string, (recipient: string) => Record<string, unknown>][] = [
  ['NUL in the title', (r) => ({ recipientIds: [r], title: 'a\u0000b' })],
  ['NUL in the body', (r) => ({ recipientIds: [r], body: 'a\u0000b' })],
  ['a lone surrogate in the body', (r) => ({ recipientIds: [r], body: 'a\uD800b' })],
  ['NUL in a data value', (r) => ({ recipientIds: [r], data: { deep: { list: ['ok', 'x\u0000'] } } })],
  ['NUL in a data key', (r) => ({ recipientIds: [r], data: { deep: { 'k\u0000': 1 } } })],
  ['a lone surrogate in a data key', (r) => ({ recipientIds: [r], data: { ['\uDC00']: 1 } })],
  ['NUL in the category', (r) => ({ recipientIds: [r], category: 'a\u0000b' })],
  ['NUL in a recipient id', (r) => ({ recipientIds: [r, `${r}\u0000x`] })],
  ['a lone surrogate in a recipient id', (r) => ({ recipientIds: [r, `${r}\uD83Dx`] })],
  ['NUL in the idempotency key', (r) => ({ recipientIds: [r], idempotencyKey: 'k\u0000' })],
  ['a lone surrogate in the idempotency key', (r) => ({ recipientIds: [r], idempotencyKey: 'k\uDBFF' })],
  ['data nested 5,000 deep', (r) => ({ recipientIds: [r], data: DEEP_5000 })],
];

describe.each(BACKENDS)('one bad emit among concurrent ones (%s)', (backend) => {
  let t: TestApp;
  let producer: string;
  beforeAll(async () => {
    // One grouped commit at a time, so the emits held behind the blocker below form one batch.
    t = await startTestApp(backend, { EMIT_CONCURRENT_COMMITS: '1' });
    producer = await t.producerToken();
  });
  afterAll(() => t.close());

  /**
   * Holds the emit pipeline: a transaction locks the blocker's inbox row, an emit to the blocker
   * waits on it, and everything emitted meanwhile queues for the next grouped commit. `release`
   * lets it go once `queued` emits wait.
   */
  async function holdCommits(round: string) {
    const blocker = `${round}-blocker`;
    await t.execute(Emit, { input: { recipientIds: [blocker], title: 't', body: 'b', type: 'UPDATE' } }, producer);
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let locked = () => {};
    const lockTaken = new Promise<void>((resolve) => {
      locked = resolve;
    });
    const holder = t.app.services.db.sql.transaction(async (tx) => {
      await tx.query('SELECT user_id FROM inbox_state WHERE user_id = $1 FOR UPDATE', [blocker]);
      locked();
      await held;
    });
    await lockTaken;
    const blocked = t.execute(Emit, { input: { recipientIds: [blocker], title: 't', body: 'b', type: 'UPDATE' } }, producer);
    const emitter = t.app.services.emitter;
    while (emitter.stats().running === 0 || emitter.stats().queued > 0) await new Promise((r) => setTimeout(r, 5));
    return {
      async release(queued: number) {
        while (emitter.stats().queued < queued) await new Promise((r) => setTimeout(r, 5));
        release();
        await holder;
        expect((await blocked).errors).toBeUndefined();
      },
    };
  }

  /**
   * 60 producers emit at once over HTTP, grouped into one commit: 59 good emits to their own
   * recipient and a shared watcher, and one bad one.
   */
  async function sixtyWithOneBad(round: string, bad: (recipient: string) => Record<string, unknown>, badIsRefusedEarly: boolean) {
    const watcher = `${round}-watcher`;
    const watcherToken = await t.token(watcher);
    const start = await t.execute(Inbox, {}, watcherToken);
    const stream = await t.subscribe(
      'subscription($after: String) { notificationAdded(after: $after) { title } }',
      { after: start.data?.notifications.streamCursor },
      { token: watcherToken },
    );
    const hold = await holdCommits(round);
    const good = Array.from({ length: 59 }, (_, i) => `${round}-good-${i}`);
    const badRecipient = `${round}-bad`;
    const base = { title: 'Title', body: 'Body', type: 'UPDATE' };
    const inputs: Record<string, unknown>[] = good.map((r, i) => ({ ...base, title: `good ${i}`, recipientIds: [r, watcher] }));
    inputs.splice(30, 0, { ...base, ...bad(badRecipient) });
    const responses = Promise.all(inputs.map((input) => postEmit(t, input, producer)));
    await hold.release(badIsRefusedEarly ? 59 : 60);
    const results = await responses;
    const badResult = results.splice(30, 1)[0] as GraphQLResponse<EmitPayload>;
    const titles = async () => {
      const events = await stream.take<{ notificationAdded: { title: string } }>(59);
      await stream.close();
      return events.map((e) => e.data.notificationAdded.title).sort();
    };
    const rows = await t.app.services.db.sql.query<{ recipient_id: string }>(
      `SELECT recipient_id FROM notification WHERE recipient_id LIKE $1 || '-%' AND recipient_id NOT LIKE '%-blocker'`,
      [round],
    );
    return { results, badResult, titles, rows, good, watcher };
  }

  it.each(BAD)('%s: refused with BAD_USER_INPUT, the 59 others in its group stored and delivered', async (what, bad) => {
    const round = `r${BAD.findIndex(([w]) => w === what)}`;
    const { results, badResult, titles, rows, good, watcher } = await sixtyWithOneBad(round, bad, true);
    expect(badResult.data ?? null).toBeNull();
    expect(badResult.errors?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    expect(results.map((r) => r.errors)).toEqual(results.map(() => undefined));
    expect(results.map((r) => r.data?.emitNotification.deliveredCount)).toEqual(results.map(() => 2));
    expect(await titles()).toEqual(good.map((_, i) => `good ${i}`).sort());
    // Exactly the 59 emits' rows: one per good recipient, 59 for the watcher, nothing of the bad one.
    const count = (id: string) => rows.filter((r) => r.recipient_id === id).length;
    expect(rows).toHaveLength(118);
    expect(good.every((id) => count(id) === 1)).toBe(true);
    expect(count(watcher)).toBe(59);
  });

  it('a member the database refuses fails alone: the 59 others of its grouped commit are stored, answered and delivered', async () => {
    // A value the input checks accept but PostgreSQL refuses (here: a constraint of this test's own
    // database), so the grouped statement fails and the batch must be split to find the culprit.
    await t.app.services.db.sql.query(`ALTER TABLE notification ADD CONSTRAINT test_poison CHECK (title <> 'poison')`);
    try {
      const isolationsBefore = t.app.services.emitter.stats().isolations;
      const { results, badResult, titles, rows, good, watcher } = await sixtyWithOneBad(
        'poison',
        (r) => ({ recipientIds: [r], title: 'poison' }),
        false,
      );
      expect(badResult.data ?? null).toBeNull();
      expect(badResult.errors).toHaveLength(1);
      expect(results.map((r) => r.errors)).toEqual(results.map(() => undefined));
      expect(results.map((r) => r.data?.emitNotification.deliveredCount)).toEqual(results.map(() => 2));
      expect(await titles()).toEqual(good.map((_, i) => `good ${i}`).sort());
      expect(rows).toHaveLength(118);
      expect(rows.filter((r) => r.recipient_id === watcher)).toHaveLength(59);
      expect(new Set(rows.map((r) => r.recipient_id))).toEqual(new Set([...good, watcher]));
      expect(t.app.services.emitter.stats().isolations).toBeGreaterThan(isolationsBefore);
    } finally {
      await t.app.services.db.sql.query('ALTER TABLE notification DROP CONSTRAINT test_poison');
    }
  });

  it('data deeper than the documented limit is BAD_USER_INPUT naming the limit; at the limit it is stored', async () => {
    const tooDeep = await t.execute(
      Emit,
      { input: { recipientIds: ['depth-a'], title: 't', body: 'b', type: 'UPDATE', data: deep(64) } },
      producer,
    );
    expect(tooDeep.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'data', maxDepth: 64 });
    const atLimit = await t.execute(
      Emit,
      { input: { recipientIds: ['depth-c'], title: 't', body: 'b', type: 'UPDATE', data: deep(63) } },
      producer,
    );
    expect(atLimit.errors).toBeUndefined();
    expect(atLimit.data?.emitNotification.deliveredCount).toBe(1);
  });

  // 16 KiB of text, but each number takes about 12 bytes in jsonb: stored once per recipient, such
  // data to 10,000 recipients took 15 s to insert and the emit ended SERVICE_UNAVAILABLE.
  it('data that would be far larger stored than sent (a long list of numbers) is refused at once, to any number of recipients', async () => {
    const recipientIds = Array.from({ length: 10_000 }, (_, i) => `numbers-${i}`);
    const dense = { values: Array.from({ length: 8_000 }, (_, i) => i % 10) };
    expect(JSON.stringify(dense).length).toBeLessThan(16_384);
    const started = performance.now();
    const refused = await postEmit(t, { recipientIds, title: 't', data: dense }, producer, COUNT_ONLY);
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'data', maxStored: 32_768 });
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(await t.app.services.db.prisma.notification.count({ where: { recipientId: { startsWith: 'numbers-' } } })).toBe(0);
    // A list of numbers that fits is stored, to a hundred recipients at once.
    const fits = { values: Array.from({ length: 2_000 }, (_, i) => i) };
    const stored = await postEmit(t, { recipientIds: recipientIds.slice(0, 100), title: 't', data: fits }, producer, COUNT_ONLY);
    expect(stored.errors).toBeUndefined();
    expect(stored.data?.emitNotification.deliveredCount).toBe(100);
  });
});
