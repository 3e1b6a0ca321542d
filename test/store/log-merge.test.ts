import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type LogEntry, mergeLog } from '../../src/store/notifications.ts';

const deleted = (pos: number): LogEntry => ({ kind: 'deleted', pos, id: `d${pos}`, seq: 0 });

describe('a page of the log from its two branches (changed notifications, deletions)', () => {
  it('pages through any two sets of positions in order, each position once, whatever the page size', () => {
    // Model the two branches over sets of distinct positions; each read takes `limit` of each after the cursor.
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: 200 }), { maxLength: 60 }),
        fc.integer({ min: 1, max: 10 }),
        (positions, limit) => {
          const sorted = [...positions].sort((a, b) => a - b);
          const half = sorted.filter((_, i) => i % 3 === 0);
          const rest = sorted.filter((_, i) => i % 3 !== 0);
          const read: number[] = [];
          let after = 0;
          for (let pages = 0; pages < 1000; pages++) {
            const branch = (xs: number[]) =>
              xs
                .filter((p) => p > after)
                .slice(0, limit)
                .map(deleted);
            const page = mergeLog(branch(half), branch(rest), limit);
            for (const e of page.items) read.push(e.pos);
            if (!page.more) break;
            after = page.items.at(-1)?.pos ?? after;
          }
          expect(read).toEqual(sorted);
        },
      ),
    );
  });

  it('ends a page at the limit when a branch was cut there (the other may hold later positions)', () => {
    expect(mergeLog([deleted(1), deleted(2), deleted(9)], [deleted(3)], 3)).toEqual({
      items: [deleted(1), deleted(2), deleted(3)],
      more: true,
    });
    expect(mergeLog([deleted(1)], [deleted(3)], 3)).toEqual({ items: [deleted(1), deleted(3)], more: false });
  });
});
