import type { Context } from '../context.ts';
import { encodeCursor } from '../domain/cursor.ts';
import type { Actor, NotificationRecord, NotificationType, TaskState } from '../domain/model.ts';
import { badInput } from '../errors.ts';
import { changeNotifications, getNotification, inboxCounts, listInbox, markAllRead, markAllSeen } from '../notifications/inbox.ts';
import { builder } from './builder.ts';

/** What each type means to the recipient's UI; the README's API section lists the same (a test compares them). */
const NOTIFICATION_TYPE_VALUES = {
  ALERT: { description: "Needs the recipient's attention or action now (something failed, was rejected, is due)." },
  REMINDER: { description: 'Something the recipient planned or was asked to do is coming up.' },
  UPDATE: { description: 'Something the recipient follows changed (a status, a comment, an assignment).' },
  SYSTEM_NOTICE: { description: 'About the service itself: maintenance, policy or account changes.' },
  PROMOTION: { description: 'Marketing or announcements; the kind recipients most often mute.' },
} as const satisfies Record<NotificationType, { description: string }>;

export const NotificationTypeEnum = builder.enumType('NotificationType', {
  values: NOTIFICATION_TYPE_VALUES,
  description: 'The kind of notification, chosen by the producer; clients filter and style by it.',
});

export const TaskStateEnum = builder.enumType('TaskState', {
  description: 'Where a long-running task stands, for a notification its producer updates in place (`key`).',
  values: ['PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'] as const satisfies readonly TaskState[],
});

const NotificationActor = builder.objectRef<Actor>('NotificationActor').implement({
  description: 'Who did what the notification tells about.',
  fields: (t) => ({
    id: t.exposeID('id', { nullable: true }),
    name: t.exposeString('name'),
    avatarUrl: t.exposeString('avatarUrl', { nullable: true, description: 'An absolute http(s) URL of an image.' }),
  }),
});

export const NotificationRef = builder.objectRef<NotificationRecord>('Notification').implement({
  description: "A notification in one user's inbox.",
  fields: (t) => ({
    id: t.exposeID('id'),
    cursor: t.string({
      description:
        "The position of the notification's addition in its recipient's inbox log, opaque. Usable as `after` anywhere (a subscription from it gets everything after its addition).",
      resolve: (n) => encodeCursor(n.seq),
    }),
    recipientId: t.exposeID('recipientId'),
    title: t.exposeString('title'),
    body: t.exposeString('body'),
    type: t.field({ type: NotificationTypeEnum, resolve: (n) => n.type }),
    category: t.exposeString('category', { nullable: true, description: 'Producer-chosen routing key, e.g. `timesheet.rejected`.' }),
    data: t.field({ type: 'JSON', nullable: true, resolve: (n) => n.data }),
    url: t.exposeString('url', {
      nullable: true,
      description: 'Where a click goes: an absolute http(s) URL or a path of the app ("/invoices/42"); never another scheme.',
    }),
    actor: t.field({ type: NotificationActor, nullable: true, resolve: (n) => n.actor }),
    read: t.boolean({ resolve: (n) => n.readAt !== null }),
    readAt: t.field({ type: 'DateTime', nullable: true, resolve: (n) => n.readAt }),
    seen: t.boolean({
      description: 'Seen in a list (the bell badge counts the unseen); reading a notification sees it too.',
      resolve: (n) => n.seenAt !== null,
    }),
    seenAt: t.field({ type: 'DateTime', nullable: true, resolve: (n) => n.seenAt }),
    archived: t.boolean({ resolve: (n) => n.archivedAt !== null }),
    archivedAt: t.field({ type: 'DateTime', nullable: true, resolve: (n) => n.archivedAt }),
    createdAt: t.field({ type: 'DateTime', resolve: (n) => n.createdAt }),
    progress: t.exposeFloat('progress', { nullable: true, description: "A task's progress, 0 to 1." }),
    taskState: t.field({ type: TaskStateEnum, nullable: true, resolve: (n) => n.taskState }),
    updatedAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When an emit with its key last updated it in place.',
      resolve: (n) => n.updatedAt,
    }),
    expiresAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: "When it leaves the inbox (the emit's `expiresAt`), or null.",
      resolve: (n) => n.expiresAt,
    }),
  }),
});

export const NotificationFilter = builder.inputType('NotificationFilter', {
  fields: (t) => ({
    unread: t.boolean({ required: false, description: 'true: only unread; false: only read; absent: both.' }),
    archived: t.boolean({ required: false, description: 'true: only archived; false or absent: only unarchived.' }),
    types: t.field({ type: [NotificationTypeEnum], required: false }),
    categories: t.stringList({ required: false }),
  }),
});

const changeDeps = (ctx: Context) => ({ sql: ctx.services.db.sql, bus: ctx.services.bus, log: ctx.services.log });

