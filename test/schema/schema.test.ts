import { readFileSync } from 'node:fs';
import { type GraphQLObjectType, lexicographicSortSchema } from 'graphql';
import { describe, expect, it } from 'vitest';
import { printedSchema, schema } from '../../src/schema/index.ts';

describe('schema.graphql', () => {
  it('matches the Pothos schema (run `npm run generate` after changing the schema)', () => {
    expect(readFileSync(new URL('../../schema.graphql', import.meta.url), 'utf8')).toBe(printedSchema());
  });

  it('keeps the client contract: names and argument types', () => {
    const signature = (type: GraphQLObjectType | null | undefined, name: string) => {
      const field = type?.getFields()[name];
      if (!field) return `missing ${name}`;
      return `${name}(${field.args.map((a) => `${a.name}: ${a.type}`).join(', ')}): ${field.type}`;
    };
    const sorted = lexicographicSortSchema(schema);
    const q = sorted.getQueryType();
    const m = sorted.getMutationType();
    const s = sorted.getSubscriptionType();
    expect(signature(q, 'notifications')).toBe(
      'notifications(after: String, before: String, filter: NotificationFilter, first: Int, last: Int): NotificationConnection!',
    );
    expect(signature(q, 'notification')).toBe('notification(id: ID!): Notification');
    expect(signature(q, 'unreadCount')).toBe('unreadCount(): Int!');
    expect(signature(q, 'notificationPreferences')).toBe('notificationPreferences(): NotificationPreferences!');
    expect(signature(m, 'emitNotification')).toMatch(/^emitNotification\(input: EmitNotificationInput!\)/);
    for (const name of ['markNotificationsRead', 'markNotificationsUnread', 'archiveNotifications', 'deleteNotifications']) {
      expect(signature(m, name)).toMatch(new RegExp(`^${name}\\(ids: \\[ID!\\]!\\)`));
    }
    expect(signature(m, 'markAllNotificationsRead')).toMatch(/^markAllNotificationsRead\(\)/);
    expect(signature(m, 'updateNotificationPreferences')).toMatch(
      /^updateNotificationPreferences\(input: UpdateNotificationPreferencesInput!\)/,
    );
    expect(signature(s, 'notificationAdded')).toBe('notificationAdded(after: String): Notification!');
    // views: optional, added with counts per view (a client that does not send it is served as before).
    expect(signature(s, 'inboxEvents')).toBe('inboxEvents(after: String, views: [CountView!]): InboxEvent!');
    expect(signature(q, 'counts')).toBe('counts(views: [CountView!]!): [ViewCounts!]!');
    for (const name of ['markNotificationsReadByFilter', 'markNotificationsSeenByFilter', 'archiveNotificationsByFilter']) {
      expect(signature(m, name)).toBe(`${name}(filter: NotificationFilter, views: [CountView!]): FilterChangePayload!`);
    }
  });
});
