import { describe, expect, it } from 'vitest';
import { isNewerVersion, judgePosition, judgeResume } from '../../src/delivery/sequencer.ts';
import { Stream, type StreamEvent, type StreamKind } from '../../src/delivery/stream.ts';
import type { InboxMessage } from '../../src/domain/messages.ts';
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
  const stream = new Stream({ maxQueuedEvents: 100, detach() {} }, 'u', kind);
  stream.lastSeq = lastSeq;
  stream.lastVersion = lastVersion;
  stream.attach({ event: (e) => events.push(e), end() {}, fail() {}, drained: () => Promise.resolve() });
  return { stream, events, seqs: () => events.flatMap((e) => (e.type === 'added' ? [e.notification.seq] : [])) };
}

const added = (v: number, ...seqs: number[]): InboxMessage => ({ v, unread: v, added: seqs.map((s) => wireNotification('u', s)) });

describe('a stream applies live messages through the sequencer', () => {
  it('delivers positions in order exactly once: a re-sent message and the overlap of a later one are dropped', () => {
    const { stream, seqs } = collecting('added', 0);
    expect(stream.apply(added(1, 1))).toBe(false);
    expect(stream.apply(added(1, 1))).toBe(false);
    expect(stream.apply(added(3, 1, 2, 3))).toBe(false);
    expect(seqs()).toEqual([1, 2, 3]);
    expect(stream.lastSeq).toBe(3);
  });

  it('reports a gap and delivers nothing past it (the database read fills it)', () => {
    const { stream, seqs } = collecting('added', 2);
    expect(stream.apply(added(5, 3, 5))).toBe(true);
    expect(seqs()).toEqual([3]);
    expect(stream.lastSeq).toBe(3);
    expect(stream.apply(added(6, 6))).toBe(true);
    expect(stream.lastSeq).toBe(3);
  });

  it('inbox streams get changes and the count once per newer version; stale versions are dropped', () => {
    const { stream, events } = collecting('inbox', 1, 1);
    const change = (v: number): InboxMessage => ({
      v,
      unread: 10 - v,
      unseen: 20 - v,
      changed: { change: 'READ', items: [{ id: 'n1', seq: 1, readAt: '2026-01-01T00:00:00.000Z', archivedAt: null }] },
    });
    stream.apply(change(2));
    stream.apply(change(2));
    stream.apply(change(1));
    expect(events.map((e) => e.type)).toEqual(['changed', 'unread']);
    expect(events[1]).toEqual({ type: 'unread', unreadCount: 8, unseenCount: 18 });
    expect(stream.lastVersion).toBe(2);
  });

  it('keep the last unseen count for a message of an instance that predates it (a rolling upgrade)', () => {
    const { stream, events } = collecting('inbox', 1, 1);
    stream.apply({ v: 2, unread: 3, unseen: 2 });
    stream.apply({ v: 3, unread: 4 });
    expect(events).toEqual([
      { type: 'unread', unreadCount: 3, unseenCount: 2 },
      { type: 'unread', unreadCount: 4, unseenCount: 2 },
    ]);
  });

  it('notificationAdded streams ignore changes and counts', () => {
    const { stream, events } = collecting('added', 1, 1);
    stream.apply({ v: 2, unread: 0, changed: { change: 'DELETED', items: [{ id: 'n1', seq: 1, readAt: null, archivedAt: null }] } });
    expect(events).toEqual([]);
    expect(stream.lastVersion).toBe(2);
  });

  it('rows read from the database are delivered only when not delivered already', () => {
    const { stream, seqs } = collecting('added', 2);
    const row = (seq: number) => ({ ...wireNotification('u', seq), readAt: null, seenAt: null, archivedAt: null, createdAt: new Date(0) });
    stream.deliverStored(row(2));
    stream.deliverStored(row(3));
    stream.deliverStored(row(3));
    expect(seqs()).toEqual([3]);
  });
});