builder.queryFields((t) => ({
  notifications: t.withAuth({ user: true }).connection(
    {
      type: NotificationRef,
      description: "The caller's inbox, newest first. Cursor-based; at most 100 per page (default 20).",
      args: { filter: t.arg({ type: NotificationFilter, required: false }) },
      resolve: async (_root, args, ctx) => {
        if (args.last != null || args.before != null) {
          throw badInput('The inbox pages forward only (newest first): use "first" and "after"');
        }
        const page = await listInbox(ctx.services.db.sql, ctx.auth.userId, {
          first: args.first,
          after: args.after,
          filter: args.filter,
        });
        const edges = page.items.map((node) => ({ cursor: encodeCursor(node.seq), node }));
        return {
          edges,
          pageInfo: {
            hasNextPage: page.hasNextPage,
            hasPreviousPage: Boolean(args.after),
            startCursor: edges[0]?.cursor ?? null,
            endCursor: edges.at(-1)?.cursor ?? null,
          },
          streamCursor: encodeCursor(page.streamSeq),
        };
      },
    },
    {
      name: 'NotificationConnection',
      fields: (c) => ({
        streamCursor: c.string({
          description:
            'The newest position in the inbox when this page was read, whatever the filter. Pass it to `notificationAdded(after:)` or `inboxEvents(after:)` to listen from exactly where this fetch ended.',
          resolve: (conn) => conn.streamCursor,
        }),
      }),
    },
    { name: 'NotificationEdge' },
  ),
  notification: t.withAuth({ user: true }).field({
    type: NotificationRef,
    nullable: true,
    description: "One of the caller's notifications; null when it does not exist or is someone else's.",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => getNotification(ctx.services.db.sql, ctx.auth.userId, args.id),
  }),
  unreadCount: t.withAuth({ user: true }).int({
    description: 'Unread, unarchived notifications of the caller (exact, O(1)).',
    resolve: async (_root, _args, ctx) => (await inboxCounts(ctx.services.db.sql, ctx.auth.userId)).unread,
  }),
  unseenCount: t.withAuth({ user: true }).int({
    description: 'Unseen, unarchived notifications of the caller: the bell badge (exact, O(1)).',
    resolve: async (_root, _args, ctx) => (await inboxCounts(ctx.services.db.sql, ctx.auth.userId)).unseen,
  }),
}));

const UpdatePayload = builder.simpleObject('NotificationsUpdatePayload', {
  fields: (t) => ({
    notifications: t.field({ type: [NotificationRef], description: 'The notifications named, as they are now.' }),
    changedCount: t.int({ description: 'How many actually changed state.' }),
    unreadCount: t.int(),
    unseenCount: t.int(),
  }),
});

const DeletePayload = builder.simpleObject('DeleteNotificationsPayload', {
  fields: (t) => ({
    deletedIds: t.idList(),
    unreadCount: t.int(),
    unseenCount: t.int(),
  }),
});

const MarkAllPayload = builder.simpleObject('MarkAllNotificationsReadPayload', {
  fields: (t) => ({
    changedCount: t.int(),
    unreadCount: t.int(),
    unseenCount: t.int(),
  }),
});
const MarkAllSeenPayload = builder.simpleObject('MarkAllNotificationsSeenPayload', {
  fields: (t) => ({
    changedCount: t.int(),
    unreadCount: t.int(),
    unseenCount: t.int(),
  }),
});

const idsArgs = builder.args((t) => ({
  ids: t.idList({
    required: true,
    description: '1 to 1,000 ids of your notifications. All or nothing: an unknown id fails the call with NOT_FOUND.',
  }),
}));

builder.mutationFields((t) => {
  const user = t.withAuth({ user: true });
  const bulk = (action: 'READ' | 'UNREAD' | 'SEEN' | 'ARCHIVED' | 'UNARCHIVED', description: string) =>
    user.field({
      type: UpdatePayload,
      description,
      args: idsArgs,
      resolve: (_root, args, ctx) => changeNotifications(changeDeps(ctx), ctx.auth.userId, args.ids, action),
    });
  return {
    markNotificationsRead: bulk('READ', 'Marks notifications read (and seen).'),
    markNotificationsSeen: bulk('SEEN', 'Marks notifications seen: they leave the unseen count (the bell badge), and stay unread.'),
    markNotificationsUnread: bulk('UNREAD', 'Marks notifications unread.'),
    archiveNotifications: bulk('ARCHIVED', 'Archives notifications (they leave the default inbox view and the unread count).'),
    unarchiveNotifications: bulk('UNARCHIVED', 'Moves archived notifications back to the inbox.'),
    deleteNotifications: user.field({
      type: DeletePayload,
      description: 'Deletes notifications for good.',
      args: idsArgs,
      resolve: async (_root, args, ctx) => {
        const r = await changeNotifications(changeDeps(ctx), ctx.auth.userId, args.ids, 'DELETED');
        return { deletedIds: r.deletedIds, unreadCount: r.unreadCount, unseenCount: r.unseenCount };
      },
    }),
    markAllNotificationsRead: user.field({
      type: MarkAllPayload,
      description: 'Marks every unread notification of the caller read (and seen).',
      resolve: (_root, _args, ctx) => markAllRead(changeDeps(ctx), ctx.auth.userId),
    }),
    markAllNotificationsSeen: user.field({
      type: MarkAllSeenPayload,
      description: 'Marks every unseen notification of the caller seen: what a client calls when the user opens the list.',
      resolve: (_root, _args, ctx) => markAllSeen(changeDeps(ctx), ctx.auth.userId),
    }),
  };
});
