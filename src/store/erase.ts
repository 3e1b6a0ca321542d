/**
 * Deleting every row of one user (eraseUser): the tables that hold a user id are `notification`
 * (recipient_id; its idempotency and update keys live in the same rows), `notification_tombstone`
 * (recipient_id), `inbox_state`, `inbox_count` and `notification_preference` (user_id). A table added with a user id belongs here too.
 */
import type { Sql } from '../db/index.ts';
import { deleteCountRows } from './inbox-count.ts';

/** How many rows of each table an erasure deleted. */
export interface ErasedRows {
  notifications: number;
  inboxStates: number;
  preferences: number;
}

/**
 * Deletes the user's rows; run inside a transaction. The inbox_state row goes first, as emits and
 * inbox changes lock it first (one lock order, no deadlock): an emit racing the erasure then
 * waits for it and starts a new inbox, or commits before it and is erased with the rest.
 */
export async function deleteUserRows(tx: Sql, userId: string): Promise<ErasedRows> {
  const states = await tx.query<{ n: number }>(
    'WITH d AS (DELETE FROM inbox_state WHERE user_id = $1 RETURNING 1) SELECT count(*)::int AS n FROM d',
    [userId],
  );
  const notifications = await tx.query<{ n: number }>(
    'WITH d AS (DELETE FROM notification WHERE recipient_id = $1 RETURNING 1) SELECT count(*)::int AS n FROM d',
    [userId],
  );
  await tx.query('DELETE FROM notification_tombstone WHERE recipient_id = $1', [userId]);
  // The triggers brought the user's count rows to zero with the notifications; the rows go too.
  await deleteCountRows(tx, userId);
  const preferences = await tx.query<{ n: number }>(
    'WITH d AS (DELETE FROM notification_preference WHERE user_id = $1 RETURNING 1) SELECT count(*)::int AS n FROM d',
    [userId],
  );
  return {
    notifications: Number(notifications[0]?.n ?? 0),
    inboxStates: Number(states[0]?.n ?? 0),
    preferences: Number(preferences[0]?.n ?? 0),
  };
}
