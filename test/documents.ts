import { graphql } from './gql/index.ts';

/** The operations the tests run, typed by GraphQL Code Generator (`npm run codegen`). */

export const NotificationFields = graphql(`
  fragment NotificationFields on Notification {
    id
    cursor
    recipientId
    title
    body
    type
    category
    data
    read
    readAt
    archived
    createdAt
  }
`);

export const Emit = graphql(`
  mutation Emit($input: EmitNotificationInput!) {
    emitNotification(input: $input) {
      deliveredCount
      suppressedCount
      duplicateCount
      deliveries {
        recipientId
        status
        reason
        channels { email sms push }
        notification { ...NotificationFields }
      }
    }
  }
`);

export const Inbox = graphql(`
  query Inbox($first: Int, $after: String, $filter: NotificationFilter) {
    notifications(first: $first, after: $after, filter: $filter) {
      edges { cursor node { ...NotificationFields } }
      pageInfo { hasNextPage endCursor }
      streamCursor
    }
    unreadCount
  }
`);

export const OneNotification = graphql(`
  query OneNotification($id: ID!) {
    notification(id: $id) { ...NotificationFields }
  }
`);

export const UnreadCount = graphql(`
  query UnreadCount {
    unreadCount
  }
`);

export const MarkRead = graphql(`
  mutation MarkRead($ids: [ID!]!) {
    markNotificationsRead(ids: $ids) { changedCount unreadCount notifications { id read } }
  }
`);

export const MarkUnread = graphql(`
  mutation MarkUnread($ids: [ID!]!) {
    markNotificationsUnread(ids: $ids) { changedCount unreadCount }
  }
`);

export const MarkAllRead = graphql(`
  mutation MarkAllRead {
    markAllNotificationsRead { changedCount unreadCount }
  }
`);

export const Archive = graphql(`
  mutation Archive($ids: [ID!]!) {
    archiveNotifications(ids: $ids) { changedCount unreadCount notifications { id archived } }
  }
`);

export const Delete = graphql(`
  mutation Delete($ids: [ID!]!) {
    deleteNotifications(ids: $ids) { deletedIds unreadCount }
  }
`);

export const Preferences = graphql(`
  query Preferences {
    notificationPreferences { enabled email sms push mutedCategories }
  }
`);

export const UpdatePreferences = graphql(`
  mutation UpdatePreferences($input: UpdateNotificationPreferencesInput!) {
    updateNotificationPreferences(input: $input) { enabled email sms push mutedCategories }
  }
`);

export const StreamTicket = graphql(`
  mutation StreamTicket {
    createStreamTicket { ticket expiresAt }
  }
`);

export const Presence = graphql(`
  query Presence($userIds: [ID!]!) {
    presence(userIds: $userIds) { userId online }
  }
`);

export const NotificationAdded = graphql(`
  subscription NotificationAdded($after: String) {
    notificationAdded(after: $after) { id cursor title body recipientId }
  }
`);

export const InboxEvents = graphql(`
  subscription InboxEvents($after: String) {
    inboxEvents(after: $after) {
      __typename
      ... on NotificationAddedEvent { cursor notification { id title } }
      ... on NotificationChangedEvent { cursor notificationId change }
      ... on UnreadCountChangedEvent { unreadCount }
    }
  }
`);

/** What a UI shows of a notification: its text, type, link and actor. */
export const NotificationContent = graphql(`
  fragment NotificationContent on Notification {
    id
    title
    body
    type
    url
    actor { id name avatarUrl }
  }
`);

export const EmitContent = graphql(`
  mutation EmitContent($input: EmitNotificationInput!) {
    emitNotification(input: $input) {
      deliveredCount
      deliveries { notification { ...NotificationContent } }
    }
  }
`);

export const InboxContent = graphql(`
  query InboxContent {
    notifications(first: 10) { edges { node { ...NotificationContent } } streamCursor }
  }
`);

export const Counts = graphql(`
  query Counts {
    unreadCount
    unseenCount
  }
`);

export const MarkSeen = graphql(`
  mutation MarkSeen($ids: [ID!]!) {
    markNotificationsSeen(ids: $ids) { changedCount unreadCount unseenCount notifications { id read seen seenAt } }
  }
`);

export const MarkAllSeen = graphql(`
  mutation MarkAllSeen {
    markAllNotificationsSeen { changedCount unreadCount unseenCount }
  }
`);

export const EmitCritical = graphql(`
  mutation EmitCritical($input: EmitNotificationInput!) {
    emitNotification(input: $input) {
      deliveredCount
      suppressedCount
      deliveries { recipientId status reason bypassed channels { email } }
    }
  }
`);
