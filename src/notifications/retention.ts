import type { PrismaClient } from '../db/index.ts';
import type { Bus } from '../delivery/bus.ts';
import { isRetriableTransactionError } from '../errors.ts';
import type { Logger } from '../logger.ts';

export interface RetentionOptions {
  prisma: PrismaClient;
  bus: Bus;
  log: Logger;
  retentionDays: number;
  idempotencyTtlHours: number;
  batchSize?: number;
}

/**
 * Deletes notifications older than the retention window, in batches, keeping each user's unread
 * count exact and recording the highest pruned position (older cursors then get CURSOR_EXPIRED).
 * Also releases idempotency keys past their TTL. Returns how many notifications were pruned.
 */
export async function pruneExpired(options: RetentionOptions, now = new Date()): Promise<number> {
  const cutoff = new Date(now.getTime() - options.retentionDays * 86_400_000);
  const batchSize = options.batchSize ?? 5_000;
  let total = 0;
  for (;;) {
    let rows: { user_id: string; unread_count: number; version: bigint; n: number }[];
    try {
      rows = await options.prisma.$queryRawUnsafe(
        `WITH doomed AS (
           SELECT id FROM notification WHERE created_at < $1 LIMIT ${batchSize} FOR UPDATE SKIP LOCKED
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
        cutoff,
      );
    } catch (error) {
      if (isRetriableTransactionError(error)) continue;
      throw error;
    }
    if (rows.length === 0) break;
    total += rows.reduce((sum, r) => sum + Number(r.n), 0);
    for (const r of rows) {
      void options.bus.publish(r.user_id, { v: Number(r.version), unread: r.unread_count }).catch(() => {});
    }
  }
  await options.prisma.$executeRawUnsafe(
    `UPDATE notification SET idempotency_key = NULL WHERE idempotency_key IS NOT NULL AND created_at < $1`,
    new Date(now.getTime() - options.idempotencyTtlHours * 3_600_000),
  );
  if (total > 0) options.log.info({ pruned: total, cutoff }, 'retention: pruned old notifications');
  return total;
}

/** Runs pruneExpired now and then every `intervalMs`; returns a stop function. */
export function startRetention(options: RetentionOptions & { intervalMs: number }): () => void {
  const run = () => pruneExpired(options).catch((error: Error) => options.log.warn({ err: error.message }, 'retention run failed'));
  const first = setTimeout(run, 1_000);
  const timer = setInterval(run, options.intervalMs);
  first.unref();
  timer.unref();
  return () => {
    clearTimeout(first);
    clearInterval(timer);
  };
}
