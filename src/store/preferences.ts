/**
 * Batch reads of `notification_preference` for emit (one query for many recipients). The
 * single-row CRUD behind the preferences API stays on Prisma's client (notifications/preferences.ts).
 */
import type { Sql } from '../db/index.ts';
import type { Preferences } from '../domain/model.ts';

/** The columns a preference read selects, as the raw query returns them. */
export interface PreferenceRow {
  recipient_id: string;
  enabled: boolean;
  email: boolean;
  sms: boolean;
  push: boolean;
  muted_categories: string[] | null;
}

export function preferencesFromRow(r: PreferenceRow): Preferences {
  return {
    userId: r.recipient_id,
    enabled: r.enabled,
    email: r.email,
    sms: r.sms,
    push: r.push,
    mutedCategories: r.muted_categories ?? [],
  };
}

/** The preferences of those of `userIds` that have a row (one query); the others have the defaults. */
export async function readPreferences(sql: Sql, userIds: readonly string[]): Promise<Map<string, Preferences>> {
  const rows = await sql.query<PreferenceRow>(
    'SELECT user_id AS recipient_id, enabled, email, sms, push, muted_categories FROM notification_preference WHERE user_id = ANY($1::text[])',
    [userIds],
  );
  const map = new Map<string, Preferences>();
  for (const r of rows) map.set(r.recipient_id, preferencesFromRow(r));
  return map;
}
