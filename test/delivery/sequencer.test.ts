import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isNewerVersion, judgePosition, judgeRange, judgeResume } from '../../src/delivery/sequencer.ts';
import { Stream, type StreamEvent, type StreamKind } from '../../src/delivery/stream.ts';
import { encodeCursor } from '../../src/domain/cursor.ts';
import { fromWire, type InboxMessage } from '../../src/domain/messages.ts';
import { wireNotification } from '../helpers/wire.ts';

describe('sequencer: each incoming position against the last delivered', () => {
  it('delivers the next position, drops one already delivered, stops at one past a missing position', () => {
    expect(judgePosition(0, 1)).toBe('deliver');
    expect(judgePosition(41, 42)).toBe('deliver');
    expect(judgePosition(42, 42)).toBe('duplicate');
    expect(judgePosition(42, 7)).toBe('duplicate');
    expect(judgePosition(42, 44)).toBe('gap');
    expect(judgePosition(0, 2)).toBe('gap');
  });

  it("judges a transaction's range: the next one applies, one reached already is dropped, one past a missing position is a gap", () => {
    expect(judgeRange(0, 0, 1)).toBe('deliver');
    expect(judgeRange(5, 5, 9)).toBe('deliver');
    expect(judgeRange(9, 5, 9)).toBe('duplicate');
    expect(judgeRange(12, 5, 9)).toBe('duplicate');
    expect(judgeRange(5, 6, 9)).toBe('gap');
    // Overlapping the stream's position: not one transaction's, so the database decides.
    expect(judgeRange(7, 5, 9)).toBe('gap');
  });

  it('any order of re-sent, delayed and lost transactions, filled from the log at each gap, reaches the head once', () => {
    // A log of transactions taking 1 to 3 positions each; the bus delivers any sequence of them
    // (duplicates, reordering, losses); a gap reads the log, which moves the stream to its head.
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 30 }),
        fc.array(fc.nat(), { maxLength: 60 }),
        (sizes, picks) => {
          const ranges: [number, number][] = [];
          let head = 0;
          for (const k of sizes) {
            ranges.push([head, head + k]);
            head += k;
          }
          let last = 0;
          const applied: number[] = [];
          const take = (from: number, to: number) => {
            for (let p = from + 1; p <= to; p++) applied.push(p);
            last = to;
          };
          for (const pick of picks) {
            const [from, to] = ranges[pick % ranges.length] as [number, number];
            const verdict = judgeRange(last, from, to);
            if (verdict === 'deliver') take(from, to);
            else if (verdict === 'gap') take(last, Math.max(to, last)); // the database read, up to (at least) this one
          }
          take(last, head); // the sweep
          expect(applied).toEqual(Array.from({ length: head }, (_, i) => i + 1));
        },
      ),
    );
  });

  it('applies only newer inbox versions', () => {
    expect(isNewerVersion(3, 4)).toBe(true);
    expect(isNewerVersion(3, 3)).toBe(false);
    expect(isNewerVersion(3, 2)).toBe(false);
  });

  it('resumes within [pruned, newest]; an unknown (future) or pruned position is refused', () => {
    const state = { lastSeq: 10, prunedThroughSeq: 4 };
    expect(judgeResume(10, state)).toBe('ok');
    expect(judgeResume(4, state)).toBe('ok');
    expect(judgeResume(11, state)).toBe('unknown');
    expect(judgeResume(3, state)).toBe('expired');
    expect(judgeResume(0, { lastSeq: 0, prunedThroughSeq: 0 })).toBe('ok');
  });
});

/** A stream with no hub behind it, whose pushed events are collected. */
function collecting(kind: StreamKind, lastSeq: number, lastVersion = lastSeq) {
  const events: StreamEvent[] = [];
  const stream = new Stream({ maxQueuedEvents: 100, detach() {}, readViewCounts() {} }, 'u', kind);
  stream.lastSeq = lastSeq;
  stream.lastVersion = lastVersion;
  stream.attach({ event: (e) => events.push(e), end() {}, fail() {}, drained: () => Promise.resolve() });
  return { stream, events, seqs: () => events.flatMap((e) => (e.type === 'added' ? [e.notification.seq] : [])) };
}

const added = (v: number, ...seqs: number[]): InboxMessage => ({ v, unread: v, added: seqs.map((s) => wireNotification('u', s)) });
/** A transaction of the log: the positions after `from` to `to`, its events, the inbox version after it. */
const tx = (from: number, to: number, message: Partial<InboxMessage> = {}): InboxMessage => ({
  v: to,
  unread: 0,
  unseen: 0,
  p: [from, to],
  ...message,
});
const readAt = '2026-01-01T00:00:00.000Z';

