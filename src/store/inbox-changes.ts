/**
 * The inbox's bulk changes to `notification` rows (read, unread, seen, archived, unarchived, deleted).
 * The domain (notifications/inbox.ts) runs them in one transaction after locking the user's
 * inbox_state row (store/inbox-state.ts) and moves the unread count from the rows' old state.
 */
import type { Sql } from '../db/index.ts';
import type { ChangeKind } from '../domain/messages.ts';
import { NOTIFICATION_COLUMNS, type NotificationRow } from './notifications.ts';

/** A changed row in its new state (for DELETED: as it was), and its read, seen and archived times before the change. */
export interface ChangedRow extends NotificationRow {
  old_read_at: Date | null;
  old_seen_at: Date | null;
  old_archived_at: Date | null;
}

const prefixed = (alias: string) =>
  NOTIFICATION_COLUMNS.split(', ')
    .map((c) => `${alias}.${c}`)
    .join(', ');

/**
 * An update that sets `set` on the rows matching `when` (`o` is the row before the change): rows
 * already in the wanted state are not changed, so they are neither counted nor published.
 */
const update = (set: string, when: string) => `UPDATE notification n SET ${set} FROM notification o
  WHERE o.id = n.id AND n.recipient_id = $1 AND n.id = ANY($2::uuid[]) AND ${when}
  RETURNING ${prefixed('n')}, o.read_at AS old_read_at, o.seen_at AS old_seen_at, o.archived_at AS old_archived_at`;

const RETURNING_OLD = `RETURNING ${prefixed('n')}, n.read_at AS old_read_at, n.seen_at AS old_seen_at, n.archived_at AS old_archived_at`;

/** The statement of each action, made once (fixed texts: named prepared statements, see db/sql.ts). */
const CHANGE_SQL: Record<ChangeKind, string> = {
  // Reading sees too: a notification read in one tab leaves the other tabs' bell badge.
  READ: update('read_at = now(), seen_at = COALESCE(n.seen_at, now())', 'o.read_at IS NULL'),
  UNREAD: update('read_at = NULL', 'o.read_at IS NOT NULL'),
  SEEN: update('seen_at = now()', 'o.seen_at IS NULL'),
  ARCHIVED: update('archived_at = now()', 'o.archived_at IS NULL'),
  UNARCHIVED: update('archived_at = NULL', 'o.archived_at IS NOT NULL'),
  DELETED: `DELETE FROM notification n WHERE n.recipient_id = $1 AND n.id = ANY($2::uuid[]) ${RETURNING_OLD}`,
};

/** Locks those of `ids` that are the user's notifications (in id order, against deadlocks); returns their ids. */
export async function lockNotifications(tx: Sql, userId: string, ids: readonly string[]): Promise<string[]> {
  const rows = await tx.query<{ id: string }>(
    'SELECT id FROM notification WHERE recipient_id = $1 AND id = ANY($2::uuid[]) ORDER BY id FOR UPDATE',
    [userId, ids],
  );
  return rows.map((r) => r.id);
}

/** Applies `action` to the user's notifications among `ids`; returns the rows it changed. */
export function changeNotificationRows(tx: Sql, userId: string, ids: readonly string[], action: ChangeKind): Promise<ChangedRow[]> {
  return tx.query<ChangedRow>(CHANGE_SQL[action], [userId, ids]);
}

/** Marks every unread notification of the user read (archived ones included); returns the rows changed. */
export function markUnreadRowsRead(tx: Sql, userId: string): Promise<ChangedRow[]> {
  return tx.query<ChangedRow>(
    `UPDATE notification n SET read_at = now(), seen_at = COALESCE(n.seen_at, now()) FROM notification o
      WHERE o.id = n.id AND n.recipient_id = $1 AND n.read_at IS NULL
      RETURNING ${prefixed('n')}, o.read_at AS old_read_at, o.seen_at AS old_seen_at, o.archived_at AS old_archived_at`,
    [userId],
  );
}

/** Marks every unseen notification of the user seen (archived ones included); returns the rows changed. */
export function markUnseenRowsSeen(tx: Sql, userId: string): Promise<ChangedRow[]> {
  return tx.query<ChangedRow>(
    `UPDATE notification n SET seen_at = now() FROM notification o
      WHERE o.id = n.id AND n.recipient_id = $1 AND n.seen_at IS NULL
      RETURNING ${prefixed('n')}, o.read_at AS old_read_at, o.seen_at AS old_seen_at, o.archived_at AS old_archived_at`,
    [userId],
  );
}
