import { describe, expect, it } from 'vitest';
import { type AddedMessage, addToMessage, type InboxMessage, packFanout, sortAdded, unpackFanout } from '../../src/domain/messages.ts';
import { wireNotification as wire } from '../helpers/wire.ts';

/** What a fan-out turns into on the receiving instance: JSON over Redis, then unpacked. */
const overTheWire = (entries: [string, InboxMessage][]) => unpackFanout(JSON.parse(JSON.stringify(packFanout(entries))));

describe('fan-out messages travel packed: shared content once, per-recipient fields each', () => {
  it('arrive exactly as sent, whatever their mix of contents, additions and changes', () => {
    const shared = { campaign: 'spring', tags: ['a', 'b'] };
    const entries: [string, InboxMessage][] = [
      ['u1', { v: 3, unread: 2, added: [wire('u1', 1, { data: shared }), wire('u1', 2, { title: 'other title', data: shared })] }],
      ['u2', { v: 1, unread: 1, added: [wire('u2', 7, { data: shared, category: 'billing' })] }],
      [
        'u3',
        {
          v: 9,
          unread: 0,
          added: [wire('u3', 4, { body: 'another body', type: 'SYSTEM_NOTICE', data: { campaign: 'spring', tags: ['a', 'b'] } })],
        },
      ],
      [
        'u4',
        {
          v: 5,
          unread: 4,
          changed: { change: 'READ', items: [{ id: 'x', seq: 2, readAt: '2026-01-01T00:00:00.000Z', archivedAt: null }] },
        },
      ],
      ['u5', { v: 2, unread: 1, added: [wire('u5', 1, { readAt: '2026-01-01T00:00:00.000Z', archivedAt: '2026-01-02T00:00:00.000Z' })] }],
    ];
    expect(overTheWire(entries)).toEqual(JSON.parse(JSON.stringify(entries)));
  });

  it('sends the content of a bulk emit once, not once per recipient', () => {
    const body = 'x'.repeat(128);
    const data = { link: 'https://example.test/offer' };
    const entries: [string, InboxMessage][] = Array.from({ length: 1000 }, (_, i) => [
      `user-${i}`,
      { v: i, unread: 1, added: [wire(`user-${i}`, i + 1, { body, data })] },
    ]);
    const packed = JSON.stringify(packFanout(entries));
    expect(packed.split(body).length - 1).toBe(1);
    expect(packed.split('example.test').length - 1).toBe(1);
    expect(packed.length).toBeLessThan(JSON.stringify(entries).length / 2);
    expect(overTheWire(entries)).toEqual(JSON.parse(JSON.stringify(entries)));
  });

  it("sends a bulk emit's link and actor once, and tells apart emits that differ only in them", () => {
    const actor = { id: 'ada', name: 'Ada Lovelace', avatarUrl: 'https://cdn.example.test/ada.png' };
    const entries: [string, InboxMessage][] = Array.from({ length: 100 }, (_, i) => [
      `user-${i}`,
      {
        v: i,
        unread: 1,
        added: [wire(`user-${i}`, i + 1, { url: '/invoices/42', actor }), wire(`user-${i}`, i + 2, { url: '/invoices/43', actor })],
      },
    ]);
    const packed = JSON.stringify(packFanout(entries));
    expect(packed.split('cdn.example.test').length - 1).toBe(2);
    expect(overTheWire(entries)).toEqual(JSON.parse(JSON.stringify(entries)));
  });

  it('reads the five-element templates of an instance that predates url and actor (a rolling upgrade)', () => {
    const [entry] = unpackFanout({
      t: [['title', 'body', 'ALERT', null, null]],
      e: [['u1', 1, 1, [[0, 'id-1', 1, '2026-01-01T00:00:00.000Z', null, null]], null]],
    });
    expect(entry?.[0]).toBe('u1');
    expect(entry?.[1].added?.[0]).toMatchObject({ title: 'title', url: null, actor: null });
  });
});

describe("a commit's additions: one message per user", () => {
  it("spans the positions the commit took: additions and updates, ending at the newest, with the last statement's counts", () => {
    const messages = new Map<string, AddedMessage>();
    // The keyed strategy's two statements: updates first (version 4), then additions (version 5).
    addToMessage(messages, wire('u1', 2, { changeSeq: 9 }), { v: 4, unread: 1, unseen: 1, lastSeq: 9 }, true);
    addToMessage(messages, wire('u1', 10), { v: 5, unread: 2, unseen: 2, lastSeq: 10 });
    sortAdded(messages.values());
    expect(messages.get('u1')).toMatchObject({ v: 5, unread: 2, unseen: 2, p: [8, 10] });
  });

  it('carry positions and updates through a packed fan-out, and read entries of instances before them', () => {
    const entries: [string, InboxMessage][] = [
      [
        'u1',
        {
          v: 2,
          unread: 1,
          unseen: 1,
          p: [4, 6],
          added: [wire('u1', 5, { changeSeq: 5, progress: null, taskState: null, updatedAt: null, expiresAt: null })],
          updated: [
            wire('u1', 1, {
              changeSeq: 6,
              progress: 0.5,
              taskState: 'RUNNING',
              updatedAt: '2026-01-01T00:00:00.000Z',
              expiresAt: '2026-02-01T00:00:00.000Z',
            }),
          ],
        },
      ],
      [
        'u2',
        {
          v: 3,
          unread: 0,
          unseen: 0,
          p: [1, 2],
          changed: { change: 'READ', items: [{ id: 'x', seq: 1, pos: 2, readAt: null, archivedAt: null }] },
        },
      ],
      ['u3', { v: 1, unread: 1 }],
    ];
    expect(overTheWire(entries)).toEqual(JSON.parse(JSON.stringify(entries)));
  });

  it("groups each user's notifications with the user's inbox after the commit, in position order", () => {
    const messages = new Map<string, AddedMessage>();
    addToMessage(messages, wire('u1', 5), { v: 7, unread: 3, unseen: 2, lastSeq: 5 });
    addToMessage(messages, wire('u2', 1), { v: 1, unread: 1, unseen: 1, lastSeq: 1 });
    addToMessage(messages, wire('u1', 4), { v: 7, unread: 3, unseen: 2, lastSeq: 5 });
    sortAdded(messages.values());
    expect([...messages]).toEqual([
      ['u1', { v: 7, unread: 3, unseen: 2, p: [3, 5], added: [wire('u1', 4), wire('u1', 5)] }],
      ['u2', { v: 1, unread: 1, unseen: 1, p: [0, 1], added: [wire('u2', 1)] }],
    ]);
  });

  it('refuses a fan-out that names a template it does not hold', () => {
    expect(() => unpackFanout({ t: [], e: [['u1', 1, 1, [[0, 'id', 1, '2026-01-01T00:00:00.000Z', null, null]], null]] })).toThrow(
      'fan-out names template 0 of 0',
    );
  });
});
