import type { PrismaClient } from '../db/index.ts';
import { DEFAULT_PREFERENCES, LIMITS, type Preferences } from '../domain/model.ts';
import { badInput } from '../errors.ts';
import { category } from './validate.ts';

export { DEFAULT_PREFERENCES, type Preferences };

export type PreferencesUpdate = Partial<Omit<Preferences, 'userId'>>;

export async function getPreferences(prisma: PrismaClient, userId: string): Promise<Preferences> {
  const row = await prisma.notificationPreference.findUnique({ where: { userId } });
  return row
    ? { userId, enabled: row.enabled, email: row.email, sms: row.sms, push: row.push, mutedCategories: row.mutedCategories }
    : { userId, ...DEFAULT_PREFERENCES };
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
