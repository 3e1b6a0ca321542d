/**
 * The inbox's bulk changes to `notification` rows (read, unread, seen, archived, unarchived, deleted).
 * The domain (notifications/inbox.ts) runs them in one transaction after locking the user's
 * inbox_state row (store/inbox-state.ts), then advances the user's sequence by the rows changed
 * (each took a position) and moves the counts from the rows' old state.
 */
import type { Sql } from '../db/index.ts';
import type { ChangeKind } from '../domain/messages.ts';
import type { ViewFilter } from '../domain/views.ts';
import { NOTIFICATION_COLUMNS, type NotificationRow } from './notifications.ts';

/**
 * A changed row in its new state (for DELETED: as it was, with `change_seq` the deletion's
 * position), and its read, seen and archived times before the change.
 */
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
 * already in the wanted state are not changed, so they take no position and are neither counted
 * nor published. Each changed row takes the next position after `from` (the user's last position,
 * the inbox_state row locked), in the order of their own positions. `$1` is the user; with `ids`,
 * `$2` the ids and `$3` the position, else `$2` the position.
 */
const update = (set: string, when: string, ids: boolean) => {
  const from = ids ? '$3' : '$2';
  return `WITH t AS (
    SELECT o.id, o.read_at, o.seen_at, o.archived_at, ${from}::bigint + row_number() OVER (ORDER BY o.seq) AS pos
      FROM notification o WHERE o.recipient_id = $1${ids ? ' AND o.id = ANY($2::uuid[])' : ''} AND ${when}
  )
  UPDATE notification n SET ${set}, change_seq = t.pos FROM t
  WHERE n.id = t.id
  RETURNING ${prefixed('n')}, t.read_at AS old_read_at, t.seen_at AS old_seen_at, t.archived_at AS old_archived_at`;
};

/**
 * A deletion leaves a tombstone at the position it took, so a replay reports it. `when` narrows
 * the rows deleted (an expiry deletes only what is still due: an update in place may have moved it).
 */
const deleteSql = (when: string) => `WITH d AS (
    DELETE FROM notification n WHERE n.recipient_id = $1 AND n.id = ANY($2::uuid[])${when} RETURNING ${prefixed('n')}
  ),
  t AS (
    INSERT INTO notification_tombstone (recipient_id, seq, notification_id, notification_seq)
    SELECT $1, $3::bigint + row_number() OVER (ORDER BY d.seq), d.id, d.seq FROM d
    RETURNING notification_id, seq
  )
  SELECT ${NOTIFICATION_COLUMNS.split(', ')
    .map((c) => (c === 'change_seq' ? 't.seq AS change_seq' : `d.${c}`))
    .join(', ')}, d.read_at AS old_read_at, d.seen_at AS old_seen_at, d.archived_at AS old_archived_at
  FROM d JOIN t ON t.notification_id = d.id`;

/** The statement of each action, made once (fixed texts: named prepared statements, see db/sql.ts). */
const CHANGE_SQL: Record<ChangeKind, string> = {
  // Reading sees too: a notification read in one tab leaves the other tabs' bell badge.
  READ: update('read_at = now(), seen_at = COALESCE(n.seen_at, now())', 'o.read_at IS NULL', true),
  UNREAD: update('read_at = NULL', 'o.read_at IS NOT NULL', true),
  SEEN: update('seen_at = now()', 'o.seen_at IS NULL', true),
  ARCHIVED: update('archived_at = now()', 'o.archived_at IS NULL', true),
  UNARCHIVED: update('archived_at = NULL', 'o.archived_at IS NOT NULL', true),
  DELETED: deleteSql(''),
  // An expired notification leaves as a deleted one does (a tombstone, the counts); only its push says why.
  EXPIRED: deleteSql(' AND n.expires_at <= now()'),
};

const MARK_ALL_READ = update('read_at = now(), seen_at = COALESCE(n.seen_at, now())', 'o.read_at IS NULL', false);
const MARK_ALL_SEEN = update('seen_at = now()', 'o.seen_at IS NULL', false);

/** Locks those of `ids` that are the user's notifications (in id order, against deadlocks); returns their ids. */
export async function lockNotifications(tx: Sql, userId: string, ids: readonly string[]): Promise<string[]> {
  const rows = await tx.query<{ id: string }>(
    'SELECT id FROM notification WHERE recipient_id = $1 AND id = ANY($2::uuid[]) ORDER BY id FOR UPDATE',
    [userId, ids],
  );
  return rows.map((r) => r.id);
}

