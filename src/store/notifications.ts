/**
 * The repository of the `notification` table's shared reads: by id, the positions after a given
 * one (live delivery's gap reads), and inbox pages. Emit's writes (emit-batch.ts) and the inbox's
 * bulk changes (inbox-changes.ts) map rows with the same `fromRow`.
 *
 * Data access: every statement here is raw SQL through `Sql` (see db/sql.ts: named prepared
 * statements on the `pg` pool), because these are the hot paths; Prisma's client stays for the
 * low-traffic single-row CRUD (preferences) and for the schema.
 */
import type { Sql } from '../db/index.ts';
import type { Actor, NotificationRecord, NotificationType, TaskState } from '../domain/model.ts';
import type { InboxState } from './inbox-state.ts';

/** A raw `notification` row as returned by `SELECT *` by a raw query (pg: BIGINT as string; PGlite: bigint). */
export interface NotificationRow {
  id: string;
  recipient_id: string;
  seq: bigint | number | string;
  change_seq: bigint | number | string;
  title: string;
  body: string;
  type: NotificationType;
  category: string | null;
  data: unknown;
  url: string | null;
  actor: Actor | null;
  read_at: Date | null;
  seen_at: Date | null;
  archived_at: Date | null;
  created_at: Date;
  progress: number | null;
  task_state: TaskState | null;
  updated_at: Date | null;
  expires_at: Date | null;
}

export const NOTIFICATION_COLUMNS =
  'id, recipient_id, seq, change_seq, title, body, type, category, data, url, actor, read_at, seen_at, archived_at, created_at, progress, task_state, updated_at, expires_at';

export function fromRow(row: NotificationRow): NotificationRecord {
  return {
    id: row.id,
    recipientId: row.recipient_id,
    seq: Number(row.seq),
    // 0: stored by an instance of the release before the log, which changed last when added.
    changeSeq: Number(row.change_seq) || Number(row.seq),
    title: row.title,
    body: row.body,
    type: row.type,
    category: row.category,
    data: row.data ?? null,
    url: row.url ?? null,
    actor: row.actor ?? null,
    readAt: row.read_at ? new Date(row.read_at) : null,
    seenAt: row.seen_at ? new Date(row.seen_at) : null,
    archivedAt: row.archived_at ? new Date(row.archived_at) : null,
    createdAt: new Date(row.created_at),
    progress: row.progress ?? null,
    taskState: row.task_state ?? null,
    updatedAt: row.updated_at ? new Date(row.updated_at) : null,
    expiresAt: row.expires_at ? new Date(row.expires_at) : null,
  };
}

/** One notification of the user, or null (a malformed id is the caller's to reject). */
export async function notificationById(sql: Sql, userId: string, id: string): Promise<NotificationRecord | null> {
  const rows = await sql.query<NotificationRow>(
    `SELECT ${NOTIFICATION_COLUMNS} FROM notification WHERE id = $1::uuid AND recipient_id = $2`,
    [id, userId],
  );
  return rows[0] ? fromRow(rows[0]) : null;
}

/** The head columns a log read returns beside its rows (the inbox state of the same snapshot). */
interface HeadColumns {
  head_seq: bigint | string | null;
  head_unread: number | null;
  head_unseen: number | null;
  head_version: bigint | string | null;
  head_pruned: bigint | string | null;
}

const HEAD = `SELECT s.last_seq AS head_seq, s.unread_count AS head_unread, s.unseen_count AS head_unseen, s.version AS head_version,
       s.pruned_through_seq AS head_pruned
  FROM (SELECT $1::text AS u) q LEFT JOIN inbox_state s ON s.user_id = q.u`;

function headOf(row: HeadColumns | undefined): InboxState {
  return {
    lastSeq: Number(row?.head_seq ?? 0),
    unreadCount: row?.head_unread ?? 0,
    unseenCount: row?.head_unseen ?? 0,
    version: Number(row?.head_version ?? 0),
    prunedThroughSeq: Number(row?.head_pruned ?? 0),
  };
}

/** A page of a log read, and the head: the user's inbox state in the same snapshot as the page. */
export interface LogPage<T> {
  /** The state when the first page was read; every later page is bounded by its `lastSeq`. */
  head: InboxState;
  items: T[];
  /** More items may follow the last one (read the next page after its position). */
  more: boolean;
}

