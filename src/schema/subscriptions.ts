import { type Context, unauthenticated } from '../context.ts';
import type { StreamEvent } from '../delivery/hub.ts';
import { decodeCursor } from '../domain/cursor.ts';
import type { ChangeKind } from '../domain/messages.ts';
import type { CountView } from '../domain/views.ts';
import { MAX_VIEWS, parseViews } from '../notifications/views.ts';
import { builder } from './builder.ts';
import { NotificationRef } from './notification.ts';
import { CountViewInput, ViewCountsRef } from './views.ts';

type Added = Extract<StreamEvent, { type: 'added' }>;
type Updated = Extract<StreamEvent, { type: 'updated' }>;
type Changed = Extract<StreamEvent, { type: 'changed' }>;
type Unread = Extract<StreamEvent, { type: 'unread' }>;
type ViewCountsEvent = Extract<StreamEvent, { type: 'counts' }>;

const NotificationChange = builder.enumType('NotificationChange', {
  values: ['READ', 'UNREAD', 'SEEN', 'ARCHIVED', 'UNARCHIVED', 'DELETED', 'EXPIRED'] as const satisfies readonly ChangeKind[],
  description: 'How a notification changed. EXPIRED: its `expiresAt` passed and it left the inbox (a replay reports it as DELETED).',
});

const NotificationAddedEvent = builder.objectRef<Added>('NotificationAddedEvent').implement({
  description: 'A notification new to the client, in its latest state (replayed: as it is now).',
  fields: (t) => ({
    cursor: t.exposeString('cursor', { description: "The event's position in the inbox's log (its SSE id)." }),
    notification: t.field({ type: NotificationRef, resolve: (e) => e.notification }),
  }),
});

const NotificationUpdatedEvent = builder.objectRef<Updated>('NotificationUpdatedEvent').implement({
  description:
    'A notification the client has, in its latest state: replace what it holds. Live: an emit with its `key` updated it in place. Replayed after a cursor: it changed after the cursor (its content, read, seen or archived), however many times.',
  fields: (t) => ({
    cursor: t.exposeString('cursor', { description: "The position of the notification's latest change (the event's SSE id)." }),
    notification: t.field({ type: NotificationRef, resolve: (e) => e.notification }),
  }),
});

const NotificationChangedEvent = builder.objectRef<Changed>('NotificationChangedEvent').implement({
  description: "A change of a notification's state (read, unread, seen, archived, unarchived), or its deletion.",
  fields: (t) => ({
    cursor: t.exposeString('cursor', { description: "The change's position in the inbox's log (its SSE id)." }),
    notificationId: t.exposeID('notificationId'),
    change: t.field({ type: NotificationChange, resolve: (e) => e.change }),
    readAt: t.field({ type: 'DateTime', nullable: true, resolve: (e) => e.readAt }),
    seenAt: t.field({ type: 'DateTime', nullable: true, resolve: (e) => e.seenAt }),
    archivedAt: t.field({ type: 'DateTime', nullable: true, resolve: (e) => e.archivedAt }),
  }),
});

const UnreadCountChangedEvent = builder.objectRef<Unread>('UnreadCountChangedEvent').implement({
  description: 'The exact counts after the events before it: unread (the list) and unseen (the bell badge).',
  fields: (t) => ({
    cursor: t.exposeString('cursor', { description: 'The position the counts are exact at (the SSE id).' }),
    unreadCount: t.exposeInt('unreadCount'),
    unseenCount: t.exposeInt('unseenCount'),
  }),
});

const CountsChangedEvent = builder.objectRef<ViewCountsEvent>('CountsChangedEvent').implement({
  description:
    'The exact counts of the views the subscription asked for (`inboxEvents(views:)`), at `cursor`: after every event up to it and before any after it. Sent when they moved (and once after the replay).',
  fields: (t) => ({
    cursor: t.exposeString('cursor', { description: 'The position the counts are exact at (the SSE id).' }),
    counts: t.field({ type: [ViewCountsRef], resolve: (e) => e.counts }),
  }),
});

const EVENT_TYPES = {
  added: 'NotificationAddedEvent',
  updated: 'NotificationUpdatedEvent',
  changed: 'NotificationChangedEvent',
  unread: 'UnreadCountChangedEvent',
  counts: 'CountsChangedEvent',
} as const satisfies Record<StreamEvent['type'], string>;

const InboxEvent = builder.unionType('InboxEvent', {
  types: [NotificationAddedEvent, NotificationUpdatedEvent, NotificationChangedEvent, UnreadCountChangedEvent, CountsChangedEvent],
  resolveType: (event) => EVENT_TYPES[event.type],
});

/** The subscription fields and the kind of hub stream each opens. */
export const STREAM_FIELDS = { notificationAdded: 'added', inboxEvents: 'inbox' } as const;
export type StreamField = keyof typeof STREAM_FIELDS;

/**
 * Opens the caller's stream for a subscription field (the schema's `subscribe` and the SSE endpoint
 * share it). The caller must be authenticated (a bearer token or a stream ticket).
 */
export async function openStream(
  ctx: Context,
  field: StreamField,
  after: string | null | undefined,
  views?: readonly CountView[] | undefined,
) {
  const { auth } = ctx;
  if (!auth) throw unauthenticated(ctx);
  return ctx.services.hub.open({
    userId: auth.userId,
    kind: STREAM_FIELDS[field],
    after: resumePoint(ctx, after),
    expiresAt: auth.expiresAt,
    views,
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
      'Start after this cursor (a streamCursor, an edge cursor, a Notification.cursor or the last event id seen): missed events first, then live, with no gap and no duplicate. Unknown or older than retention: CURSOR_EXPIRED (refetch, then subscribe from the new streamCursor).',
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
      "Everything one tab needs, every event at its position in the inbox's log (its `cursor`, the SSE id). From `after`: every change since, coalesced (each notification once, in its latest state: NotificationAddedEvent if it is new, NotificationUpdatedEvent if it changed, NotificationChangedEvent DELETED if it was deleted), then the exact counts, then live: additions, updates in place, changes and the counts after each.",
    args: {
      ...afterArgs,
      views: t.arg({
        type: [CountViewInput],
        required: false,
        description: `Up to ${MAX_VIEWS} views whose exact counts the stream pushes as CountsChangedEvent (after the replay, then whenever they move). Without views: UnreadCountChangedEvent only.`,
      }),
    },
    subscribe: (_root, args, ctx) => openStream(ctx, 'inboxEvents', args.after, args.views ? parseViews(args.views) : undefined),
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