/**
 * Applies `action` to the user's notifications among `ids`, the changed ones taking the positions
 * after `lastSeq` (the user's, locked); returns the rows it changed. The caller advances the
 * user's sequence by their number (moveCounts).
 */
export function changeNotificationRows(
  tx: Sql,
  userId: string,
  ids: readonly string[],
  action: ChangeKind,
  lastSeq: number,
): Promise<ChangedRow[]> {
  return tx.query<ChangedRow>(CHANGE_SQL[action], [userId, ids, lastSeq]);
}

/** Marks every unread notification of the user read (archived ones included); returns the rows changed. */
export function markUnreadRowsRead(tx: Sql, userId: string, lastSeq: number): Promise<ChangedRow[]> {
  return tx.query<ChangedRow>(MARK_ALL_READ, [userId, lastSeq]);
}

/** Marks every unseen notification of the user seen (archived ones included); returns the rows changed. */
export function markUnseenRowsSeen(tx: Sql, userId: string, lastSeq: number): Promise<ChangedRow[]> {
  return tx.query<ChangedRow>(MARK_ALL_SEEN, [userId, lastSeq]);
}

/** The changes a filter can apply to everything it selects. */
export type FilterChange = 'READ' | 'SEEN' | 'ARCHIVED';

/**
 * By filter: the rows a view lists ($3 archived, $4 unread or NULL for both, $5 types and $6
 * categories or NULL for all: the same selection as an inbox page) that the change moves, oldest
 * first, at most `limit` of them; each takes the next position after $2. `matched` says how many
 * matched, up to `limit` + 1, so the caller knows whether more remain.
 */
const byFilter = (set: string, when: string, limit: number) => `WITH c AS (
    SELECT o.id, o.seq, o.read_at, o.seen_at, o.archived_at FROM notification o
     WHERE o.recipient_id = $1 AND ${when} AND (o.archived_at IS NOT NULL) = $3 AND ($4::boolean IS NULL OR (o.read_at IS NULL) = $4)
       AND ($5::text[] IS NULL OR o.type::text = ANY($5::text[])) AND ($6::text[] IS NULL OR o.category = ANY($6::text[]))
     ORDER BY o.seq LIMIT ${limit + 1}
  ),
  t AS (SELECT c.*, $2::bigint + row_number() OVER (ORDER BY c.seq) AS pos FROM c ORDER BY c.seq LIMIT ${limit})
  UPDATE notification n SET ${set}, change_seq = t.pos FROM t
  WHERE n.id = t.id
  RETURNING ${prefixed('n')}, t.read_at AS old_read_at, t.seen_at AS old_seen_at, t.archived_at AS old_archived_at,
            (SELECT count(*) FROM c)::int AS matched`;

/** Rows one call by filter changes at most: one transaction and one bus message of at most this many changes. */
export const FILTER_CHANGE_LIMIT = 10_000;

const FILTER_SQL: Record<FilterChange, string> = {
  READ: byFilter('read_at = now(), seen_at = COALESCE(n.seen_at, now())', 'o.read_at IS NULL', FILTER_CHANGE_LIMIT),
  SEEN: byFilter('seen_at = now()', 'o.seen_at IS NULL', FILTER_CHANGE_LIMIT),
  ARCHIVED: byFilter('archived_at = now()', 'o.archived_at IS NULL', FILTER_CHANGE_LIMIT),
};

/**
 * Applies `action` to up to FILTER_CHANGE_LIMIT of the user's notifications that `filter` selects
 * and the action would change (oldest first), taking the positions after `lastSeq` (the user's,
 * locked). Returns the rows changed and whether more remain.
 */
export async function changeRowsByFilter(
  tx: Sql,
  userId: string,
  action: FilterChange,
  filter: ViewFilter,
  lastSeq: number,
): Promise<{ rows: ChangedRow[]; more: boolean }> {
  const rows = await tx.query<ChangedRow & { matched: number }>(FILTER_SQL[action], [
    userId,
    lastSeq,
    filter.archived,
    filter.unread ?? null,
    filter.types.length > 0 ? filter.types : null,
    filter.categories.length > 0 ? filter.categories : null,
  ]);
  return { rows, more: (rows[0]?.matched ?? 0) > FILTER_CHANGE_LIMIT };
}
