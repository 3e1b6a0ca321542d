import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ResultQueue } from '../../src/pipeline/result-queue.ts';

type Item = { kind: 'update' | 'other'; id: string; n: number };

const drain = (q: ResultQueue<Item>) => {
  const out: Item[] = [];
  for (let item = q.shift(); item !== undefined; item = q.shift()) out.push(item);
  return out;
};

describe('results waiting for a slow consumer', () => {
  it('keeps only the latest waiting update of a notification, at its own place; everything else in order', () => {
    const q = new ResultQueue<Item>();
    const push = (item: Item) => q.push(item, item.kind === 'update' ? item.id : undefined);
    push({ kind: 'other', id: 'a', n: 1 }); // the addition
    push({ kind: 'update', id: 'a', n: 2 }); // 10%
    push({ kind: 'other', id: 'counts', n: 3 });
    push({ kind: 'update', id: 'b', n: 4 });
    push({ kind: 'update', id: 'a', n: 5 }); // 20%: 10% is dropped
    push({ kind: 'update', id: 'a', n: 6 }); // 30%: 20% is dropped
    expect(drain(q).map((i) => i.n)).toEqual([1, 3, 4, 6]);
    // Once sent, an update is no longer waiting: the next one of the same notification goes too.
    push({ kind: 'update', id: 'a', n: 7 });
    expect(q.shift()?.n).toBe(7);
    push({ kind: 'update', id: 'a', n: 8 });
    expect(drain(q).map((i) => i.n)).toEqual([8]);
  });

  it('a client applying what it receives ends with what it would from every result (the latest state per notification)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ kind: fc.constantFrom('update' as const, 'other' as const), id: fc.constantFrom('a', 'b', 'c') }), {
          maxLength: 50,
        }),
        fc.array(fc.boolean(), { maxLength: 50 }),
        (events, sends) => {
          const q = new ResultQueue<Item>();
          const all: Item[] = [];
          const received: Item[] = [];
          events.forEach((e, n) => {
            const item = { ...e, n };
            all.push(item);
            q.push(item, item.kind === 'update' ? item.id : undefined);
            if (sends[n]) {
              const next = q.shift();
              if (next) received.push(next);
            }
          });
          received.push(...drain(q));
          // Order kept, nothing but updates left out, and of each notification's updates the last always arrives.
          expect(received.map((i) => i.n)).toEqual([...received.map((i) => i.n)].sort((x, y) => x - y));
          expect(received.filter((i) => i.kind === 'other')).toEqual(all.filter((i) => i.kind === 'other'));
          for (const id of ['a', 'b', 'c']) {
            expect(received.filter((i) => i.kind === 'update' && i.id === id).at(-1)).toEqual(
              all.filter((i) => i.kind === 'update' && i.id === id).at(-1),
            );
          }
        },
      ),
    );
  });
});
