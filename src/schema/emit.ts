import { badInput } from '../errors.ts';
import { recallNotifications } from '../notifications/recall.ts';
import { builder } from './builder.ts';
import { NotificationRef, NotificationTypeEnum, TaskStateEnum } from './notification.ts';

const NotificationActorInput = builder.inputType('NotificationActorInput', {
  description: 'Who did what the notification tells about, shown beside it.',
  fields: (t) => ({
    id: t.id({ required: false, description: "The actor's id in your app (a user id), 1 to 255 characters." }),
    name: t.string({ required: true, description: '1 to 200 characters.' }),
    avatarUrl: t.string({ required: false, description: 'An absolute http(s) URL of an image, at most 2,048 characters.' }),
  }),
});

const EmitNotificationInput = builder.inputType('EmitNotificationInput', {
  fields: (t) => ({
    recipientIds: t.idList({ required: true, description: '1 to 10,000 distinct user ids.' }),
    title: t.string({ required: true, description: '1 to 200 characters.' }),
    body: t.string({ required: false, description: 'At most 10,000 characters. Absent: empty (a title-only notification).' }),
    type: t.field({ type: NotificationTypeEnum, required: false, description: 'Absent: ALERT.' }),
    category: t.string({ required: false, description: 'Routing key such as `timesheet.rejected` (letters, digits, `._:-/`).' }),
    data: t.field({
      type: 'JSON',
      required: false,
      description:
        'A JSON object of at most 16 KiB as text, 64 levels deep, and about 32 KiB as stored (each number takes about 12 bytes: send long lists of numbers as a string).',
    }),
    url: t.string({
      required: false,
      description:
        'Where a click on the notification goes: an absolute http(s) URL, or a path of your app starting with "/". At most 2,048 characters; other schemes (javascript:, data:) are refused.',
    }),
    actor: t.field({ type: NotificationActorInput, required: false }),
    critical: t.boolean({
      required: false,
      description:
        "Delivered whatever the recipients' preferences say (a muted category, in-app turned off): for security alerts and legal notices, not for marketing. Each delivery reports what it bypassed.",
    }),
    idempotencyKey: t.string({
      required: false,
      description:
        'Makes retries safe: a second emit with the same key delivers nothing again to a recipient who already got it (kept 24 hours by default).',
    }),
    key: t.string({
      required: false,
      description:
        "Update in place (1 to 200 characters, e.g. `export:42`, unique per producer and recipient): a recipient who has this producer's notification with this key gets it updated (title, body, data, type, url, actor, category, progress, taskState) at a new position of their inbox's log (status UPDATED) instead of a new one. Updates of one key are applied in the order they are sent.",
    }),
    progress: t.float({ required: false, description: "A task's progress, from 0 to 1." }),
    taskState: t.field({ type: TaskStateEnum, required: false }),
    expiresAt: t.field({
      type: 'DateTime',
      required: false,
      description:
        'When the notification leaves the inbox (a later time, within the retention window): it then leaves lists and counts, and open streams receive NotificationChangedEvent EXPIRED, within EXPIRY_INTERVAL_MS of it. An update in place replaces it (absent: no expiry).',
    }),
    markUnread: t.boolean({
      required: false,
      description:
        'An update makes the notification unread and unseen again (the badges count it again). Default false: it keeps its read and seen state.',
    }),
  }),
});

const DeliveryStatus = builder.enumType('DeliveryStatus', {
  values: {
    DELIVERED: { description: 'Stored in the inbox and pushed to open streams.' },
    UPDATED: { description: "The recipient's notification with the emit's `key` was updated in place and pushed to open streams." },
    SUPPRESSED: { description: "Not stored: the recipient's preferences exclude it (see reason)." },
    DUPLICATE: { description: 'Already delivered by an earlier emit with the same idempotency key.' },
  } as const,
});

const SuppressionReason = builder.enumType('SuppressionReason', {
  values: {
    DISABLED: { description: 'The recipient turned in-app notifications off.' },
    CATEGORY_MUTED: { description: "The recipient muted the notification's category." },
  } as const,
});

