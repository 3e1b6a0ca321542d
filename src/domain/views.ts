/**
 * Counts per view, pure: a view is a named filter of the inbox (what `notifications(filter)`
 * lists), and its counts are how many notifications that list holds, how many of them are unread
 * and how many unseen. They are sums over the user's count rows (store/inbox-count.ts: how many
 * notifications are in each state a filter can select), so every view costs the same, whatever
 * the size of the inbox.
 */
import type { NotificationType } from './model.ts';

/** What a view selects, as `notifications(filter)` does (validated: see notifications/views.ts). */
export interface ViewFilter {
  /** true: only unread; false: only read; undefined: both. */
  unread?: boolean | undefined;
  /** true: only archived; false: only unarchived (the default view). */
  archived: boolean;
  /** Empty: every type. */
  types: readonly NotificationType[];
  /** Empty: every category (and none). */
  categories: readonly string[];
}

export interface CountView {
  name: string;
  filter: ViewFilter;
}

export interface ViewCounts {
  name: string;
  /** Notifications the view lists. */
  total: number;
  unread: number;
  unseen: number;
}

/** How many of a user's notifications are in one state; `category` is null for none. */
export interface CountRow {
  category: string | null;
  type: NotificationType;
  archived: boolean;
  read: boolean;
  seen: boolean;
  n: number;
}

/** Whether notifications in the row's state are in the view's list. */
export function inView(filter: ViewFilter, row: Omit<CountRow, 'n'>): boolean {
  if (row.archived !== filter.archived) return false;
  if (filter.unread !== undefined && row.read === filter.unread) return false;
  if (filter.types.length > 0 && !filter.types.includes(row.type)) return false;
  if (filter.categories.length > 0 && (row.category === null || !filter.categories.includes(row.category))) return false;
  return true;
}

/** Each view's counts, from the user's count rows. */
export function countViews(views: readonly CountView[], rows: readonly CountRow[]): ViewCounts[] {
  return views.map(({ name, filter }) => {
    const counts: ViewCounts = { name, total: 0, unread: 0, unseen: 0 };
    for (const row of rows) {
      if (!inView(filter, row)) continue;
      counts.total += row.n;
      if (!row.read) counts.unread += row.n;
      if (!row.seen) counts.unseen += row.n;
    }
    return counts;
  });
}

/** Two lists of view counts say the same (the stream sends counts only when they moved). */
export function sameViewCounts(a: readonly ViewCounts[] | undefined, b: readonly ViewCounts[]): boolean {
  if (a === undefined || a.length !== b.length) return false;
  return a.every((x, i) => {
    const y = b[i];
    return y !== undefined && x.name === y.name && x.total === y.total && x.unread === y.unread && x.unseen === y.unseen;
  });
}
