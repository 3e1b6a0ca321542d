import type { PrismaClient, Sql } from '../db/index.ts';
import { LIMITS } from '../domain/model.ts';
import { badInput } from '../errors.ts';
import { category } from './validate.ts';

/** A user's delivery preferences (seed 000). */
export interface Preferences {
  userId: string;
  /** In-app delivery: when false, notifications for this user are not stored at all. */
  enabled: boolean;
  email: boolean;
  sms: boolean;
  push: boolean;
  /** Categories the user muted: notifications in them are not stored. */
  mutedCategories: string[];
}

export const DEFAULT_PREFERENCES: Omit<Preferences, 'userId'> = {
  enabled: true,
  email: true,
  sms: false,
  push: true,
  mutedCategories: [],
};

export type PreferencesUpdate = Partial<Omit<Preferences, 'userId'>>;

export async function getPreferences(prisma: PrismaClient, userId: string): Promise<Preferences> {
  const row = await prisma.notificationPreference.findUnique({ where: { userId } });
  return row
    ? { userId, enabled: row.enabled, email: row.email, sms: row.sms, push: row.push, mutedCategories: row.mutedCategories }
    : { userId, ...DEFAULT_PREFERENCES };
}

/** Reads preferences for many recipients at once (one query); missing rows get the defaults. */
export async function getPreferencesMap(sql: Sql, userIds: string[]): Promise<Map<string, Preferences>> {
  const rows = await sql.query<{
    user_id: string;
    enabled: boolean;
    email: boolean;
    sms: boolean;
    push: boolean;
    muted_categories: string[] | null;
  }>('SELECT user_id, enabled, email, sms, push, muted_categories FROM notification_preference WHERE user_id = ANY($1::text[])', [userIds]);
  const map = new Map<string, Preferences>();
  for (const r of rows) {
    map.set(r.user_id, {
      userId: r.user_id,
      enabled: r.enabled,
      email: r.email,
      sms: r.sms,
      push: r.push,
      mutedCategories: r.muted_categories ?? [],
    });
  }
  return map;
}

export async function updatePreferences(prisma: PrismaClient, userId: string, update: PreferencesUpdate): Promise<Preferences> {
  const data: PreferencesUpdate = {};
  for (const key of ['enabled', 'email', 'sms', 'push'] as const) {
    const v = update[key];
    if (v !== undefined && v !== null) data[key] = v;
  }
  if (update.mutedCategories !== undefined && update.mutedCategories !== null) {
    if (update.mutedCategories.length > LIMITS.maxMutedCategories) {
      throw badInput(`"mutedCategories" holds at most ${LIMITS.maxMutedCategories} categories`, { field: 'mutedCategories' });
    }
    data.mutedCategories = [...new Set(update.mutedCategories.map((c) => category(c, 'mutedCategories')))];
  }
  await prisma.notificationPreference.upsert({
    where: { userId },
    create: { userId, ...DEFAULT_PREFERENCES, ...data },
    update: data,
  });
  return getPreferences(prisma, userId);
}
