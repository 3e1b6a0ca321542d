/** Retention's statements: forgetting old notifications without breaking counts or cursors. */
import type { Sql } from '../db/index.ts';

/** A user whose inbox lost notifications to retention: their new unread count and state version. */
export interface PrunedInbox {
  user_id: string;
  unread_count: number;
  version: bigint;
  /** Notifications of this user deleted. */
  n: number;
}

/**
 * Deletes up to `limit` notifications created before `cutoff` (rows another transaction holds are
 * skipped, not waited for), and in the same statement lowers each user's unread count by the
 * unread ones deleted and records the highest position pruned (older cursors then expire).
 */
export function pruneNotifications(sql: Sql, cutoff: Date, limit: number): Promise<PrunedInbox[]> {
  return sql.query<PrunedInbox>(
    `WITH doomed AS (
       SELECT id FROM notification WHERE created_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED
     ),
     del AS (
       DELETE FROM notification n USING doomed d WHERE n.id = d.id
       RETURNING n.recipient_id, n.seq, (n.read_at IS NULL AND n.archived_at IS NULL) AS unread
     ),
     agg AS (
       SELECT recipient_id, max(seq) AS max_seq, count(*) FILTER (WHERE unread)::int AS unread, count(*)::int AS n
       FROM del GROUP BY recipient_id
     )
     UPDATE inbox_state s SET
       pruned_through_seq = GREATEST(s.pruned_through_seq, agg.max_seq),
       unread_count = s.unread_count - agg.unread,
       version = s.version + 1
     FROM agg WHERE s.user_id = agg.recipient_id
     RETURNING s.user_id, s.unread_count, s.version, agg.n`,
    [cutoff, limit],
  );
}

/** Forgets the idempotency keys of notifications created before `before` (a retry then delivers again). */
export async function releaseIdempotencyKeys(sql: Sql, before: Date): Promise<void> {
  await sql.query('UPDATE notification SET idempotency_key = NULL WHERE idempotency_key IS NOT NULL AND created_at < $1', [before]);
}
