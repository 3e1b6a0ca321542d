import { eraseUser } from '../notifications/erase.ts';
import { builder } from './builder.ts';

const EraseUserPayload = builder.simpleObject('EraseUserPayload', {
  description: 'What an erasure deleted. Erasing a user again (or one never seen) deletes nothing and answers zeros.',
  fields: (t) => ({
    userId: t.id(),
    notificationsDeleted: t.int({ description: 'Notifications of the user (their idempotency keys with them).' }),
    inboxStatesDeleted: t.int({ description: "The user's inbox counters (0 or 1)." }),
    preferencesDeleted: t.int({ description: "The user's preferences (0 or 1)." }),
  }),
});

builder.mutationField('eraseUser', (t) =>
  t.field({
    type: EraseUserPayload,
    description:
      "Erases everything Herald holds of a user (GDPR right to erasure) in one transaction: notifications, inbox state, preferences. The user's open streams end on every instance with USER_ERASED. Idempotent. Requires the `notifications:emit` scope.",
    authScopes: { emitter: true },
    args: { userId: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => {
      const { db, bus, hub, log } = ctx.services;
      const erased = await eraseUser({ sql: db.sql, bus, hub, log }, String(args.userId));
      return {
        userId: erased.userId,
        notificationsDeleted: erased.notifications,
        inboxStatesDeleted: erased.inboxStates,
        preferencesDeleted: erased.preferences,
      };
    },
  }),
);
