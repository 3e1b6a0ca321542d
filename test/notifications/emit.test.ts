import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { parse } from 'graphql';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMIT_SCOPE } from '../../src/auth/tokens.ts';
import { Emit, Inbox, UpdatePreferences } from '../documents.ts';
import type { EmitMutationVariables } from '../gql/graphql.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { BACKENDS } from '../helpers/backends.ts';

describe.each(BACKENDS)('emitNotification (%s)', (backend) => {
  let t: TestApp;
  let producer: string;
  beforeAll(async () => {
    t = await startTestApp(backend);
    producer = await t.producerToken();
  });
  afterAll(() => t.close());

  it('rejects 20 timesheets in one request: every employee gets exactly their own notification, all in one transaction', async () => {
    const employees = Array.from({ length: 20 }, (_, i) => `employee-${i}`);
    // Fetch, then listen from the fetch's streamCursor: nothing emitted after the fetch can be missed.
    const streams = await Promise.all(
      employees.map(async (e) => {
        const token = await t.token(e);
        const inbox = await t.execute(Inbox, {}, token);
        return t.subscribe(
          'subscription($after: String) { notificationAdded(after: $after) { recipientId title data } }',
          { after: inbox.data!.notifications.streamCursor },
          { token },
        );
      }),
    );
    const result = await t.execute(
      Emit,
      {
        input: {
          recipientIds: employees,
          title: 'Timesheet rejected',
          body: 'Please fix week 47',
          type: 'ALERT',
          category: 'timesheet.rejected',
          data: { week: 47 },
        },
      },
      producer,
    );
    expect(result.errors).toBeUndefined();
    expect(result.data?.emitNotification.deliveredCount).toBe(20);
    const received = await Promise.all(streams.map((s) => s.take<{ notificationAdded: { recipientId: string; data: unknown } }>(1)));
    received.forEach((events, i) => {
      expect(events).toHaveLength(1);
      expect(events[0]!.data.notificationAdded).toEqual({ recipientId: employees[i], title: 'Timesheet rejected', data: { week: 47 } });
    });
    // Nobody received anything else.
    expect(await Promise.all(streams.map((s) => s.quietFor(150)))).toEqual(streams.map(() => true));
    // All 20 rows share one transaction: PostgreSQL gives them one transaction timestamp.
    const rows = await t.app.services.db.prisma.notification.findMany({ where: { recipientId: { in: employees } } });
    expect(rows).toHaveLength(20);
    expect(new Set(rows.map((r) => r.createdAt.getTime())).size).toBe(1);
  });

  it('reports per recipient: delivered, suppressed (disabled or muted) and the channels each accepts', async () => {
    await t.execute(UpdatePreferences, { input: { enabled: false } }, await t.token('off-user'));
    await t.execute(UpdatePreferences, { input: { mutedCategories: ['promo.spring'], sms: true } }, await t.token('muter'));
    await t.execute(UpdatePreferences, { input: { email: false, sms: true } }, await t.token('sms-user'));
    const send = (category: string) =>
      t.execute(
        Emit,
        { input: { recipientIds: ['off-user', 'muter', 'sms-user', 'plain'], title: 'Sale', body: 'Now', type: 'PROMOTION', category } },
        producer,
      );
    const muted = await send('promo.spring');
    const byId = Object.fromEntries(muted.data!.emitNotification.deliveries.map((d) => [d.recipientId, d]));
    expect(byId['off-user']).toMatchObject({ status: 'SUPPRESSED', reason: 'DISABLED', notification: null });
    expect(byId.muter).toMatchObject({
      status: 'SUPPRESSED',
      reason: 'CATEGORY_MUTED',
      notification: null,
      channels: { email: false, sms: false, push: false },
    });
    expect(byId['sms-user']).toMatchObject({ status: 'DELIVERED', channels: { email: false, sms: true, push: true } });
    expect(byId.plain).toMatchObject({ status: 'DELIVERED', channels: { email: true, sms: false, push: true } });
    expect(muted.data!.emitNotification).toMatchObject({ deliveredCount: 2, suppressedCount: 2 });
    // A suppressed notification is not stored and takes no position.
    const inbox = await t.execute(Inbox, {}, await t.token('off-user'));
    expect(inbox.data!.notifications.edges).toHaveLength(0);
    expect(inbox.data!.unreadCount).toBe(0);
    const other = await send('promo.summer');
    expect(other.data!.emitNotification.deliveries.find((d) => d.recipientId === 'muter')?.status).toBe('DELIVERED');
  });

  it('delivers nothing twice when a producer retries with the same idempotency key', async () => {
    const input = {
      recipientIds: ['idem-a', 'idem-b'],
      title: 'Once',
      body: 'only',
      type: 'UPDATE' as const,
      idempotencyKey: 'order-42-shipped',
    };
    const first = await t.execute(Emit, { input }, producer);
    const retry = await t.execute(Emit, { input: { ...input, recipientIds: ['idem-a', 'idem-b', 'idem-c'] } }, producer);
    expect(first.data!.emitNotification.deliveredCount).toBe(2);
    expect(retry.data!.emitNotification).toMatchObject({ deliveredCount: 1, duplicateCount: 2 });
    const dup = retry.data!.emitNotification.deliveries.find((d) => d.recipientId === 'idem-a')!;
    expect(dup.status).toBe('DUPLICATE');
    expect(dup.notification?.id).toBe(first.data!.emitNotification.deliveries[0]!.notification?.id);
    const inbox = await t.execute(Inbox, {}, await t.token('idem-a'));
    expect(inbox.data!.notifications.edges).toHaveLength(1);
  });

  it("keeps idempotency keys per producer: another producer's emit with the same key is its own notification", async () => {
    const input = { recipientIds: ['idem-shared'], title: 'From billing', body: 'b', type: 'UPDATE' as const, idempotencyKey: 'k-1' };
    const billing = await t.token('billing', { scope: EMIT_SCOPE });
    const shipping = await t.token('shipping', { scope: EMIT_SCOPE });
    const first = await t.execute(Emit, { input }, billing);
    const other = await t.execute(Emit, { input: { ...input, title: 'From shipping' } }, shipping);
    const retry = await t.execute(Emit, { input }, billing);
    expect(first.data?.emitNotification.deliveries[0]?.status).toBe('DELIVERED');
    // Not DUPLICATE with billing's content: shipping's notification is stored and delivered.
    expect(other.data?.emitNotification.deliveries[0]?.status).toBe('DELIVERED');
    expect(other.data?.emitNotification.deliveries[0]?.notification?.id).not.toBe(
      first.data?.emitNotification.deliveries[0]?.notification?.id,
    );
    expect(retry.data?.emitNotification.deliveries[0]?.status).toBe('DUPLICATE');
    const inbox = await t.execute(Inbox, {}, await t.token('idem-shared'));
    expect(inbox.data?.notifications.edges.map((e) => e.node.title).sort()).toEqual(['From billing', 'From shipping']);
  });

  it('handles concurrent retries of one key: exactly one notification per recipient', async () => {
    const input = { recipientIds: ['race-a'], title: 'Race', body: 'x', type: 'UPDATE' as const, idempotencyKey: 'race-key' };
    const results = await Promise.all(Array.from({ length: 8 }, () => t.execute(Emit, { input }, producer)));
    const statuses = results.map((r) => r.data!.emitNotification.deliveries[0]!.status).sort();
    expect(statuses.filter((s) => s === 'DELIVERED')).toHaveLength(1);
    expect(statuses.filter((s) => s === 'DUPLICATE')).toHaveLength(7);
    const inbox = await t.execute(Inbox, {}, await t.token('race-a'));
    expect(inbox.data!.notifications.edges).toHaveLength(1);
  });

  it('delivers a bulk emit to every subscribed recipient exactly once (one fan-out message on Redis)', async () => {
    const subscribed = Array.from({ length: 100 }, (_, i) => `fan-${i}`);
    const recipients = [...subscribed, ...Array.from({ length: 50 }, (_, i) => `fan-offline-${i}`)];
    const streams = await Promise.all(
      subscribed.map(async (u) =>
        t.subscribe(
          'subscription($after: String) { notificationAdded(after: $after) { id cursor recipientId title body type data createdAt } }',
          { after: 'aDE6MA' },
          {
            token: await t.token(u),
          },
        ),
      ),
    );
    const input = { recipientIds: recipients, title: 'fan-out', body: 'b', type: 'SYSTEM_NOTICE' as const, data: { offer: 42 } };
    const r = await t.execute(Emit, { input }, producer);
    expect(r.data!.emitNotification.deliveredCount).toBe(150);
    type Added = { notificationAdded: { id: string; recipientId: string; title: string; data: unknown } };
    const got = await Promise.all(streams.map(async (s) => (await s.take<Added>(1))[0]!.data.notificationAdded));
    expect(got.map(({ recipientId, title, data }) => ({ recipientId, title, data }))).toEqual(
      subscribed.map((recipientId) => ({ recipientId, title: 'fan-out', data: { offer: 42 } })),
    );
    // Each stream got its own stored notification (id, position, time), as the inbox has it.
    for (const [i, received] of got.entries()) {
      if (i % 20 !== 0) continue;
      const inbox = await t.execute(Inbox, { first: 1 }, await t.token(received.recipientId));
      const { id, cursor, recipientId, title, body, type, data, createdAt } = inbox.data!.notifications.edges[0]!.node;
      expect(received).toEqual({ id, cursor, recipientId, title, body, type, data, createdAt });
    }
    expect(await streams[0]!.quietFor(300)).toBe(true);
    await Promise.all(streams.map((s) => s.close()));
  });

  it('a bulk emit of a long body reaches every subscriber without Redis dropping a connection', async () => {
    // Packed, the fan-out carries the 5,000-character body once; sent per recipient it was 50 MB,
    // past Redis' default output limit for a pub/sub client (32 MB), and Redis disconnected every
    // subscribed instance, whose streams then had to catch up from the database.
    const subscribed = Array.from({ length: 10 }, (_, i) => `long-${i}`);
    const recipients = [...subscribed, ...Array.from({ length: 9_990 }, (_, i) => `long-offline-${i}`)];
    const hub = t.app.services.hub;
    const catchUpsAtStart = hub.stats().catchUps;
    const streams = await Promise.all(
      subscribed.map(async (u) =>
        t.subscribe(
          'subscription($after: String) { notificationAdded(after: $after) { recipientId body } }',
          { after: 'aDE6MA' },
          { token: await t.token(u) },
        ),
      ),
    );
    // Opened from position 0: each replays (nothing) from the database once, then is live.
    while (hub.stats().catchUps < catchUpsAtStart + subscribed.length) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200));
    const catchUpsBefore = hub.stats().catchUps;
    const body = 'All hands: '.padEnd(5_000, '.');
    // Counts only: `Emit`'s every-field selection would answer the body 10,000 times (about 54 MB),
    // over MAX_EMIT_RESPONSE_BYTES.
    const EmitCount: TypedDocumentNode<{ emitNotification: { deliveredCount: number } }, EmitMutationVariables> = parse(
      'mutation EmitCount($input: EmitNotificationInput!) { emitNotification(input: $input) { deliveredCount } }',
    );
    const r = await t.execute(EmitCount, { input: { recipientIds: recipients, title: 'long', body, type: 'SYSTEM_NOTICE' } }, producer);
    expect(r.data?.emitNotification.deliveredCount).toBe(10_000);
    type Added = { notificationAdded: { recipientId: string; body: string } };
    const got = await Promise.all(streams.map(async (s) => (await s.take<Added>(1))[0]!.data.notificationAdded));
    expect(got).toEqual(subscribed.map((recipientId) => ({ recipientId, body })));
    expect(await streams[0]!.quietFor(500)).toBe(true);
    expect(hub.stats().catchUps).toBe(catchUpsBefore);
    await Promise.all(streams.map((s) => s.close()));
  });

  it.runIf(backend === 'postgres+redis')(
    'an emit is not held up behind a commit that is stuck (here: a bulk emit waiting on a lock)',
    async () => {
      const bulk = Array.from({ length: 1_000 }, (_, i) => `hol-bulk-${i}`);
      await t.execute(Emit, { input: { recipientIds: [bulk[0]!], title: 'first', body: 'b', type: 'UPDATE' } }, producer);
      // Another session holds one bulk recipient's inbox row: the bulk emit's commit waits for it.
      const locker = new pg.Client({ connectionString: t.config.DATABASE_URL });
      await locker.connect();
      await locker.query('BEGIN');
      await locker.query('SELECT * FROM inbox_state WHERE user_id = $1 FOR UPDATE', [bulk[0]]);
      const finished: string[] = [];
      let bulkDone: Promise<unknown> = Promise.resolve();
      try {
        bulkDone = t
          .execute(Emit, { input: { recipientIds: bulk, title: 'bulk', body: 'b', type: 'SYSTEM_NOTICE' } }, producer)
          .then((r) => finished.push(`bulk:${r.data?.emitNotification.deliveredCount}`));
        const lockWaits = `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`;
        while ((await locker.query(lockWaits)).rows[0].n === 0) await new Promise((r) => setTimeout(r, 20));
        const single = await Promise.race([
          t.execute(Emit, { input: { recipientIds: ['hol-single'], title: 'now', body: 'b', type: 'UPDATE' } }, producer),
          new Promise<null>((r) => setTimeout(() => r(null), 5_000)),
        ]);
        finished.push(single ? `single:${single.data?.emitNotification.deliveredCount}` : 'single: still waiting after 5 s');
      } finally {
        await locker.query('ROLLBACK');
        await locker.end();
      }
      await bulkDone;
      expect(finished).toEqual(['single:1', 'bulk:1000']);
    },
  );

  it('stores 10,000 recipients in one call', async () => {
    const recipients = Array.from({ length: 10_000 }, (_, i) => `bulk-${i}`);
    const r = await t.execute(
      Emit,
      { input: { recipientIds: recipients, title: 'All hands', body: 'Friday', type: 'SYSTEM_NOTICE' } },
      producer,
    );
    expect(r.errors).toBeUndefined();
    expect(r.data!.emitNotification.deliveredCount).toBe(10_000);
    const inbox = await t.execute(Inbox, {}, await t.token('bulk-9999'));
    expect(inbox.data!.notifications.edges[0]!.node.title).toBe('All hands');
  });
});