/** Where a log read starts and ends: after `after`, up to `bound` (absent: the head of this snapshot). */
export interface LogQuery {
  after: number;
  bound?: number | undefined;
  limit: number;
}

/**
 * Up to `limit` of the user's additions after position `after`, oldest first, in their current
 * state (notificationAdded's replay and gap reads), with the head read in the same statement (one
 * snapshot): every transaction up to the head is either wholly in the page or not yet committed.
 */
export async function additionsAfter(sql: Sql, userId: string, q: LogQuery): Promise<LogPage<NotificationRecord>> {
  const rows = await sql.query<HeadColumns & NotificationRow>(
    `WITH h AS (${HEAD})
     SELECT h.*, n.* FROM h LEFT JOIN LATERAL (
       SELECT ${NOTIFICATION_COLUMNS} FROM notification
        WHERE recipient_id = $1 AND seq > $2 AND seq <= COALESCE($3::bigint, h.head_seq, 0) ORDER BY seq LIMIT ${Math.trunc(q.limit)}
     ) n ON true`,
    [userId, q.after, q.bound ?? null],
  );
  const items = rows.filter((r) => r.id !== null).map(fromRow);
  return { head: headOf(rows[0]), items, more: items.length === q.limit };
}

/** One entry of the changes after a cursor: a notification in its latest state, or a deletion. */
export type LogEntry =
  | { kind: 'notification'; pos: number; notification: NotificationRecord }
  | { kind: 'deleted'; pos: number; id: string; seq: number };

type TombstoneRow = { kind: 'n' | 'd'; pos: bigint | string; deleted_id: string | null } & NotificationRow;

/** The tombstone branch's columns, typed NULLs where a notification row has content. */
const TOMBSTONE_COLUMNS = NOTIFICATION_COLUMNS.split(', ')
  .map((c) => {
    if (c === 'id') return 't.notification_id AS id';
    if (c === 'recipient_id') return 't.recipient_id';
    if (c === 'seq') return 't.notification_seq AS seq';
    if (c === 'change_seq') return 't.seq AS change_seq';
    const type: Record<string, string> = {
      type: '"NotificationType"',
      data: 'jsonb',
      actor: 'jsonb',
      read_at: 'timestamptz',
      seen_at: 'timestamptz',
      archived_at: 'timestamptz',
      created_at: 'timestamptz',
      progress: 'double precision',
      task_state: '"TaskState"',
      updated_at: 'timestamptz',
      expires_at: 'timestamptz',
    };
    return `NULL::${type[c] ?? 'text'} AS ${c}`;
  })
  .join(', ');

/**
 * The changes of the user's inbox after position `after`, coalesced: each notification changed
 * after it once, in its latest state, at the position of its latest change, and each deletion
 * after it of a notification added at or before `since` (the client's cursor: one it never had is
 * not reported), in position order. Read with the head in one statement (one snapshot), bounded
 * by it, so a page never holds a state newer than the head it reports.
 */
export async function changesAfter(sql: Sql, userId: string, q: LogQuery & { since: number }): Promise<LogPage<LogEntry>> {
  const limit = Math.trunc(q.limit);
  const rows = await sql.query<HeadColumns & TombstoneRow>(
    `WITH h AS (${HEAD})
     SELECT h.*, c.* FROM h LEFT JOIN LATERAL (
       (SELECT 'n' AS kind, change_seq AS pos, ${NOTIFICATION_COLUMNS} FROM notification
         WHERE recipient_id = $1 AND change_seq > $2 AND change_seq <= COALESCE($3::bigint, h.head_seq, 0)
         ORDER BY change_seq LIMIT ${limit})
       UNION ALL
       (SELECT 'd', t.seq, ${TOMBSTONE_COLUMNS} FROM notification_tombstone t
         WHERE t.recipient_id = $1 AND t.seq > $2 AND t.seq <= COALESCE($3::bigint, h.head_seq, 0) AND t.notification_seq <= $4
         ORDER BY t.seq LIMIT ${limit})
     ) c ON true`,
    [userId, q.after, q.bound ?? null, q.since],
  );
  const notifications: LogEntry[] = [];
  const deletions: LogEntry[] = [];
  for (const r of rows) {
    if (r.id === null) continue;
    if (r.kind === 'n') notifications.push({ kind: 'notification', pos: Number(r.pos), notification: fromRow(r) });
    else deletions.push({ kind: 'deleted', pos: Number(r.pos), id: r.id, seq: Number(r.seq) });
  }
  return { head: headOf(rows[0]), ...mergeLog(notifications, deletions, limit) };
}

