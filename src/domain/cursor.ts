import { badInput } from '../errors.ts';

/**
 * The one cursor of the API: a user's position (per-user sequence number), encoded opaquely.
 * The same string is a Relay edge cursor, `Notification.cursor`, the SSE `id:` line and the
 * `streamCursor` of the inbox, so any of them can be handed to a subscription's `after`.
 */
const PREFIX = 'h1:';

export function encodeCursor(seq: number | bigint): string {
  return Buffer.from(`${PREFIX}${seq}`).toString('base64url');
}

/** Decodes a cursor, or throws BAD_USER_INPUT for anything that is not one. */
export function decodeCursor(cursor: string, argument = 'after'): number {
  const text = cursor.length <= 64 ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  const match = /^h1:(\d{1,15})$/.exec(text);
  if (!match || encodeCursor(Number(match[1])) !== cursor) {
    throw badInput(`"${argument}" is not a valid cursor`, { argument });
  }
  return Number(match[1]);
}