describe('a stream applies live messages through the sequencer', () => {
  it('applies each transaction of the log once, in order, whatever took its positions: additions, updates, changes', () => {
    const { stream, events } = collecting('inbox', 0, 0);
    const n1 = wireNotification('u', 1, { changeSeq: 1 });
    expect(stream.apply(tx(0, 1, { added: [n1] }))).toBe(false);
    expect(
      stream.apply(
        tx(1, 3, {
          changed: {
            change: 'READ',
            items: [
              { id: 'a', seq: 1, pos: 2, readAt, archivedAt: null },
              { id: 'b', seq: 1, pos: 3, readAt, archivedAt: null },
            ],
          },
        }),
      ),
    ).toBe(false);
    expect(stream.apply(tx(1, 3))).toBe(false); // re-sent: dropped
    expect(stream.apply(tx(3, 4, { updated: [wireNotification('u', 1, { changeSeq: 4, progress: 0.5 })] }))).toBe(false);
    expect(events.map((e) => [e.type, e.cursor])).toEqual([
      ['added', encodeCursor(1)],
      ['unread', encodeCursor(1)],
      ['changed', encodeCursor(2)],
      ['changed', encodeCursor(3)],
      ['unread', encodeCursor(3)],
      ['updated', encodeCursor(4)],
      ['unread', encodeCursor(4)],
    ]);
    expect(stream.lastSeq).toBe(4);
  });

  it('reports a gap when a transaction starts past the stream, and applies nothing of it (the database read covers it)', () => {
    const { stream, events } = collecting('inbox', 2, 2);
    expect(stream.apply(tx(3, 5, { added: [wireNotification('u', 4), wireNotification('u', 5)] }))).toBe(true);
    expect(events).toEqual([]);
    expect(stream.lastSeq).toBe(2);
  });

  it('notificationAdded streams move past changes and updates without events, and deliver the additions after them', () => {
    const { stream, seqs, events } = collecting('added', 0, 0);
    stream.apply(tx(0, 1, { added: [wireNotification('u', 1)] }));
    stream.apply(tx(1, 2, { changed: { change: 'READ', items: [{ id: 'x', seq: 1, pos: 2, readAt, archivedAt: null }] } }));
    stream.apply(tx(2, 3, { updated: [wireNotification('u', 1, { changeSeq: 3 })] }));
    expect(stream.apply(tx(3, 4, { added: [wireNotification('u', 4)] }))).toBe(false);
    expect(seqs()).toEqual([1, 4]);
    expect(events.every((e) => e.type === 'added')).toBe(true);
  });

  it('a transaction mixing additions and updates is delivered in position order', () => {
    const { stream, events } = collecting('inbox', 0, 0);
    stream.apply(
      tx(0, 3, {
        added: [wireNotification('u', 1), wireNotification('u', 3)],
        updated: [wireNotification('u', 0, { id: 'old', changeSeq: 2 })],
      }),
    );
    expect(events.filter((e) => e.type !== 'unread').map((e) => [e.type, e.cursor])).toEqual([
      ['added', encodeCursor(1)],
      ['updated', encodeCursor(2)],
      ['added', encodeCursor(3)],
    ]);
  });
});

describe('a stream replays what it read from the log', () => {
  it('a notification added after the position the read began at is an addition, one the client had is an update; deletions carry their position', () => {
    const { stream, events } = collecting('inbox', 5, 5);
    stream.deliverLatest(fromWire(wireNotification('u', 3, { changeSeq: 7 })), 7, 5);
    stream.deliverLatest(fromWire(wireNotification('u', 8, { changeSeq: 9 })), 9, 5);
    stream.deliverDeleted('gone', 10);
    expect(events.map((e) => [e.type, e.cursor])).toEqual([
      ['updated', encodeCursor(7)],
      ['added', encodeCursor(9)],
      ['changed', encodeCursor(10)],
    ]);
    expect(events[2]).toMatchObject({ change: 'DELETED', notificationId: 'gone' });
  });
});

describe('messages without positions (retention; instances before the log, during a rolling upgrade)', () => {
  it('deliver additions by their own positions exactly once: a re-sent message and the overlap of a later one are dropped', () => {
    const { stream, seqs } = collecting('added', 0);
    expect(stream.apply(added(1, 1))).toBe(false);
    expect(stream.apply(added(1, 1))).toBe(false);
    expect(stream.apply(added(3, 1, 2, 3))).toBe(false);
    expect(seqs()).toEqual([1, 2, 3]);
    expect(stream.lastSeq).toBe(3);
  });

  it('report a gap and deliver nothing past it (the database read fills it)', () => {
    const { stream, seqs } = collecting('added', 2);
    expect(stream.apply(added(5, 3, 5))).toBe(true);
    expect(seqs()).toEqual([3]);
    expect(stream.lastSeq).toBe(3);
    expect(stream.apply(added(6, 6))).toBe(true);
    expect(stream.lastSeq).toBe(3);
  });

  it('inbox streams get changes and the count once per newer version, at the stream position; stale versions are dropped', () => {
    const { stream, events } = collecting('inbox', 1, 1);
    const change = (v: number): InboxMessage => ({
      v,
      unread: 10 - v,
      unseen: 20 - v,
      changed: { change: 'READ', items: [{ id: 'n1', seq: 1, readAt, archivedAt: null }] },
    });
    stream.apply(change(2));
    stream.apply(change(2));
    stream.apply(change(1));
    expect(events.map((e) => e.type)).toEqual(['changed', 'unread']);
    expect(events[1]).toEqual({ type: 'unread', cursor: encodeCursor(1), unreadCount: 8, unseenCount: 18 });
    expect(stream.lastVersion).toBe(2);
  });

  it('keep the last unseen count for a message of an instance that predates it', () => {
    const { stream, events } = collecting('inbox', 1, 1);
    stream.apply({ v: 2, unread: 3, unseen: 2 });
    stream.apply({ v: 3, unread: 4 });
    expect(events).toEqual([
      { type: 'unread', cursor: encodeCursor(1), unreadCount: 3, unseenCount: 2 },
      { type: 'unread', cursor: encodeCursor(1), unreadCount: 4, unseenCount: 2 },
    ]);
  });

  it('notificationAdded streams ignore changes and counts', () => {
    const { stream, events } = collecting('added', 1, 1);
    stream.apply({ v: 2, unread: 0, changed: { change: 'DELETED', items: [{ id: 'n1', seq: 1, readAt: null, archivedAt: null }] } });
    expect(events).toEqual([]);
    expect(stream.lastVersion).toBe(2);
  });
});
