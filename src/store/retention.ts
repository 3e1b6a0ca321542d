/** Retention's statements: forgetting old notifications without breaking counts or cursors. */
import type { Sql } from '../db/index.ts';

/** A user whose inbox lost notifications to retention: their new counts and state version. */
export interface PrunedInbox {
  user_id: string;
  unread_count: number;
  unseen_count: number;
  version: bigint;
  /** Notifications of this user deleted. */
  n: number;
}

/**
 * Deletes up to `limit` notifications created before `cutoff` (rows another transaction holds are
 * skipped, not waited for), and in the same statement lowers each user's counts by what the
 * deleted ones counted for and records the highest position pruned: a notification's latest
 * change (`change_seq`) is gone with it, so cursors before it expire (a replay from them could not
 * report it). Retention takes no position: its deletions are not replayed.
 */
export function pruneNotifications(sql: Sql, cutoff: Date, limit: number): Promise<PrunedInbox[]> {
  return sql.query<PrunedInbox>(
    `WITH doomed AS (
       SELECT id FROM notification WHERE created_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED
     ),
     del AS (
       DELETE FROM notification n USING doomed d WHERE n.id = d.id
       RETURNING n.recipient_id, GREATEST(n.seq, n.change_seq) AS pos, (n.read_at IS NULL AND n.archived_at IS NULL) AS unread,
                 (n.seen_at IS NULL AND n.archived_at IS NULL) AS unseen
     ),
     agg AS (
       SELECT recipient_id, max(pos) AS max_seq, count(*) FILTER (WHERE unread)::int AS unread,
              count(*) FILTER (WHERE unseen)::int AS unseen, count(*)::int AS n
       FROM del GROUP BY recipient_id
     )
     UPDATE inbox_state s SET
       pruned_through_seq = GREATEST(s.pruned_through_seq, agg.max_seq),
       unread_count = s.unread_count - agg.unread,
       unseen_count = s.unseen_count - agg.unseen,
       version = s.version + 1
     FROM agg WHERE s.user_id = agg.recipient_id
     RETURNING s.user_id, s.unread_count, s.unseen_count, s.version, agg.n`,
    [cutoff, limit],
  );
}

/**
 * Deletes up to `limit` tombstones of deletions made before `cutoff` and records, per user, the
 * highest position pruned (a replay from an older cursor could no longer report the deletion).
 * Returns how many were deleted.
 */
export async function pruneTombstones(sql: Sql, cutoff: Date, limit: number): Promise<number> {
  const rows = await sql.query<{ n: number }>(
    `WITH doomed AS (
       SELECT recipient_id, seq FROM notification_tombstone WHERE deleted_at < $1 LIMIT $2
     ),
     del AS (
       DELETE FROM notification_tombstone t USING doomed d WHERE t.recipient_id = d.recipient_id AND t.seq = d.seq
       RETURNING t.recipient_id, t.seq
     ),
     agg AS (SELECT recipient_id, max(seq) AS max_seq, count(*)::int AS n FROM del GROUP BY recipient_id),
     upd AS (
       UPDATE inbox_state s SET pruned_through_seq = GREATEST(s.pruned_through_seq, agg.max_seq)
       FROM agg WHERE s.user_id = agg.recipient_id RETURNING 1
     )
     SELECT COALESCE(sum(n), 0)::int AS n FROM agg`,
    [cutoff, limit],
  );
  return Number(rows[0]?.n ?? 0);
}

/** Forgets the idempotency keys of notifications created before `before` (a retry then delivers again). */
export async function releaseIdempotencyKeys(sql: Sql, before: Date): Promise<void> {
  await sql.query(
    'UPDATE notification SET idempotency_key = NULL WHERE idempotency_key IS NOT NULL AND COALESCE(updated_at, created_at) < $1',
    [before],
  );
}
