import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmitCritical, Inbox, UpdatePreferences } from '../documents.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { BACKENDS } from '../helpers/backends.ts';

// Critical emits (issue 14): a security alert reaches a user who turned in-app notifications off
// or muted its category, and the producer is told what was bypassed.
describe.each(BACKENDS)('critical emits (%s)', (backend) => {
  let t: TestApp;
  let producer: string;
  beforeAll(async () => {
    t = await startTestApp(backend);
    producer = await t.producerToken();
    await t.execute(UpdatePreferences, { input: { enabled: false } }, await t.token('crit-off'));
    await t.execute(UpdatePreferences, { input: { mutedCategories: ['security'] } }, await t.token('crit-muter'));
  });
  afterAll(() => t.close());

  const inboxSize = async (user: string) => (await t.execute(Inbox, {}, await t.token(user))).data?.notifications.edges.length;
  const emit = (critical: boolean | undefined, idempotencyKey?: string) =>
    t.execute(
      EmitCritical,
      {
        input: {
          recipientIds: ['crit-new', 'crit-off', 'crit-muter'],
          title: 'New sign-in',
          category: 'security',
          critical,
          idempotencyKey,
        },
      },
      producer,
    );

  it('is suppressed by preferences without `critical`, and stored for everyone with it', async () => {
    const plain = await emit(undefined);
    expect(plain.data?.emitNotification).toMatchObject({ deliveredCount: 1, suppressedCount: 2 });
    const critical = await emit(true);
    expect(critical.errors).toBeUndefined();
    expect(critical.data?.emitNotification).toEqual({
      deliveredCount: 3,
      suppressedCount: 0,
      deliveries: [
        { recipientId: 'crit-new', status: 'DELIVERED', reason: null, bypassed: null, channels: { email: true } },
        { recipientId: 'crit-off', status: 'DELIVERED', reason: null, bypassed: 'DISABLED', channels: { email: true } },
        { recipientId: 'crit-muter', status: 'DELIVERED', reason: null, bypassed: 'CATEGORY_MUTED', channels: { email: true } },
      ],
    });
    expect([await inboxSize('crit-new'), await inboxSize('crit-off'), await inboxSize('crit-muter')]).toEqual([2, 1, 1]);
  });

  it('goes through the keyed path the same way (idempotency keys): delivered once, a retry is a duplicate', async () => {
    const first = await emit(true, 'sign-in-42');
    expect(first.data?.emitNotification.deliveries.map((d) => [d.status, d.bypassed])).toEqual([
      ['DELIVERED', null],
      ['DELIVERED', 'DISABLED'],
      ['DELIVERED', 'CATEGORY_MUTED'],
    ]);
    const retry = await emit(true, 'sign-in-42');
    expect(retry.data?.emitNotification.deliveries.map((d) => d.status)).toEqual(['DUPLICATE', 'DUPLICATE', 'DUPLICATE']);
    expect([await inboxSize('crit-off'), await inboxSize('crit-muter')]).toEqual([2, 2]);
  });
});
