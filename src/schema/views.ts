import { encodeCursor } from '../domain/cursor.ts';
import type { ViewCounts } from '../domain/views.ts';
import { changeByFilter, FILTER_CHANGE_LIMIT } from '../notifications/inbox.ts';
import { MAX_VIEWS, parseViews, viewCounts } from '../notifications/views.ts';
import type { FilterChange } from '../store/inbox-changes.ts';
import { builder } from './builder.ts';
import { NotificationFilter } from './notification.ts';

export const CountViewInput = builder.inputType('CountView', {
  description: 'A view of the inbox whose counts a client wants: a name of its choice and the filter its list uses.',
  fields: (t) => ({
    name: t.string({
      required: true,
      description: '1-100 characters, unique among the views of one call; answered back in `ViewCounts.name`.',
    }),
    filter: t.field({
      type: NotificationFilter,
      required: false,
      description: 'What the view lists, as `notifications(filter)` does (absent: the default view, unarchived).',
    }),
  }),
});

export const ViewCountsRef = builder.objectRef<ViewCounts>('ViewCounts').implement({
  description: 'The exact counts of one view: what `notifications(filter: <its filter>)` lists.',
  fields: (t) => ({
    name: t.exposeString('name'),
    total: t.exposeInt('total', { description: 'Notifications the view lists.' }),
    unread: t.exposeInt('unread', { description: 'Of those, unread.' }),
    unseen: t.exposeInt('unseen', { description: 'Of those, unseen.' }),
  }),
});

export const viewsArgs = builder.args((t) => ({
  views: t.field({
    type: [CountViewInput],
    required: true,
    description: `At most ${MAX_VIEWS} views (BAD_USER_INPUT beyond).`,
  }),
}));

builder.queryFields((t) => ({
  counts: t.withAuth({ user: true }).field({
    type: [ViewCountsRef],
    description: `The exact counts of up to ${MAX_VIEWS} views of the caller's inbox, in the order asked (one indexed read, whatever the size of the inbox).`,
    args: viewsArgs,
    resolve: (_root, args, ctx) => viewCounts(ctx.services.db.sql, ctx.auth.userId, parseViews(args.views)),
  }),
}));

const FilterChangePayload = builder.simpleObject('FilterChangePayload', {
  fields: (t) => ({
    changedCount: t.int({ description: 'How many notifications changed state in this call.' }),
    hasMore: t.boolean({
      description: `More notifications match than one call changes (${FILTER_CHANGE_LIMIT.toLocaleString('en')}): call again with the same filter.`,
    }),
    unreadCount: t.int(),
    unseenCount: t.int(),
    cursor: t.string({ description: "The inbox's position after the change: every count here is exact at it." }),
    counts: t.field({ type: [ViewCountsRef], description: 'The counts of the `views` asked for, read in the same transaction.' }),
  }),
});

const filterChangeArgs = builder.args((t) => ({
  filter: t.field({
    type: NotificationFilter,
    required: false,
    description: 'What to change: what `notifications(filter)` lists (absent: the default view, unarchived).',
  }),
  views: t.field({ type: [CountViewInput], required: false, description: `Up to ${MAX_VIEWS} views whose counts to answer.` }),
}));

builder.mutationFields((t) => {
  const byFilter = (action: FilterChange, description: string) =>
    t.withAuth({ user: true }).field({
      type: FilterChangePayload,
      description: `${description} Everything the filter selects, up to ${FILTER_CHANGE_LIMIT.toLocaleString('en')} notifications per call, oldest first (\`hasMore\`: call again), in one transaction: each change on the inbox's log and streams.`,
      args: filterChangeArgs,
      resolve: async (_root, args, ctx) => {
        const views = parseViews(args.views ?? []);
        const r = await changeByFilter(
          { sql: ctx.services.db.sql, bus: ctx.services.bus, log: ctx.services.log },
          ctx.auth.userId,
          action,
          args.filter,
          views,
        );
        return { ...r, cursor: encodeCursor(r.lastSeq) };
      },
    });
  return {
    markNotificationsReadByFilter: byFilter('READ', 'Marks read (and seen) what a filter selects.'),
    markNotificationsSeenByFilter: byFilter('SEEN', 'Marks seen what a filter selects.'),
    archiveNotificationsByFilter: byFilter('ARCHIVED', 'Archives what a filter selects.'),
  };
});
