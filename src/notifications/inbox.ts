import type { Sql } from '../db/index.ts';
import type { Bus } from '../delivery/bus.ts';
import { decodeCursor } from '../domain/cursor.ts';
import type { ChangeKind, InboxMessage } from '../domain/messages.ts';
import { LIMITS, type NotificationRecord, type NotificationType } from '../domain/model.ts';
import { ErrorCode, heraldError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { readUnreadCount } from '../store/inbox-state.ts';
import { fromRow, inboxPage, NOTIFICATION_COLUMNS, type NotificationRow, notificationById } from '../store/notifications.ts';
import * as v from './validate.ts';

export interface InboxFilter {
  /** true: only unread; false: only read; absent: both. */
  unread?: boolean | null | undefined;
  /** true: only archived; false or absent: only unarchived (the inbox view). */
  archived?: boolean | null | undefined;
  types?: readonly NotificationType[] | null | undefined;
  categories?: readonly string[] | null | undefined;
}

export interface InboxPage {
  items: NotificationRecord[];
  hasNextPage: boolean;
  /** The newest position at query time, whatever the filter: hand it to a subscription's `after`. */
  streamSeq: number;
}

/**
 * A page of the inbox, newest first, after a cursor (keyset pagination on the per-user position:
 * no OFFSET, so page 50 costs what page 1 costs).
 */
export async function listInbox(
  sql: Sql,
  userId: string,
  args: { first?: number | null | undefined; after?: string | null | undefined; filter?: InboxFilter | null | undefined },
): Promise<InboxPage> {
  const first = args.first ?? LIMITS.defaultPageSize;
  if (!Number.isInteger(first) || first < 0 || first > LIMITS.maxPageSize) {
    throw heraldError(ErrorCode.BAD_USER_INPUT, `"first" must be between 0 and ${LIMITS.maxPageSize}`, { argument: 'first' });
  }
  const before = args.after ? decodeCursor(args.after) : undefined;
  const filter = args.filter ?? {};
  const categories = filter.categories?.map((c) => v.category(c, 'filter.categories'));
  const { rows, streamSeq } = await inboxPage(sql, userId, {
    beforeSeq: before,
    archived: filter.archived === true,
    unread: filter.unread ?? undefined,
    types: filter.types ?? undefined,
    categories,
    limit: first + 1,
  });
  return { items: rows.slice(0, first).map(fromRow), hasNextPage: rows.length > first, streamSeq };
}

export async function getNotification(sql: Sql, userId: string, id: string): Promise<NotificationRecord | null> {
  return v.isUuid(id) ? notificationById(sql, userId, id) : null;
}

/** The exact unread count (unread and unarchived), kept in InboxState: no COUNT(*). */
export function unreadCount(sql: Sql, userId: string): Promise<number> {
  return readUnreadCount(sql, userId);
}

export interface ChangeResult {
  /** The notifications named, in their state after the change. */
  notifications: NotificationRecord[];
  /** For deletions: the ids removed. */
  deletedIds: string[];
  /** How many actually changed (already-read ones are not counted by markRead, etc.). */
  changedCount: number;
  unreadCount: number;
}

interface ChangeDeps {
  sql: Sql;
  bus: Bus;
  log: Logger;
}

type Action = 'READ' | 'UNREAD' | 'ARCHIVED' | 'UNARCHIVED' | 'DELETED';

/**
 * The SQL for each bulk action: what it sets and which rows it changes (`o` is the row before
 * the change). How the unread count moves is computed from the old rows (countDelta).
 */
const ACTIONS: Record<Action, { set: string; when: string }> = {
  READ: { set: 'read_at = now()', when: 'o.read_at IS NULL' },
  UNREAD: { set: 'read_at = NULL', when: 'o.read_at IS NOT NULL' },
  ARCHIVED: { set: 'archived_at = now()', when: 'o.archived_at IS NULL' },
  UNARCHIVED: { set: 'archived_at = NULL', when: 'o.archived_at IS NOT NULL' },
  DELETED: { set: '', when: 'true' },
};

/**
 * Applies a bulk action to up to 1,000 of the caller's notifications, all or nothing: an id that
 * is not the caller's (or does not exist) fails the whole call with NOT_FOUND. The user's
 * InboxState row is locked first, so concurrent emits, reads and other tabs serialise and the
 * unread count stays exact. The change is published after commit.
 */
export async function changeNotifications(
  deps: ChangeDeps,
  userId: string,
  rawIds: readonly string[],
  action: Action,
): Promise<ChangeResult> {
  const ids = v.idList(rawIds);
  const malformed = ids.filter((id) => !v.isUuid(id));
  if (malformed.length > 0) throw notFound(malformed);
  const spec = ACTIONS[action];
  const outcome = await deps.sql.transaction(async (tx) => {
    const state = await tx.query<{ version: bigint }>('SELECT version FROM inbox_state WHERE user_id = $1 FOR UPDATE', [userId]);
    const found = await tx.query<{ id: string }>(
      'SELECT id FROM notification WHERE recipient_id = $1 AND id = ANY($2::uuid[]) ORDER BY id FOR UPDATE',
      [userId, ids],
    );
    if (found.length !== ids.length || state.length === 0) {
      const have = new Set(found.map((r) => r.id));
      throw notFound(ids.filter((id) => !have.has(id)));
    }
    const changedSql =
      action === 'DELETED'
        ? `DELETE FROM notification n WHERE n.recipient_id = $1 AND n.id = ANY($2::uuid[]) RETURNING ${prefixed('n')}`
        : `UPDATE notification n SET ${spec.set} FROM notification o
           WHERE o.id = n.id AND n.recipient_id = $1 AND n.id = ANY($2::uuid[]) AND ${spec.when}
           RETURNING ${prefixed('n')}, o.read_at AS old_read_at, o.archived_at AS old_archived_at`;
    const changed = await tx.query<NotificationRow & { old_read_at?: Date | null; old_archived_at?: Date | null }>(changedSql, [
      userId,
      ids,
    ]);
    let unread: number;
    let version: number;
    if (changed.length > 0) {
      const before = changed.map((r) => ({
        read_at: action === 'DELETED' ? r.read_at : (r.old_read_at ?? null),
        archived_at: action === 'DELETED' ? r.archived_at : (r.old_archived_at ?? null),
      }));
      const delta = countDelta(action, before);
      const [s] = await tx.query<{ unread_count: number; version: bigint }>(
        'UPDATE inbox_state SET unread_count = unread_count + $2, version = version + 1, updated_at = now() WHERE user_id = $1 RETURNING unread_count, version',
        [userId, delta],
      );
      unread = s!.unread_count;
      version = Number(s!.version);
    } else {
      unread = await unreadCount(tx, userId);
      version = Number(state[0]!.version);
    }
    const current =
      action === 'DELETED'
        ? []
        : await tx.query<NotificationRow>(
            `SELECT ${NOTIFICATION_COLUMNS} FROM notification WHERE recipient_id = $1 AND id = ANY($2::uuid[]) ORDER BY seq DESC`,
            [userId, ids],
          );
    return { changed: changed.map(fromRow), current: current.map(fromRow), unread, version };
  });
  if (outcome.changed.length > 0) {
    await publishChange(deps, userId, {
      v: outcome.version,
      unread: outcome.unread,
      changed: { change: action, items: outcome.changed.map(changeItem) },
    });
  }
  return {
    notifications: outcome.current,
    deletedIds: action === 'DELETED' ? outcome.changed.map((n) => n.id) : [],
    changedCount: outcome.changed.length,
    unreadCount: outcome.unread,
  };
}

/** Marks every unread notification of the caller read (archived ones included). */
export async function markAllRead(deps: ChangeDeps, userId: string): Promise<{ changedCount: number; unreadCount: number }> {
  const outcome = await deps.sql.transaction(async (tx) => {
    const state = await tx.query<{ version: bigint }>('SELECT version FROM inbox_state WHERE user_id = $1 FOR UPDATE', [userId]);
    if (state.length === 0) return { changed: [] as NotificationRecord[], unread: 0, version: 0 };
    const changed = await tx.query<NotificationRow>(
      `UPDATE notification SET read_at = now() WHERE recipient_id = $1 AND read_at IS NULL RETURNING ${NOTIFICATION_COLUMNS}`,
      [userId],
    );
    if (changed.length === 0) return { changed: [], unread: 0, version: Number(state[0]!.version) };
    const [s] = await tx.query<{ unread_count: number; version: bigint }>(
      'UPDATE inbox_state SET unread_count = 0, version = version + 1, updated_at = now() WHERE user_id = $1 RETURNING unread_count, version',
      [userId],
    );
    return { changed: changed.map(fromRow), unread: s!.unread_count, version: Number(s!.version) };
  });
  if (outcome.changed.length > 0) {
    await publishChange(deps, userId, {
      v: outcome.version,
      unread: outcome.unread,
      changed: { change: 'READ', items: outcome.changed.map(changeItem) },
    });
  }
  return { changedCount: outcome.changed.length, unreadCount: outcome.unread };
}

function countDelta(action: Action, before: { read_at: Date | null; archived_at: Date | null }[]): number {
  const n = (pred: (r: { read_at: Date | null; archived_at: Date | null }) => boolean) => before.filter(pred).length;
  switch (action) {
    case 'READ':
      return -n((r) => r.archived_at === null);
    case 'UNREAD':
      return n((r) => r.archived_at === null);
    case 'ARCHIVED':
      return -n((r) => r.read_at === null);
    case 'UNARCHIVED':
      return n((r) => r.read_at === null);
    case 'DELETED':
      return -n((r) => r.read_at === null && r.archived_at === null);
  }
}

const prefixed = (alias: string) =>
  NOTIFICATION_COLUMNS.split(', ')
    .map((c) => `${alias}.${c}`)
    .join(', ');

const changeItem = (n: NotificationRecord) => ({
  id: n.id,
  seq: n.seq,
  readAt: n.readAt?.toISOString() ?? null,
  archivedAt: n.archivedAt?.toISOString() ?? null,
});

function notFound(ids: string[]) {
  return heraldError(
    ErrorCode.NOT_FOUND,
    `No notification of yours with id ${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ', ...' : ''}: nothing was changed`,
    {
      ids,
    },
  );
}

async function publishChange(deps: ChangeDeps, userId: string, message: InboxMessage) {
  await deps.bus.publish(userId, message).catch((error: Error) => {
    deps.log.warn({ err: error.message, userId }, 'publish failed; streams will catch up');
  });
}

export type { ChangeKind };
