/**
 * The repository of `inbox_state`, one row per user: the newest position, the exact unread and unseen counts,
 * the inbox version (orders count and change events) and the highest pruned position. Raw SQL
 * through `Sql`, like every hot path (see store/notifications.ts).
 */
import type { Sql } from '../db/index.ts';
import type { Counts } from '../domain/counts.ts';

/** A user's inbox state; a user without a row (nothing ever stored) reads as all zeros. */
export interface InboxState {
  lastSeq: number;
  unreadCount: number;
  unseenCount: number;
  version: number;
  prunedThroughSeq: number;
}

interface InboxStateRow {
  last_seq: bigint | string;
  unread_count: number;
  unseen_count: number;
  version: bigint | string;
  pruned_through_seq: bigint | string;
}

/** One user's state (a primary-key read). */
export async function readInboxState(sql: Sql, userId: string): Promise<InboxState> {
  const rows = await sql.query<InboxStateRow>(
    'SELECT last_seq, unread_count, unseen_count, version, pruned_through_seq FROM inbox_state WHERE user_id = $1',
    [userId],
  );
  const row = rows[0];
  return {
    lastSeq: Number(row?.last_seq ?? 0),
    unreadCount: row?.unread_count ?? 0,
    unseenCount: row?.unseen_count ?? 0,
    version: Number(row?.version ?? 0),
    prunedThroughSeq: Number(row?.pruned_through_seq ?? 0),
  };
}

/** The exact unread and unseen counts (of unarchived notifications): no COUNT(*). */
export async function readCounts(sql: Sql, userId: string): Promise<Counts> {
  const rows = await sql.query<{ unread_count: number; unseen_count: number }>(
    'SELECT unread_count, unseen_count FROM inbox_state WHERE user_id = $1',
    [userId],
  );
  return { unread: rows[0]?.unread_count ?? 0, unseen: rows[0]?.unseen_count ?? 0 };
}

/** The newest position of each of these users that has a row (the catch-up sweep's one query per chunk). */
export async function readLastSeqs(sql: Sql, userIds: readonly string[]): Promise<{ userId: string; lastSeq: number }[]> {
  const rows = await sql.query<{ user_id: string; last_seq: bigint | string }>(
    'SELECT user_id, last_seq FROM inbox_state WHERE user_id = ANY($1::text[])',
    [userIds],
  );
  return rows.map((r) => ({ userId: r.user_id, lastSeq: Number(r.last_seq) }));
}

/**
 * Locks the user's row until the transaction ends, so concurrent emits, reads and other tabs
 * serialise on it and the unread count stays exact. Undefined when the user has no row (nothing
 * was ever stored for them).
 */
export async function lockInboxState(tx: Sql, userId: string): Promise<{ version: number; lastSeq: number } | undefined> {
  const [row] = await tx.query<{ version: bigint | string; last_seq: bigint | string }>(
    'SELECT version, last_seq FROM inbox_state WHERE user_id = $1 FOR UPDATE',
    [userId],
  );
  return row === undefined ? undefined : { version: Number(row.version), lastSeq: Number(row.last_seq) };
}

/** The state after a change, as its change event carries it. */
export interface InboxCount {
  unreadCount: number;
  unseenCount: number;
  version: number;
  /** The user's newest position after the change. */
  lastSeq: number;
}

/**
 * Moves the counts by `delta`, advances the user's sequence by the `positions` the change took
 * and the version; the row must be locked (lockInboxState).
 */
export async function moveCounts(tx: Sql, userId: string, delta: Counts, positions: number): Promise<InboxCount> {
  const [row] = await tx.query<CountRow>(
    `UPDATE inbox_state SET unread_count = unread_count + $2, unseen_count = unseen_count + $3, last_seq = last_seq + $4,
            version = version + 1, updated_at = now()
      WHERE user_id = $1 RETURNING unread_count, unseen_count, version, last_seq`,
    [userId, delta.unread, delta.unseen, positions],
  );
  // The callers hold the row's lock, so the UPDATE finds it; should it not, throwing rolls the
  // change back rather than publishing a count nobody stored.
  if (row === undefined) throw new Error(`inbox_state row of ${userId} vanished while locked`);
  return { unreadCount: row.unread_count, unseenCount: row.unseen_count, version: Number(row.version), lastSeq: Number(row.last_seq) };
}

interface CountRow {
  unread_count: number;
  unseen_count: number;
  version: bigint | string;
  last_seq: bigint | string;
}