const DeliveryChannels = builder.simpleObject('DeliveryChannels', {
  description: 'Other channels the recipient accepts for this notification, for producers that route to them.',
  fields: (t) => ({ email: t.boolean(), sms: t.boolean(), push: t.boolean() }),
});

const EmitDelivery = builder.simpleObject('EmitDelivery', {
  fields: (t) => ({
    recipientId: t.id(),
    status: t.field({ type: DeliveryStatus }),
    reason: t.field({ type: SuppressionReason, nullable: true }),
    bypassed: t.field({
      type: SuppressionReason,
      nullable: true,
      description: "A critical emit delivered although the recipient's preferences exclude it: what they exclude it for.",
    }),
    notification: t.field({ type: NotificationRef, nullable: true }),
    channels: t.field({ type: DeliveryChannels }),
  }),
});

const EmitNotificationPayload = builder.simpleObject('EmitNotificationPayload', {
  fields: (t) => ({
    deliveredCount: t.int(),
    suppressedCount: t.int(),
    duplicateCount: t.int(),
    updatedCount: t.int({ description: "Recipients whose notification with the emit's `key` was updated in place." }),
    deliveries: t.field({ type: [EmitDelivery], description: 'One entry per recipient, in the order given.' }),
  }),
});

builder.mutationField('emitNotification', (t) =>
  t.field({
    type: EmitNotificationPayload,
    description:
      'Stores a notification for each recipient in one transaction, then pushes it to their open streams. Requires the `notifications:emit` scope.',
    authScopes: { emitter: true },
    args: { input: t.arg({ type: EmitNotificationInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      ctx.services.emitter.emit({
        recipientIds: input.recipientIds.map(String),
        title: input.title,
        body: input.body,
        type: input.type,
        category: input.category,
        data: input.data,
        url: input.url,
        critical: input.critical,
        actor: input.actor && {
          id: input.actor.id === undefined || input.actor.id === null ? null : String(input.actor.id),
          name: input.actor.name,
          avatarUrl: input.actor.avatarUrl,
        },
        idempotencyKey: input.idempotencyKey,
        key: input.key,
        progress: input.progress,
        taskState: input.taskState,
        markUnread: input.markUnread,
        expiresAt: input.expiresAt,
        producerId: ctx.auth?.userId ?? '',
      }),
  }),
);

builder.mutationField('recallNotifications', (t) =>
  t.field({
    type: builder.simpleObject('RecallNotificationsPayload', {
      fields: (f) => ({ recalledCount: f.int({ description: 'Notifications deleted (one per recipient who had it).' }) }),
    }),
    description:
      "Deletes the caller's notification with this `key` (see EmitNotificationInput.key) from every recipient's inbox, as the recipient's own deletion would: open tabs receive DELETED, a replay reports it, the counts follow. One transaction per recipient: if it fails midway, call it again. Requires the `notifications:emit` scope.",
    authScopes: { emitter: true },
    args: { key: t.arg.string({ required: true }) },
    resolve: async (_root, args, ctx) => {
      const { db, bus, log } = ctx.services;
      return { recalledCount: await recallNotifications({ sql: db.sql, bus, log }, ctx.auth?.userId ?? '', args.key) };
    },
  }),
);

builder.queryField('presence', (t) =>
  t.field({
    type: [builder.simpleObject('UserPresence', { fields: (f) => ({ userId: f.id(), online: f.boolean() }) })],
    description: 'Which of these users have at least one open stream on any instance (for producers deciding on e-mail fallback).',
    authScopes: { emitter: true },
    args: { userIds: t.arg.idList({ required: true }) },
    resolve: async (_root, args, ctx) => {
      const ids = args.userIds.map(String);
      if (ids.length > 1000) throw badInput('"userIds" holds at most 1,000 ids');
      const online = await ctx.services.presence.online(ids);
      return ids.map((userId) => ({ userId, online: online.has(userId) }));
    },
  }),
);
