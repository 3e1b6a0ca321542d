import { type Context, unauthenticated } from '../context.ts';
import type { StreamEvent } from '../delivery/hub.ts';
import { decodeCursor } from '../domain/cursor.ts';
import { builder } from './builder.ts';
import { NotificationRef } from './notification.ts';

type Added = Extract<StreamEvent, { type: 'added' }>;
type Changed = Extract<StreamEvent, { type: 'changed' }>;
type Unread = Extract<StreamEvent, { type: 'unread' }>;

const NotificationChange = builder.enumType('NotificationChange', {
  values: ['READ', 'UNREAD', 'SEEN', 'ARCHIVED', 'UNARCHIVED', 'DELETED'] as const,
});

const NotificationAddedEvent = builder.objectRef<Added>('NotificationAddedEvent').implement({
  fields: (t) => ({
    cursor: t.exposeString('cursor'),
    notification: t.field({ type: NotificationRef, resolve: (e) => e.notification }),
  }),
});

const NotificationChangedEvent = builder.objectRef<Changed>('NotificationChangedEvent').implement({
  fields: (t) => ({
    cursor: t.exposeString('cursor', { description: "The changed notification's position." }),
    notificationId: t.exposeID('notificationId'),
    change: t.field({ type: NotificationChange, resolve: (e) => e.change }),
    readAt: t.field({ type: 'DateTime', nullable: true, resolve: (e) => e.readAt }),
    seenAt: t.field({ type: 'DateTime', nullable: true, resolve: (e) => e.seenAt }),
    archivedAt: t.field({ type: 'DateTime', nullable: true, resolve: (e) => e.archivedAt }),
  }),
});

const UnreadCountChangedEvent = builder.objectRef<Unread>('UnreadCountChangedEvent').implement({
  description: 'The exact counts after the events before it: unread (the list) and unseen (the bell badge).',
  fields: (t) => ({ unreadCount: t.exposeInt('unreadCount'), unseenCount: t.exposeInt('unseenCount') }),
});

const InboxEvent = builder.unionType('InboxEvent', {
  types: [NotificationAddedEvent, NotificationChangedEvent, UnreadCountChangedEvent],
  resolveType: (event) =>
    event.type === 'added' ? 'NotificationAddedEvent' : event.type === 'changed' ? 'NotificationChangedEvent' : 'UnreadCountChangedEvent',
});

/** The subscription fields and the kind of hub stream each opens. */
export const STREAM_FIELDS = { notificationAdded: 'added', inboxEvents: 'inbox' } as const;
export type StreamField = keyof typeof STREAM_FIELDS;

/**
 * Opens the caller's stream for a subscription field (the schema's `subscribe` and the SSE endpoint
 * share it). The caller must be authenticated (a bearer token or a stream ticket).
 */
export async function openStream(ctx: Context, field: StreamField, after: string | null | undefined) {
  const { auth } = ctx;
  if (!auth) throw unauthenticated(ctx);
  return ctx.services.hub.open({
    userId: auth.userId,
    kind: STREAM_FIELDS[field],
    after: resumePoint(ctx, after),
    expiresAt: auth.expiresAt,
  });
}

/** `Last-Event-ID` (a reconnecting EventSource) wins over the `after` the URL was opened with. */
function resumePoint(ctx: Context, after: string | null | undefined): number | undefined {
  if (ctx.lastEventId) return decodeCursor(ctx.lastEventId, 'Last-Event-ID');
  return after ? decodeCursor(after) : undefined;
}

const afterArgs = builder.args((t) => ({
  after: t.string({
    required: false,
    description:
      'Start after this cursor (a streamCursor, an edge cursor or the last event id seen): missed events first, then live, with no gap and no duplicate. Unknown or expired: CURSOR_EXPIRED.',
  }),
}));

builder.subscriptionFields((t) => ({
  notificationAdded: t.withAuth({ streamUser: true }).field({
    type: NotificationRef,
    description: "The caller's new notifications, in position order.",
    args: afterArgs,
    subscribe: (_root, args, ctx) => openStream(ctx, 'notificationAdded', args.after),
    resolve: (event) => {
      // An 'added' stream yields additions only; anything else is a hub bug, not a client error.
      if (event.type !== 'added') throw new Error(`notificationAdded received a "${event.type}" event`);
      return event.notification;
    },
  }),
  inboxEvents: t.withAuth({ streamUser: true }).field({
    type: InboxEvent,
    description:
      'Everything one tab needs: additions (with replay from `after`), changes (read, unread, archived, deleted) and the exact unread count (sent first, then on every change).',
    args: afterArgs,
    subscribe: (_root, args, ctx) => openStream(ctx, 'inboxEvents', args.after),
    resolve: (event) => event,
  }),
}));

builder.mutationField('createStreamTicket', (t) =>
  t.withAuth({ user: true }).field({
    type: builder.simpleObject('StreamTicket', {
      fields: (f) => ({ ticket: f.string(), expiresAt: f.field({ type: 'DateTime' }) }),
    }),
    description:
      "A short-lived ticket for browsers' EventSource, which cannot send headers: open `GET /graphql?query=...&ticket=<ticket>` within its lifetime. It opens subscriptions only; the stream then lives as long as the token it was minted from.",
    resolve: (_root, _args, ctx) => ctx.services.authenticator.mintTicket(ctx.auth),
  }),
);
