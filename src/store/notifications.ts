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
import type { Actor, NotificationRecord, NotificationType } from '../domain/model.ts';

/** A raw `notification` row as returned by `SELECT *` by a raw query (pg: BIGINT as string; PGlite: bigint). */
export interface NotificationRow {
  id: string;
  recipient_id: string;
  seq: bigint | number | string;
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
}

export const NOTIFICATION_COLUMNS =
  'id, recipient_id, seq, title, body, type, category, data, url, actor, read_at, seen_at, archived_at, created_at';

export function fromRow(row: NotificationRow): NotificationRecord {
  return {
    id: row.id,
    recipientId: row.recipient_id,
    seq: Number(row.seq),
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

/** Up to `limit` of the user's notifications after position `afterSeq`, oldest first (gap reads, replay). */
export async function notificationsAfter(sql: Sql, userId: string, afterSeq: number, limit: number): Promise<NotificationRow[]> {
  return sql.query<NotificationRow>(
    `SELECT ${NOTIFICATION_COLUMNS} FROM notification WHERE recipient_id = $1 AND seq > $2 ORDER BY seq LIMIT ${Math.trunc(limit)}`,
    [userId, afterSeq],
  );
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

/** The user's notifications among `ids`, newest first. */
export async function notificationsByIds(sql: Sql, userId: string, ids: readonly string[]): Promise<NotificationRecord[]> {
  const rows = await sql.query<NotificationRow>(
    `SELECT ${NOTIFICATION_COLUMNS} FROM notification WHERE recipient_id = $1 AND id = ANY($2::uuid[]) ORDER BY seq DESC`,
    [userId, ids],
  );
  return rows.map(fromRow);
}
