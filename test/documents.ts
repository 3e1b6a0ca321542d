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

/** A notification's whole state, as a client's local copy holds it (the convergence tests compare it). */
export const LogNotification = graphql(`
  fragment LogNotification on Notification {
    id
    cursor
    title
    body
    progress
    taskState
    readAt
    seenAt
    archivedAt
    updatedAt
  }
`);

/** Every event of inboxEvents with everything a client applies to its local copy. */
export const LogEvents = graphql(`
  subscription LogEvents($after: String) {
    inboxEvents(after: $after) {
      __typename
      ... on NotificationAddedEvent { cursor notification { ...LogNotification } }
      ... on NotificationUpdatedEvent { cursor notification { ...LogNotification } }
      ... on NotificationChangedEvent { cursor notificationId change readAt seenAt archivedAt }
      ... on UnreadCountChangedEvent { cursor unreadCount unseenCount }
    }
  }
`);

/** A page of the inbox as a client fetches it before listening (its state compared after catching up). */
export const LogPage = graphql(`
  query LogPage($first: Int, $after: String, $filter: NotificationFilter) {
    notifications(first: $first, after: $after, filter: $filter) {
      edges { node { ...LogNotification } }
      pageInfo { hasNextPage endCursor }
      streamCursor
    }
    unreadCount
    unseenCount
  }
`);

/** An emit that may update in place (`key`), answering each recipient's status and notification. */
export const EmitKeyed = graphql(`
  mutation EmitKeyed($input: EmitNotificationInput!) {
    emitNotification(input: $input) {
      deliveredCount
      updatedCount
      duplicateCount
      suppressedCount
      deliveries { recipientId status notification { ...LogNotification } }
    }
  }
`);

export const Unarchive = graphql(`
  mutation Unarchive($ids: [ID!]!) {
    unarchiveNotifications(ids: $ids) { changedCount unreadCount unseenCount }
  }
`);

export const Recall = graphql(`
  mutation Recall($key: String!) {
    recallNotifications(key: $key) { recalledCount }
  }
`);

/** Exact counts per view (issue 14). */
export const ViewCountsQuery = graphql(`
  query ViewCounts($views: [CountView!]!) {
    counts(views: $views) { name total unread unseen }
    unreadCount
    unseenCount
  }
`);

/** What a view test holds of a notification: what its filters select on. */
export const ViewNotification = graphql(`
  fragment ViewNotification on Notification { id category type readAt seenAt archivedAt }
`);

export const ViewPage = graphql(`
  query ViewPage($filter: NotificationFilter) {
    notifications(first: 100, filter: $filter) {
      edges { node { ...ViewNotification } }
      pageInfo { hasNextPage }
      streamCursor
    }
  }
`);

export const ViewEvents = graphql(`
  subscription ViewEvents($after: String, $views: [CountView!]) {
    inboxEvents(after: $after, views: $views) {
      __typename
      ... on NotificationAddedEvent { cursor notification { ...ViewNotification } }
      ... on NotificationUpdatedEvent { cursor notification { ...ViewNotification } }
      ... on NotificationChangedEvent { cursor notificationId change readAt seenAt archivedAt }
      ... on UnreadCountChangedEvent { cursor unreadCount unseenCount }
      ... on CountsChangedEvent { cursor counts { name total unread unseen } }
    }
  }
`);

export const EmitView = graphql(`
  mutation EmitView($input: EmitNotificationInput!) {
    emitNotification(input: $input) { deliveries { status notification { id } } }
  }
`);

export const ReadByFilter = graphql(`
  mutation ReadByFilter($filter: NotificationFilter, $views: [CountView!]) {
    markNotificationsReadByFilter(filter: $filter, views: $views) {
      changedCount hasMore unreadCount unseenCount cursor counts { name total unread unseen }
    }
  }
`);

export const SeenByFilter = graphql(`
  mutation SeenByFilter($filter: NotificationFilter, $views: [CountView!]) {
    markNotificationsSeenByFilter(filter: $filter, views: $views) {
      changedCount hasMore unreadCount unseenCount cursor counts { name total unread unseen }
    }
  }
`);

export const ArchiveByFilter = graphql(`
  mutation ArchiveByFilter($filter: NotificationFilter, $views: [CountView!]) {
    archiveNotificationsByFilter(filter: $filter, views: $views) {
      changedCount hasMore unreadCount unseenCount cursor counts { name total unread unseen }
    }
  }
`);

export const EmitExpiring = graphql(`
  mutation EmitExpiring($input: EmitNotificationInput!) {
    emitNotification(input: $input) { deliveries { status notification { id cursor expiresAt } } }
  }
`);