/**
 * One page of the log from its two branches (changed notifications, deletions), each read in
 * position order up to `limit`: merged by position. When a branch was cut at `limit`, the other
 * may hold entries past the cut one's last, which the next page (after the page's last) reads
 * again, so the page ends at the `limit`-th entry. Pure, for the tests.
 */
export function mergeLog(
  notifications: readonly LogEntry[],
  deletions: readonly LogEntry[],
  limit: number,
): { items: LogEntry[]; more: boolean } {
  const entries = [...notifications, ...deletions].sort((a, b) => a.pos - b.pos);
  const more = notifications.length >= limit || deletions.length >= limit;
  return { items: more ? entries.slice(0, limit) : entries, more };
}

/** What an inbox page selects; the domain validates it (inbox.ts). */
export interface InboxPageQuery {
  /** Only positions before this one (the page's `after` cursor). */
  beforeSeq?: number | undefined;
  archived: boolean;
  /** true: unread only; false: read only; undefined: both. */
  unread?: boolean | undefined;
  types?: readonly NotificationType[] | undefined;
  categories?: readonly string[] | undefined;
  /** Rows to read: the page size plus one, to learn whether a next page exists. */
  limit: number;
}

/**
 * A page of the inbox, newest first (keyset on the position: no OFFSET, so page 50 costs what
 * page 1 costs), and the user's newest position. One statement, so one snapshot for the page and
 * the stream position: everything at or before `streamSeq` is visible to this read, everything
 * after it is delivered by a subscription started from it.
 */
export async function inboxPage(sql: Sql, userId: string, q: InboxPageQuery): Promise<{ rows: NotificationRow[]; streamSeq: number }> {
  const where = ['recipient_id = $1'];
  const params: unknown[] = [userId];
  if (q.beforeSeq !== undefined) where.push(`seq < $${params.push(q.beforeSeq)}`);
  where.push(q.archived ? 'archived_at IS NOT NULL' : 'archived_at IS NULL');
  if (q.unread === true) where.push('read_at IS NULL');
  if (q.unread === false) where.push('read_at IS NOT NULL');
  if (q.types?.length) where.push(`type::text = ANY($${params.push(q.types)}::text[])`);
  if (q.categories?.length) where.push(`category = ANY($${params.push(q.categories)}::text[])`);
  const rows = await sql.query<NotificationRow & { stream_seq: bigint | string }>(
    `SELECT s.stream_seq, n.* FROM (SELECT COALESCE((SELECT last_seq FROM inbox_state WHERE user_id = $1), 0) AS stream_seq) s
     LEFT JOIN LATERAL (
       SELECT ${NOTIFICATION_COLUMNS} FROM notification WHERE ${where.join(' AND ')} ORDER BY seq DESC LIMIT ${Math.trunc(q.limit)}
     ) n ON true`,
    params,
  );
  return { rows: rows.filter((r) => r.id !== null), streamSeq: Number(rows[0]?.stream_seq ?? 0) };
}

/** Every notification stored under a (producer-scoped) update key, whoever its recipient. */
export async function notificationsUnderKey(sql: Sql, updateKey: string): Promise<{ recipientId: string; id: string }[]> {
  const rows = await sql.query<{ recipient_id: string; id: string }>('SELECT recipient_id, id FROM notification WHERE update_key = $1', [
    updateKey,
  ]);
  return rows.map((r) => ({ recipientId: r.recipient_id, id: r.id }));
}

/** The user's notifications among `ids`, newest first. */
export async function notificationsByIds(sql: Sql, userId: string, ids: readonly string[]): Promise<NotificationRecord[]> {
  const rows = await sql.query<NotificationRow>(
    `SELECT ${NOTIFICATION_COLUMNS} FROM notification WHERE recipient_id = $1 AND id = ANY($2::uuid[]) ORDER BY seq DESC`,
    [userId, ids],
  );
  return rows.map(fromRow);
}
