import type { NotificationRecord } from '../domain/model.ts';
import { isRetriableTransactionError } from '../errors.ts';
import { dueNotifications, takeExpiryLease } from '../store/expiry.ts';
import { changeNotificationRows } from '../store/inbox-changes.ts';
import { type InboxCount, lockInboxState, moveCounts } from '../store/inbox-state.ts';
import { fromRow } from '../store/notifications.ts';
import { type ChangeDeps, deltaOf, publishChange } from './inbox.ts';

/** Notifications one scan transaction expires at most (the scan goes on while it finds this many). */
export const EXPIRY_BATCH = 1_000;

/**
 * Expires what is due: on the instance that holds the lease (one scan at a time across the
 * deployment), up to EXPIRY_BATCH notifications whose `expires_at` has passed, oldest first, in
 * one transaction. Each leaves as a deletion does (a tombstone at the next position of its
 * recipient's log, the counts moved, the count rows by their triggers), and is published after
 * commit as EXPIRED. No timer per notification: the database's index on the time is the schedule.
 */
export async function expireDue(deps: ChangeDeps): Promise<{ leased: boolean; expired: number; more: boolean }> {
  const outcome = await deps.sql.transaction(async (tx) => {
    if (!(await takeExpiryLease(tx))) return { leased: false, changes: [], more: false };
    const due = await dueNotifications(tx, EXPIRY_BATCH);
    const changes: { userId: string; rows: NotificationRecord[]; count: InboxCount }[] = [];
    for (const { userId, ids } of due) {
      const state = await lockInboxState(tx, userId);
      if (state === undefined) continue;
      const rows = await changeNotificationRows(tx, userId, ids, 'EXPIRED', state.lastSeq);
      if (rows.length === 0) continue;
      changes.push({ userId, rows: rows.map(fromRow), count: await moveCounts(tx, userId, deltaOf('EXPIRED', rows), rows.length) });
    }
    return { leased: true, changes, more: due.reduce((n, d) => n + d.ids.length, 0) >= EXPIRY_BATCH };
  });
  for (const c of outcome.changes) await publishChange(deps, c.userId, 'EXPIRED', c.rows, c.count);
  return { leased: outcome.leased, expired: outcome.changes.reduce((n, c) => n + c.rows.length, 0), more: outcome.more };
}

/**
 * Runs the expiry scan every `intervalMs` on this instance (each run tries the lease; the
 * instance that gets it scans): a notification leaves at most about `intervalMs` after its
 * `expiresAt`, plus the scan's own time. Returns a stop function.
 */
export function startExpiry(deps: ChangeDeps & { intervalMs: number }): () => void {
  let running = false;
  const run = async () => {
    if (running) return;
    running = true;
    try {
      for (;;) {
        const r = await expireDue(deps).catch((error: unknown) => {
          if (isRetriableTransactionError(error)) return { more: true, expired: 0 };
          throw error;
        });
        if (r.expired > 0) deps.log.debug({ expired: r.expired }, 'expired notifications');
        if (!r.more) break;
      }
    } catch (error) {
      deps.log.warn({ err: (error as Error).message }, 'expiry scan failed; the next one retries');
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void run(), deps.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
