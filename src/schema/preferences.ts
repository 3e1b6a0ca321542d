import { getPreferences, type Preferences, updatePreferences } from '../notifications/preferences.ts';
import { builder } from './builder.ts';

const PreferencesRef = builder.objectRef<Preferences>('NotificationPreferences').implement({
  description: "The caller's delivery preferences.",
  fields: (t) => ({
    enabled: t.exposeBoolean('enabled', { description: 'In-app notifications. When off, emits to this user are suppressed (not stored).' }),
    email: t.exposeBoolean('email'),
    sms: t.exposeBoolean('sms'),
    push: t.exposeBoolean('push'),
    mutedCategories: t.exposeStringList('mutedCategories', { description: 'Notifications in these categories are suppressed.' }),
  }),
});

const UpdateNotificationPreferencesInput = builder.inputType('UpdateNotificationPreferencesInput', {
  description: 'Fields left out keep their value.',
  fields: (t) => ({
    enabled: t.boolean({ required: false }),
    email: t.boolean({ required: false }),
    sms: t.boolean({ required: false }),
    push: t.boolean({ required: false }),
    mutedCategories: t.stringList({ required: false, description: 'Replaces the whole list.' }),
  }),
});

builder.queryField('notificationPreferences', (t) =>
  t.withAuth({ user: true }).field({
    type: PreferencesRef,
    resolve: (_root, _args, ctx) => getPreferences(ctx.services.db.prisma, ctx.auth.userId),
  }),
);

builder.mutationField('updateNotificationPreferences', (t) =>
  t.withAuth({ user: true }).field({
    type: PreferencesRef,
    args: { input: t.arg({ type: UpdateNotificationPreferencesInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      updatePreferences(ctx.services.db.prisma, ctx.auth.userId, {
        enabled: input.enabled ?? undefined,
        email: input.email ?? undefined,
        sms: input.sms ?? undefined,
        push: input.push ?? undefined,
        mutedCategories: input.mutedCategories ?? undefined,
      }),
  }),
);
