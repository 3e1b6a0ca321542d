/**
 * The inbox's two badges, as one rule: a notification counts as unread while it is unread and
 * unseen while it is unseen, and neither while it is archived. Every change (read, unread, seen,
 * archived, unarchived, deleted) moves the counts by what its rows counted for after minus before,
 * so no action needs a rule of its own.
 */
export interface Counts {
  unread: number;
  unseen: number;
}

/** A notification's state as far as the counts go. */
export interface CountedState {
  readAt: Date | string | null;
  seenAt: Date | string | null;
  archivedAt: Date | string | null;
}

export const NO_COUNTS: Counts = { unread: 0, unseen: 0 };

/** What one notification counts for. */
export function countsOf(n: CountedState): Counts {
  const listed = n.archivedAt === null;
  return { unread: listed && n.readAt === null ? 1 : 0, unseen: listed && n.seenAt === null ? 1 : 0 };
}

/** How much a change moves the counts: each row's counts after (none for a deleted row) minus before. */
export function countsDelta(rows: readonly { before: CountedState; after: CountedState | null }[]): Counts {
  let unread = 0;
  let unseen = 0;
  for (const { before, after } of rows) {
    const was = countsOf(before);
    const is = after === null ? NO_COUNTS : countsOf(after);
    unread += is.unread - was.unread;
    unseen += is.unseen - was.unseen;
  }
  return { unread, unseen };
}
