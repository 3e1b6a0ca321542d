import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Archive, Delete, EmitKeyed, MarkAllRead, MarkAllSeen, MarkRead, MarkSeen, MarkUnread, Unarchive } from '../documents.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { BACKENDS } from '../helpers/backends.ts';
import { comparable, fetchInbox, LocalInbox } from '../helpers/local-inbox.ts';

/** What a user, a producer or a tab does next. */
type Action =
  | { k: 'emit' }
  | { k: 'update'; key: number; progress: number; markUnread: boolean }
  | { k: 'change'; change: (typeof CHANGES)[number]; pick: number; n: number }
  | { k: 'all'; which: 'read' | 'seen' }
  | { k: 'tab'; tab: 0 | 1; via: 'after' | 'header' };

const CHANGES = ['read', 'unread', 'seen', 'archive', 'unarchive', 'delete'] as const;

const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ k: 'emit' as const }) },
  {
    weight: 3,
    arbitrary: fc.record({
      k: fc.constant('update' as const),
      key: fc.integer({ min: 0, max: 2 }),
      progress: fc.double({ min: 0, max: 1, noNaN: true }),
      markUnread: fc.boolean(),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      k: fc.constant('change' as const),
      change: fc.constantFrom(...CHANGES),
      pick: fc.nat(),
      n: fc.integer({ min: 1, max: 3 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('all' as const), which: fc.constantFrom('read' as const, 'seen' as const) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      k: fc.constant('tab' as const),
      tab: fc.constantFrom(0 as const, 1 as const),
      via: fc.constantFrom('after' as const, 'header' as const),
    }),
  },
);

// The guarantee (README, Guarantees): a client that applies inboxEvents to the page it fetched
// ends with exactly what a fresh fetch returns. Random interleavings of emits, updates in place,
// reads, archives, deletions and reconnects, two tabs; after catching up, each tab's notifications,
// badges and position equal a fresh fetch. On PostgreSQL + Redis, two instances: the second tab
// listens on the other one, and writes go to either.
describe.each(BACKENDS)('convergence (%s)', (backend) => {
  let t: TestApp;
  let other: TestApp;
  let producer: string;
  let run = 0;
  beforeAll(async () => {
    t = await startTestApp(backend);
    other = backend === 'postgres+redis' ? await startTestApp(backend, {}, { beside: t }) : t;
    producer = await t.producerToken();
  });
  afterAll(async () => {
    if (other !== t) await other.close();
    await t.close();
  });

  it('every tab converges to a fresh fetch, whatever happened while it was connected or away', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 5, maxLength: 30 }), async (actions) => {
        const user = `converge-${backend}-${++run}`;
        const token = await t.token(user);
        const alive: string[] = [];
        let writes = 0;
        /** The instance the next write goes to (alternating, when there are two). */
        const on = () => (writes++ % 2 === 0 ? t : other);
        const emit = async (input: { key?: string; progress?: number; markUnread?: boolean }) => {
          const r = await on().execute(
            EmitKeyed,
            { input: { recipientIds: [user], title: `t${alive.length}`, body: 'b', ...input } },
            producer,
          );
          const d = r.data?.emitNotification.deliveries[0];
          if (!d?.notification) throw new Error(`emit failed: ${JSON.stringify(r.errors)}`);
          if (d.status === 'DELIVERED') alive.push(d.notification.id);
        };
        const change = (kind: (typeof CHANGES)[number], ids: string[]) => {
          const at = on();
          switch (kind) {
            case 'read':
              return at.execute(MarkRead, { ids }, token);
            case 'unread':
              return at.execute(MarkUnread, { ids }, token);
            case 'seen':
              return at.execute(MarkSeen, { ids }, token);
            case 'archive':
              return at.execute(Archive, { ids }, token);
            case 'unarchive':
              return at.execute(Unarchive, { ids }, token);
            case 'delete':
              return at.execute(Delete, { ids }, token);
          }
        };
        await emit({});
        const start = await fetchInbox(t, token);
        const tabs = [new LocalInbox(t, token, start), new LocalInbox(other, token, start)] as const;
        await Promise.all(tabs.map((tab) => tab.connect()));
        try {
          for (const a of actions) {
            if (a.k === 'emit') await emit({});
            else if (a.k === 'update') await emit({ key: `task-${a.key}`, progress: a.progress, markUnread: a.markUnread });
            else if (a.k === 'all' && a.which === 'read') await on().execute(MarkAllRead, {}, token);
            else if (a.k === 'all') await on().execute(MarkAllSeen, {}, token);
            else if (a.k === 'tab') {
              const tab = tabs[a.tab];
              if (tab.connected) await tab.disconnect();
              else await tab.connect(a.via);
            } else if (alive.length > 0) {
              const ids = [...new Set(Array.from({ length: a.n }, (_, i) => alive[(a.pick + i * 7) % alive.length] ?? ''))];
              const r = await change(a.change, ids);
              if (r.errors) throw new Error(`${a.change} failed: ${JSON.stringify(r.errors)}`);
              if (a.change === 'delete') for (const id of ids) alive.splice(alive.indexOf(id), 1);
            }
          }
          await Promise.all(tabs.map((tab) => tab.connect()));
          const fresh = await fetchInbox(t, token);
          for (const tab of tabs) {
            await tab.reached(fresh.cursor);
            expect(tab.errors).toEqual([]);
            expect(comparable(tab.view)).toEqual(comparable(fresh));
          }
        } finally {
          await Promise.all(tabs.map((tab) => tab.disconnect()));
        }
      }),
      { numRuns: Number(process.env.CONVERGENCE_RUNS ?? 12) },
    );
  }, 240_000);
});
