import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from '../../src/domain/cursor.ts';

describe('cursors: a position, opaque', () => {
  it('round-trip every position, from 0 to the largest 15-digit one', () => {
    for (const seq of [0, 1, 42, 2 ** 31, 999_999_999_999_999]) expect(decodeCursor(encodeCursor(seq))).toBe(seq);
    expect(encodeCursor(10n)).toBe(encodeCursor(10));
  });

  it('are opaque base64url text, not the number', () => {
    const c = encodeCursor(123);
    expect(c).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(c).not.toContain('123');
  });

  it.each([
    ['empty', ''],
    ['not base64 of a cursor', 'hello'],
    ['another prefix', Buffer.from('h2:5').toString('base64url')],
    ['a negative position', Buffer.from('h1:-5').toString('base64url')],
    ['a fraction', Buffer.from('h1:1.5').toString('base64url')],
    ['too many digits', Buffer.from('h1:1234567890123456').toString('base64url')],
    ['a leading zero (two spellings of one position)', Buffer.from('h1:05').toString('base64url')],
    ['padding (two spellings of one position)', `${encodeCursor(1)}=`],
    ['longer than 64 characters', 'a'.repeat(65)],
  ])('refuse %s with BAD_USER_INPUT naming the argument', (_name, cursor) => {
    let error: unknown;
    try {
      decodeCursor(cursor, 'before');
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', argument: 'before' } });
  });
});
