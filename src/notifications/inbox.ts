import type { Sql } from '../db/index.ts';
import type { Bus } from '../delivery/bus.ts';
import { type Counts, countsDelta } from '../domain/counts.ts';
import { decodeCursor } from '../domain/cursor.ts';
import { type ChangeKind, type InboxMessage, toWireChange } from '../domain/messages.ts';
import { LIMITS, type NotificationRecord } from '../domain/model.ts';
import { type CountView, countViews, type ViewCounts } from '../domain/views.ts';
import { ErrorCode, heraldError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import {
  type ChangedRow,
  changeNotificationRows,
  changeRowsByFilter,
  FILTER_CHANGE_LIMIT,
  type FilterChange,
  lockNotifications,
  markUnreadRowsRead,
  markUnseenRowsSeen,
} from '../store/inbox-changes.ts';
import { readCountRows } from '../store/inbox-count.ts';
import { type InboxCount, lockInboxState, moveCounts, readCounts } from '../store/inbox-state.ts';
import { fromRow, inboxPage, notificationById, notificationsByIds } from '../store/notifications.ts';
import * as v from './validate.ts';
import { type InboxFilter, viewFilter } from './views.ts';

export type { InboxFilter };

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

/** The exact unread and unseen counts (of unarchived notifications), kept in InboxState: no COUNT(*). */
export function inboxCounts(sql: Sql, userId: string): Promise<Counts> {
  return readCounts(sql, userId);
}

export interface ChangeResult {
  /** The notifications named, in their state after the change. */
  notifications: NotificationRecord[];
  /** For deletions: the ids removed. */
  deletedIds: string[];
  /** How many actually changed (already-read ones are not counted by markRead, etc.). */
  changedCount: number;
  unreadCount: number;
  unseenCount: number;
}

export interface ChangeDeps {
  sql: Sql;
  bus: Bus;
  log: Logger;
}

/**
 * Applies a bulk action to up to 1,000 of the caller's notifications, all or nothing: an id that
 * is not the caller's (or does not exist) fails the whole call with NOT_FOUND. The user's
 * InboxState row is locked first, so concurrent emits, reads and other tabs serialise and the
 * unread count stays exact; each notification changed takes the next position of the user's log.
 * The change is published after commit.
 */
export async function changeNotifications(
  deps: ChangeDeps,
  userId: string,
  rawIds: readonly string[],
  action: ChangeKind,
): Promise<ChangeResult> {
  const ids = v.idList(rawIds);
  const malformed = ids.filter((id) => !v.isUuid(id));
  if (malformed.length > 0) throw notFound(malformed);
  const outcome = await deps.sql.transaction(async (tx) => {
    const state = await lockInboxState(tx, userId);
    const found = await lockNotifications(tx, userId, ids);
    if (found.length !== ids.length || state === undefined) {
      const have = new Set(found);
      throw notFound(ids.filter((id) => !have.has(id)));
    }
    const changed = await changeNotificationRows(tx, userId, ids, action, state.lastSeq);
    const count =
      changed.length > 0 ? await moveCounts(tx, userId, deltaOf(action, changed), changed.length) : await unchanged(tx, userId, state);
    const current = action === 'DELETED' ? [] : await notificationsByIds(tx, userId, ids);
    return { changed: changed.map(fromRow), current, count };
  });
  if (outcome.changed.length > 0) await publishChange(deps, userId, action, outcome.changed, outcome.count);
  return {
    notifications: outcome.current,
    deletedIds: action === 'DELETED' ? outcome.changed.map((n) => n.id) : [],
    changedCount: outcome.changed.length,
    unreadCount: outcome.count.unreadCount,
    unseenCount: outcome.count.unseenCount,
  };
}

/** Marks every unread notification of the caller read (archived ones included); reading sees them too. */
export function markAllRead(deps: ChangeDeps, userId: string): Promise<{ changedCount: number; unreadCount: number; unseenCount: number }> {
  return changeAll(deps, userId, 'READ', markUnreadRowsRead);
}

/** Marks every unseen notification of the caller seen (archived ones included): the bell badge goes to 0. */
export function markAllSeen(deps: ChangeDeps, userId: string): Promise<{ changedCount: number; unreadCount: number; unseenCount: number }> {
  return changeAll(deps, userId, 'SEEN', markUnseenRowsSeen);
}

async function changeAll(
  deps: ChangeDeps,
  userId: string,
  action: 'READ' | 'SEEN',
  change: (tx: Sql, userId: string, lastSeq: number) => Promise<ChangedRow[]>,
): Promise<{ changedCount: number; unreadCount: number; unseenCount: number }> {
  const outcome = await deps.sql.transaction(async (tx) => {
    const state = await lockInboxState(tx, userId);
    if (state === undefined) return { changed: [], count: { unreadCount: 0, unseenCount: 0, version: 0, lastSeq: 0 } };
    const changed = await change(tx, userId, state.lastSeq);
    if (changed.length === 0) return { changed: [], count: await unchanged(tx, userId, state) };
    return { changed: changed.map(fromRow), count: await moveCounts(tx, userId, deltaOf(action, changed), changed.length) };
  });
  if (outcome.changed.length > 0) await publishChange(deps, userId, action, outcome.changed, outcome.count);
  return { changedCount: outcome.changed.length, unreadCount: outcome.count.unreadCount, unseenCount: outcome.count.unseenCount };
}

export interface FilterChangeResult {
  changedCount: number;
  /** More notifications match than one call changes (FILTER_CHANGE_LIMIT): call again. */
  hasMore: boolean;
  unreadCount: number;
  unseenCount: number;
  /** The position after the change: the counts are exact there. */
  lastSeq: number;
  counts: ViewCounts[];
}

/**
 * Marks read or seen, or archives, everything `filter` selects (what `notifications(filter)`
 * lists), up to FILTER_CHANGE_LIMIT notifications per call, oldest first; `hasMore` says to call
 * again. One transaction: each notification changed takes its position on the user's log, the
 * badges and `views`' counts are read in it after the change (exact at `lastSeq`), and the change
 * is published after commit like any other.
 */
export async function changeByFilter(
  deps: ChangeDeps,
  userId: string,
  action: FilterChange,
  rawFilter: InboxFilter | null | undefined,
  views: readonly CountView[],
): Promise<FilterChangeResult> {
  const filter = viewFilter(rawFilter, 'filter');
  const outcome = await deps.sql.transaction(async (tx) => {
    const state = await lockInboxState(tx, userId);
    if (state === undefined) {
      return { changed: [], more: false, count: { unreadCount: 0, unseenCount: 0, version: 0, lastSeq: 0 }, counts: countViews(views, []) };
    }
    const { rows, more } = await changeRowsByFilter(tx, userId, action, filter, state.lastSeq);
    const count = rows.length > 0 ? await moveCounts(tx, userId, deltaOf(action, rows), rows.length) : await unchanged(tx, userId, state);
    // The triggers moved the count rows with the statement: read here, they are this transaction's.
    const counts = views.length > 0 ? countViews(views, (await readCountRows(tx, userId)).rows) : [];
    return { changed: rows.map(fromRow), more, count, counts };
  });
  if (outcome.changed.length > 0) await publishChange(deps, userId, action, outcome.changed, outcome.count);
  return {
    changedCount: outcome.changed.length,
    hasMore: outcome.more,
    unreadCount: outcome.count.unreadCount,
    unseenCount: outcome.count.unseenCount,
    lastSeq: outcome.count.lastSeq,
    counts: outcome.counts,
  };
}

export { FILTER_CHANGE_LIMIT };

async function unchanged(tx: Sql, userId: string, state: { version: number; lastSeq: number }): Promise<InboxCount> {
  const counts = await readCounts(tx, userId);
  return { unreadCount: counts.unread, unseenCount: counts.unseen, version: state.version, lastSeq: state.lastSeq };
}

/** How the counts move: the changed rows after (none for deletions) against before. */
export function deltaOf(action: ChangeKind, rows: readonly ChangedRow[]): Counts {
  return countsDelta(
    rows.map((r) => ({
      before: { readAt: r.old_read_at, seenAt: r.old_seen_at, archivedAt: r.old_archived_at },
      after: action === 'DELETED' || action === 'EXPIRED' ? null : { readAt: r.read_at, seenAt: r.seen_at, archivedAt: r.archived_at },
    })),
  );
}

/** Longest id echoed in a NOT_FOUND (Herald's ids are 36 characters). */
const ECHOED_ID_LENGTH = 64;

function notFound(ids: string[]) {
  // An id of a megabyte is no notification's: echoed whole (in the message and in `ids`) it made
  // a 2 MB error, which an event stream's buffer limit then dropped without any answer.
  const shown = ids.map((id) => (id.length > ECHOED_ID_LENGTH ? `${id.slice(0, ECHOED_ID_LENGTH)}…` : id));
  return heraldError(
    ErrorCode.NOT_FOUND,
    `No notification of yours with id ${shown.slice(0, 5).join(', ')}${ids.length > 5 ? ', ...' : ''}: nothing was changed`,
    {
      ids: shown,
    },
  );
}

/**
 * Publishes a committed change: its rows, each at the position it took (the last ones of the
 * user's sequence, one per row), and the range they span.
 */
export async function publishChange(deps: ChangeDeps, userId: string, change: ChangeKind, rows: NotificationRecord[], count: InboxCount) {
  const items = rows.map(toWireChange).sort((a, b) => (a.pos ?? 0) - (b.pos ?? 0));
  const message: InboxMessage = {
    v: count.version,
    unread: count.unreadCount,
    unseen: count.unseenCount,
    p: [count.lastSeq - rows.length, count.lastSeq],
    changed: { change, items },
  };
  await deps.bus.publish(userId, message).catch((error: Error) => {
    deps.log.warn({ err: error.message, userId }, 'publish failed; streams will catch up');
  });
}

export type { ChangeKind };
