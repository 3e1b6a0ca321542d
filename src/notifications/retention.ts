import type { Sql } from '../db/index.ts';
import type { Bus } from '../delivery/bus.ts';
import { isRetriableTransactionError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { type PrunedInbox, pruneNotifications, pruneTombstones, releaseIdempotencyKeys } from '../store/retention.ts';

export interface RetentionOptions {
  sql: Sql;
  bus: Bus;
  log: Logger;
  retentionDays: number;
  idempotencyTtlHours: number;
  batchSize?: number;
}

/**
 * Deletes notifications and deletion tombstones older than the retention window, in batches,
 * keeping each user's counts exact and recording the highest pruned position (older cursors then
 * get CURSOR_EXPIRED).
 * Also releases idempotency keys past their TTL. Returns how many notifications were pruned.
 */
export async function pruneExpired(options: RetentionOptions, now = new Date()): Promise<number> {
  const cutoff = new Date(now.getTime() - options.retentionDays * 86_400_000);
  const batchSize = options.batchSize ?? 5_000;
  let total = 0;
  for (;;) {
    let rows: PrunedInbox[];
    try {
      rows = await pruneNotifications(options.sql, cutoff, batchSize);
    } catch (error) {
      if (isRetriableTransactionError(error)) continue;
      throw error;
    }
    if (rows.length === 0) break;
    total += rows.reduce((sum, r) => sum + Number(r.n), 0);
    for (const r of rows) {
      void options.bus.publish(r.user_id, { v: Number(r.version), unread: r.unread_count, unseen: r.unseen_count }).catch(() => {});
    }
  }
  for (;;) {
    let n: number;
    try {
      n = await pruneTombstones(options.sql, cutoff, batchSize);
    } catch (error) {
      if (isRetriableTransactionError(error)) continue;
      throw error;
    }
    if (n < batchSize) break;
  }
  await releaseIdempotencyKeys(options.sql, new Date(now.getTime() - options.idempotencyTtlHours * 3_600_000));
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
