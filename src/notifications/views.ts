import type { Sql } from '../db/index.ts';
import type { NotificationType } from '../domain/model.ts';
import { type CountView, countViews, type ViewCounts, type ViewFilter } from '../domain/views.ts';
import { badInput } from '../errors.ts';
import { readCountRows } from '../store/inbox-count.ts';
import * as v from './validate.ts';

/** A filter as the API takes it (`NotificationFilter`): what `notifications(filter)` lists. */
export interface InboxFilter {
  /** true: only unread; false: only read; absent: both. */
  unread?: boolean | null | undefined;
  /** true: only archived; false or absent: only unarchived (the inbox view). */
  archived?: boolean | null | undefined;
  types?: readonly NotificationType[] | null | undefined;
  categories?: readonly string[] | null | undefined;
}

/** Views per call (`counts`, `inboxEvents`, the bulk mutations): a UI shows a handful of tabs. */
export const MAX_VIEWS = 10;
const MAX_VIEW_NAME = 100;
/** Categories per filter: a view is a tab, not a search. */
export const MAX_FILTER_CATEGORIES = 100;

export interface CountViewInput {
  name: string;
  filter?: InboxFilter | null | undefined;
}

/** A filter as a view selects (the same as `notifications(filter)`), validated. */
export function viewFilter(filter: InboxFilter | null | undefined, field: string): ViewFilter {
  const categories = filter?.categories ?? [];
  if (categories.length > MAX_FILTER_CATEGORIES) {
    throw badInput(`"${field}.categories" holds at most ${MAX_FILTER_CATEGORIES} categories`, { field: `${field}.categories` });
  }
  const types: readonly NotificationType[] = filter?.types ?? [];
  return {
    unread: filter?.unread ?? undefined,
    archived: filter?.archived === true,
    types: [...new Set(types)],
    categories: [...new Set(categories.map((c) => v.category(c, `${field}.categories`)))],
  };
}

/** Validates the views a client asks for: at most MAX_VIEWS, each named (1-100 characters, unique). */
export function parseViews(views: readonly CountViewInput[]): CountView[] {
  if (views.length > MAX_VIEWS)
    throw badInput(`At most ${MAX_VIEWS} views per call (got ${views.length})`, { argument: 'views', max: MAX_VIEWS });
  const names = new Set<string>();
  return views.map((view, i) => {
    const name = v.storable(view.name, `views[${i}].name`);
    if (name.length === 0 || name.length > MAX_VIEW_NAME) {
      throw badInput(`"views[${i}].name" must be 1-${MAX_VIEW_NAME} characters`, { field: `views[${i}].name` });
    }
    if (names.has(name)) throw badInput(`Two views are named "${name}": names must be unique`, { field: `views[${i}].name` });
    names.add(name);
    return { name, filter: viewFilter(view.filter, `views[${i}].filter`) };
  });
}

/** The exact counts of each view now: one indexed read of the user's count rows, whatever the number of views. */
export async function viewCounts(sql: Sql, userId: string, views: readonly CountView[]): Promise<ViewCounts[]> {
  if (views.length === 0) return [];
  const { rows } = await readCountRows(sql, userId);
  return countViews(views, rows);
}
