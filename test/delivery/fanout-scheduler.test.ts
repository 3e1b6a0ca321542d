import { describe, expect, it } from 'vitest';
import { FanoutScheduler } from '../../src/delivery/fanout.ts';
import type { InboxMessage } from '../../src/domain/messages.ts';

const m = (v: number): InboxMessage => ({ v, unread: 0 });

describe('fan-out scheduling keeps bus order', () => {
  it('hands a fan-out out a chunk per tick, holding messages that arrive meanwhile behind it', async () => {
    const seen: string[] = [];
    const local = new Set(['a', 'b', 'c', 'd', 'e']);
    const s = new FanoutScheduler<string>(
      (u) => (local.has(u) ? u : undefined),
      (u, message) => seen.push(`${u}${message.v}`),
      2,
    );
    s.fanout(['a', 'b', 'x', 'c', 'd'].map((u) => [u, m(1)] as const));
    expect(seen).toEqual(['a1', 'b1']); // the first chunk at once; 'x' is not local
    s.message('a', m(2)); // arrives while the fan-out is handed out: held
    s.fanout([['e', m(3)]]);
    s.message('b', m(4));
    expect(seen).toEqual(['a1', 'b1']);
    await new Promise((r) => setTimeout(r, 0));
    expect(seen).toEqual(['a1', 'b1', 'c1', 'd1', 'a2', 'e3', 'b4']);
    s.message('c', m(5)); // nothing in progress: delivered at once
    expect(seen.at(-1)).toBe('c5');
  });
});
