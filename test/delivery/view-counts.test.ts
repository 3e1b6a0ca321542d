import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Stream, type StreamEvent } from '../../src/delivery/stream.ts';
import { encodeCursor } from '../../src/domain/cursor.ts';
import type { InboxMessage } from '../../src/domain/messages.ts';
import type { NotificationType } from '../../src/domain/model.ts';
import { type CountRow, type CountView, countViews, type ViewCounts } from '../../src/domain/views.ts';

const counts = (total: number): ViewCounts[] => [{ name: 'inbox', total, unread: total, unseen: total }];
const tx = (from: number, to: number): InboxMessage => ({ v: to, unread: 0, unseen: 0, p: [from, to] });

/** A stream with views and no hub: its view reads are counted, its events collected. */
function withViews(lastSeq: number) {
  const events: StreamEvent[] = [];
  const reads = { n: 0 };
  const stream = new Stream(
    {
      maxQueuedEvents: 100,
      detach() {},
      readViewCounts() {
        reads.n++;
      },
    },
    'u',
    'inbox',
  );
  stream.views = [{ name: 'inbox', filter: { archived: false, types: [], categories: [] } }];
  stream.lastSeq = lastSeq;
  stream.lastVersion = lastSeq;
  stream.attach({ event: (e) => events.push(e), end() {}, fail() {}, drained: () => Promise.resolve() });
  const viewEvents = () => events.flatMap((e) => (e.type === 'counts' ? [[e.cursor, e.counts[0]?.total]] : []));
  return { stream, events, reads, viewEvents };
}

describe('a stream with views sends each count read at its own position', () => {
  it('sends counts read where the stream is at once, and only when they moved', () => {
    const { stream, viewEvents } = withViews(5);
    stream.offerViewCounts(5, counts(2));
    stream.offerViewCounts(5, counts(2));
    stream.offerViewCounts(5, counts(3));
    expect(viewEvents()).toEqual([
      [encodeCursor(5), 2],
      [encodeCursor(5), 3],
    ]);
  });

  it('holds counts read ahead of the stream until it reaches that position, after the events before it', () => {
    const { stream, events, reads, viewEvents } = withViews(5);
    stream.offerViewCounts(7, counts(4));
    expect(viewEvents()).toEqual([]);
    stream.apply(tx(5, 6));
    expect(viewEvents()).toEqual([]);
    stream.apply(tx(6, 7));
    expect(viewEvents()).toEqual([[encodeCursor(7), 4]]);
    // The badges of the transaction that ends at 7 come first, then the views' counts at 7.
    expect(events.map((e) => [e.type, e.cursor]).slice(-2)).toEqual([
      ['unread', encodeCursor(7)],
      ['counts', encodeCursor(7)],
    ]);
    // Each applied message asks for a read (the message does not carry the views' counts).
    expect(reads.n).toBe(2);
  });

  it('drops counts read at a position the stream is already past (a later read follows)', () => {
    const { stream, viewEvents } = withViews(5);
    stream.apply(tx(5, 8));
    stream.offerViewCounts(6, counts(1));
    stream.offerViewCounts(8, counts(9));
    expect(viewEvents()).toEqual([[encodeCursor(8), 9]]);
  });

  it('while reading the database (its events run ahead of its position), holds counts until the read ends there', () => {
    const { stream, viewEvents } = withViews(5);
    stream.catchingUp = true;
    stream.offerViewCounts(5, counts(1));
    expect(viewEvents()).toEqual([]);
    // The read ended at 5: they are exact there (nothing was read beyond).
    stream.viewsMoved();
    expect(viewEvents()).toEqual([[encodeCursor(5), 1]]);
  });
});

const TYPES: NotificationType[] = ['ALERT', 'UPDATE', 'PROMOTION'];
const state = fc.record({
  category: fc.constantFrom('a', 'b', null),
  type: fc.constantFrom(...TYPES),
  archived: fc.boolean(),
  read: fc.boolean(),
  seen: fc.boolean(),
});
const filter = fc.record({
  unread: fc.constantFrom(true, false, undefined),
  archived: fc.boolean(),
  types: fc.subarray(TYPES),
  categories: fc.subarray(['a', 'b', 'c']),
});

describe('countViews (pure)', () => {
  it('equals counting the notifications one by one, for any filter', () => {
    fc.assert(
      fc.property(fc.array(state, { maxLength: 60 }), fc.array(filter, { minLength: 1, maxLength: 5 }), (notifications, filters) => {
        const views: CountView[] = filters.map((f, i) => ({ name: `v${i}`, filter: f }));
        const grouped = new Map<string, CountRow>();
        for (const n of notifications) {
          const key = JSON.stringify(n);
          const row = grouped.get(key);
          if (row) row.n++;
          else grouped.set(key, { ...n, n: 1 });
        }
        const expected = views.map(({ name, filter: f }) => {
          const listed = notifications.filter(
            (n) =>
              n.archived === f.archived &&
              (f.unread === undefined || n.read !== f.unread) &&
              (f.types.length === 0 || f.types.includes(n.type)) &&
              (f.categories.length === 0 || (n.category !== null && f.categories.includes(n.category))),
          );
          return { name, total: listed.length, unread: listed.filter((n) => !n.read).length, unseen: listed.filter((n) => !n.seen).length };
        });
        expect(countViews(views, [...grouped.values()])).toEqual(expected);
      }),
    );
  });
});
