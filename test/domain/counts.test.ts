import { describe, expect, it } from 'vitest';
import { type CountedState, countsDelta, countsOf } from '../../src/domain/counts.ts';

const T = '2026-12-03T00:00:00.000Z';
const state = (s: Partial<CountedState> = {}): CountedState => ({ readAt: null, seenAt: null, archivedAt: null, ...s });

describe('the unread and unseen counts', () => {
  it('count an unarchived notification while it is unread and while it is unseen', () => {
    expect(countsOf(state())).toEqual({ unread: 1, unseen: 1 });
    expect(countsOf(state({ seenAt: T }))).toEqual({ unread: 1, unseen: 0 });
    expect(countsOf(state({ readAt: T, seenAt: T }))).toEqual({ unread: 0, unseen: 0 });
    expect(countsOf(state({ archivedAt: T }))).toEqual({ unread: 0, unseen: 0 });
  });

  it('move by what the changed rows count for after minus before, for every kind of change', () => {
    const fresh = state();
    const seen = state({ seenAt: T });
    const read = state({ readAt: T, seenAt: T });
    const archived = state({ archivedAt: T });
    // Read (reading sees), seen, unread (stays seen), archived, unarchived, deleted.
    expect(countsDelta([{ before: fresh, after: read }])).toEqual({ unread: -1, unseen: -1 });
    expect(countsDelta([{ before: fresh, after: seen }])).toEqual({ unread: 0, unseen: -1 });
    expect(countsDelta([{ before: read, after: seen }])).toEqual({ unread: 1, unseen: 0 });
    expect(countsDelta([{ before: fresh, after: archived }])).toEqual({ unread: -1, unseen: -1 });
    expect(countsDelta([{ before: archived, after: fresh }])).toEqual({ unread: 1, unseen: 1 });
    expect(countsDelta([{ before: seen, after: null }])).toEqual({ unread: -1, unseen: 0 });
    // Archived rows count for nothing, whatever else changes on them.
    expect(countsDelta([{ before: archived, after: state({ archivedAt: T, readAt: T, seenAt: T }) }])).toEqual({ unread: 0, unseen: 0 });
    expect(
      countsDelta([
        { before: fresh, after: read },
        { before: seen, after: read },
        { before: read, after: null },
      ]),
    ).toEqual({ unread: -2, unseen: -1 });
  });
});
