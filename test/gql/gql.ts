/* eslint-disable */
import * as types from './graphql.js';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  fragment NotificationFields on Notification {\n    id\n    cursor\n    recipientId\n    title\n    body\n    type\n    category\n    data\n    read\n    readAt\n    archived\n    createdAt\n  }\n": typeof types.NotificationFieldsFragmentDoc,
    "\n  mutation Emit($input: EmitNotificationInput!) {\n    emitNotification(input: $input) {\n      deliveredCount\n      suppressedCount\n      duplicateCount\n      deliveries {\n        recipientId\n        status\n        reason\n        channels { email sms push }\n        notification { ...NotificationFields }\n      }\n    }\n  }\n": typeof types.EmitDocument,
    "\n  query Inbox($first: Int, $after: String, $filter: NotificationFilter) {\n    notifications(first: $first, after: $after, filter: $filter) {\n      edges { cursor node { ...NotificationFields } }\n      pageInfo { hasNextPage endCursor }\n      streamCursor\n    }\n    unreadCount\n  }\n": typeof types.InboxDocument,
    "\n  query OneNotification($id: ID!) {\n    notification(id: $id) { ...NotificationFields }\n  }\n": typeof types.OneNotificationDocument,
    "\n  query UnreadCount {\n    unreadCount\n  }\n": typeof types.UnreadCountDocument,
    "\n  mutation MarkRead($ids: [ID!]!) {\n    markNotificationsRead(ids: $ids) { changedCount unreadCount notifications { id read } }\n  }\n": typeof types.MarkReadDocument,
    "\n  mutation MarkUnread($ids: [ID!]!) {\n    markNotificationsUnread(ids: $ids) { changedCount unreadCount }\n  }\n": typeof types.MarkUnreadDocument,
    "\n  mutation MarkAllRead {\n    markAllNotificationsRead { changedCount unreadCount }\n  }\n": typeof types.MarkAllReadDocument,
    "\n  mutation Archive($ids: [ID!]!) {\n    archiveNotifications(ids: $ids) { changedCount unreadCount notifications { id archived } }\n  }\n": typeof types.ArchiveDocument,
    "\n  mutation Delete($ids: [ID!]!) {\n    deleteNotifications(ids: $ids) { deletedIds unreadCount }\n  }\n": typeof types.DeleteDocument,
    "\n  query Preferences {\n    notificationPreferences { enabled email sms push mutedCategories }\n  }\n": typeof types.PreferencesDocument,
    "\n  mutation UpdatePreferences($input: UpdateNotificationPreferencesInput!) {\n    updateNotificationPreferences(input: $input) { enabled email sms push mutedCategories }\n  }\n": typeof types.UpdatePreferencesDocument,
    "\n  mutation StreamTicket {\n    createStreamTicket { ticket expiresAt }\n  }\n": typeof types.StreamTicketDocument,
    "\n  query Presence($userIds: [ID!]!) {\n    presence(userIds: $userIds) { userId online }\n  }\n": typeof types.PresenceDocument,
    "\n  subscription NotificationAdded($after: String) {\n    notificationAdded(after: $after) { id cursor title body recipientId }\n  }\n": typeof types.NotificationAddedDocument,
    "\n  subscription InboxEvents($after: String) {\n    inboxEvents(after: $after) {\n      __typename\n      ... on NotificationAddedEvent { cursor notification { id title } }\n      ... on NotificationChangedEvent { cursor notificationId change }\n      ... on UnreadCountChangedEvent { unreadCount }\n    }\n  }\n": typeof types.InboxEventsDocument,
    "\n  fragment NotificationContent on Notification {\n    id\n    title\n    body\n    type\n    url\n    actor { id name avatarUrl }\n  }\n": typeof types.NotificationContentFragmentDoc,
    "\n  mutation EmitContent($input: EmitNotificationInput!) {\n    emitNotification(input: $input) {\n      deliveredCount\n      deliveries { notification { ...NotificationContent } }\n    }\n  }\n": typeof types.EmitContentDocument,
    "\n  query InboxContent {\n    notifications(first: 10) { edges { node { ...NotificationContent } } streamCursor }\n  }\n": typeof types.InboxContentDocument,
    "\n  query Counts {\n    unreadCount\n    unseenCount\n  }\n": typeof types.CountsDocument,
    "\n  mutation MarkSeen($ids: [ID!]!) {\n    markNotificationsSeen(ids: $ids) { changedCount unreadCount unseenCount notifications { id read seen seenAt } }\n  }\n": typeof types.MarkSeenDocument,
    "\n  mutation MarkAllSeen {\n    markAllNotificationsSeen { changedCount unreadCount unseenCount }\n  }\n": typeof types.MarkAllSeenDocument,
    "\n  mutation EmitCritical($input: EmitNotificationInput!) {\n    emitNotification(input: $input) {\n      deliveredCount\n      suppressedCount\n      deliveries { recipientId status reason bypassed channels { email } }\n    }\n  }\n": typeof types.EmitCriticalDocument,
    "\n  fragment LogNotification on Notification {\n    id\n    cursor\n    title\n    body\n    progress\n    taskState\n    readAt\n    seenAt\n    archivedAt\n    updatedAt\n  }\n": typeof types.LogNotificationFragmentDoc,
    "\n  subscription LogEvents($after: String) {\n    inboxEvents(after: $after) {\n      __typename\n      ... on NotificationAddedEvent { cursor notification { ...LogNotification } }\n      ... on NotificationUpdatedEvent { cursor notification { ...LogNotification } }\n      ... on NotificationChangedEvent { cursor notificationId change readAt seenAt archivedAt }\n      ... on UnreadCountChangedEvent { cursor unreadCount unseenCount }\n    }\n  }\n": typeof types.LogEventsDocument,
    "\n  query LogPage($first: Int, $after: String, $filter: NotificationFilter) {\n    notifications(first: $first, after: $after, filter: $filter) {\n      edges { node { ...LogNotification } }\n      pageInfo { hasNextPage endCursor }\n      streamCursor\n    }\n    unreadCount\n    unseenCount\n  }\n": typeof types.LogPageDocument,
    "\n  mutation EmitKeyed($input: EmitNotificationInput!) {\n    emitNotification(input: $input) {\n      deliveredCount\n      updatedCount\n      duplicateCount\n      suppressedCount\n      deliveries { recipientId status notification { ...LogNotification } }\n    }\n  }\n": typeof types.EmitKeyedDocument,
    "\n  mutation Unarchive($ids: [ID!]!) {\n    unarchiveNotifications(ids: $ids) { changedCount unreadCount unseenCount }\n  }\n": typeof types.UnarchiveDocument,
    "\n  mutation Recall($key: String!) {\n    recallNotifications(key: $key) { recalledCount }\n  }\n": typeof types.RecallDocument,
    "\n  query ViewCounts($views: [CountView!]!) {\n    counts(views: $views) { name total unread unseen }\n    unreadCount\n    unseenCount\n  }\n": typeof types.ViewCountsDocument,
    "\n  fragment ViewNotification on Notification { id category type readAt seenAt archivedAt }\n": typeof types.ViewNotificationFragmentDoc,
    "\n  query ViewPage($filter: NotificationFilter) {\n    notifications(first: 100, filter: $filter) {\n      edges { node { ...ViewNotification } }\n      pageInfo { hasNextPage }\n      streamCursor\n    }\n  }\n": typeof types.ViewPageDocument,
    "\n  subscription ViewEvents($after: String, $views: [CountView!]) {\n    inboxEvents(after: $after, views: $views) {\n      __typename\n      ... on NotificationAddedEvent { cursor notification { ...ViewNotification } }\n      ... on NotificationUpdatedEvent { cursor notification { ...ViewNotification } }\n      ... on NotificationChangedEvent { cursor notificationId change readAt seenAt archivedAt }\n      ... on UnreadCountChangedEvent { cursor unreadCount unseenCount }\n      ... on CountsChangedEvent { cursor counts { name total unread unseen } }\n    }\n  }\n": typeof types.ViewEventsDocument,
    "\n  mutation EmitView($input: EmitNotificationInput!) {\n    emitNotification(input: $input) { deliveries { status notification { id } } }\n  }\n": typeof types.EmitViewDocument,
    "\n  mutation ReadByFilter($filter: NotificationFilter, $views: [CountView!]) {\n    markNotificationsReadByFilter(filter: $filter, views: $views) {\n      changedCount hasMore unreadCount unseenCount cursor counts { name total unread unseen }\n    }\n  }\n": typeof types.ReadByFilterDocument,
    "\n  mutation SeenByFilter($filter: NotificationFilter, $views: [CountView!]) {\n    markNotificationsSeenByFilter(filter: $filter, views: $views) {\n      changedCount hasMore unreadCount unseenCount cursor counts { name total unread unseen }\n    }\n  }\n": typeof types.SeenByFilterDocument,
    "\n  mutation ArchiveByFilter($filter: NotificationFilter, $views: [CountView!]) {\n    archiveNotificationsByFilter(filter: $filter, views: $views) {\n      changedCount hasMore unreadCount unseenCount cursor counts { name total unread unseen }\n    }\n  }\n": typeof types.ArchiveByFilterDocument,
    "\n  mutation EmitExpiring($input: EmitNotificationInput!) {\n    emitNotification(input: $input) { deliveries { status notification { id cursor expiresAt } } }\n  }\n": typeof types.EmitExpiringDocument,
};
const documents: Documents = {
    "\n  fragment NotificationFields on Notification {\n    id\n    cursor\n    recipientId\n    title\n    body\n    type\n    category\n    data\n    read\n    readAt\n    archived\n    createdAt\n  }\n": types.NotificationFieldsFragmentDoc,
    "\n  mutation Emit($input: EmitNotificationInput!) {\n    emitNotification(input: $input) {\n      deliveredCount\n      suppressedCount\n      duplicateCount\n      deliveries {\n        recipientId\n        status\n        reason\n        channels { email sms push }\n        notification { ...NotificationFields }\n      }\n    }\n  }\n": types.EmitDocument,
    "\n  query Inbox($first: Int, $after: String, $filter: NotificationFilter) {\n    notifications(first: $first, after: $after, filter: $filter) {\n      edges { cursor node { ...NotificationFields } }\n      pageInfo { hasNextPage endCursor }\n      streamCursor\n    }\n    unreadCount\n  }\n": types.InboxDocument,
    "\n  query OneNotification($id: ID!) {\n    notification(id: $id) { ...NotificationFields }\n  }\n": types.OneNotificationDocument,
    "\n  query UnreadCount {\n    unreadCount\n  }\n": types.UnreadCountDocument,
    "\n  mutation MarkRead($ids: [ID!]!) {\n    markNotificationsRead(ids: $ids) { changedCount unreadCount notifications { id read } }\n  }\n": types.MarkReadDocument,
    "\n  mutation MarkUnread($ids: [ID!]!) {\n    markNotificationsUnread(ids: $ids) { changedCount unreadCount }\n  }\n": types.MarkUnreadDocument,
    "\n  mutation MarkAllRead {\n    markAllNotificationsRead { changedCount unreadCount }\n  }\n": types.MarkAllReadDocument,
    "\n  mutation Archive($ids: [ID!]!) {\n    archiveNotifications(ids: $ids) { changedCount unreadCount notifications { id archived } }\n  }\n": types.ArchiveDocument,
    "\n  mutation Delete($ids: [ID!]!) {\n    deleteNotifications(ids: $ids) { deletedIds unreadCount }\n  }\n": types.DeleteDocument,
    "\n  query Preferences {\n    notificationPreferences { enabled email sms push mutedCategories }\n  }\n": types.PreferencesDocument,
    "\n  mutation UpdatePreferences($input: UpdateNotificationPreferencesInput!) {\n    updateNotificationPreferences(input: $input) { enabled email sms push mutedCategories }\n  }\n": types.UpdatePreferencesDocument,
    "\n  mutation StreamTicket {\n    createStreamTicket { ticket expiresAt }\n  }\n": types.StreamTicketDocument,
    "\n  query Presence($userIds: [ID!]!) {\n    presence(userIds: $userIds) { userId online }\n  }\n": types.PresenceDocument,
    "\n  subscription NotificationAdded($after: String) {\n    notificationAdded(after: $after) { id cursor title body recipientId }\n  }\n": types.NotificationAddedDocument,
    "\n  subscription InboxEvents($after: String) {\n    inboxEvents(after: $after) {\n      __typename\n      ... on NotificationAddedEvent { cursor notification { id title } }\n      ... on NotificationChangedEvent { cursor notificationId change }\n      ... on UnreadCountChangedEvent { unreadCount }\n    }\n  }\n": types.InboxEventsDocument,
    "\n  fragment NotificationContent on Notification {\n    id\n    title\n    body\n    type\n    url\n    actor { id name avatarUrl }\n  }\n": types.NotificationContentFragmentDoc,
    "\n  mutation EmitContent($input: EmitNotificationInput!) {\n    emitNotification(input: $input) {\n      deliveredCount\n      deliveries { notification { ...NotificationContent } }\n    }\n  }\n": types.EmitContentDocument,
    "\n  query InboxContent {\n    notifications(first: 10) { edges { node { ...NotificationContent } } streamCursor }\n  }\n": types.InboxContentDocument,
    "\n  query Counts {\n    unreadCount\n    unseenCount\n  }\n": types.CountsDocument,
    "\n  mutation MarkSeen($ids: [ID!]!) {\n    markNotificationsSeen(ids: $ids) { changedCount unreadCount unseenCount notifications { id read seen seenAt } }\n  }\n": types.MarkSeenDocument,
    "\n  mutation MarkAllSeen {\n    markAllNotificationsSeen { changedCount unreadCount unseenCount }\n  }\n": types.MarkAllSeenDocument,
    "\n  mutation EmitCritical($input: EmitNotificationInput!) {\n    emitNotification(input: $input) {\n      deliveredCount\n      suppressedCount\n      deliveries { recipientId status reason bypassed channels { email } }\n    }\n  }\n": types.EmitCriticalDocument,
    "\n  fragment LogNotification on Notification {\n    id\n    cursor\n    title\n    body\n    progress\n    taskState\n    readAt\n    seenAt\n    archivedAt\n    updatedAt\n  }\n": types.LogNotificationFragmentDoc,
    "\n  subscription LogEvents($after: String) {\n    inboxEvents(after: $after) {\n      __typename\n      ... on NotificationAddedEvent { cursor notification { ...LogNotification } }\n      ... on NotificationUpdatedEvent { cursor notification { ...LogNotification } }\n      ... on NotificationChangedEvent { cursor notificationId change readAt seenAt archivedAt }\n      ... on UnreadCountChangedEvent { cursor unreadCount unseenCount }\n    }\n  }\n": types.LogEventsDocument,
    "\n  query LogPage($first: Int, $after: String, $filter: NotificationFilter) {\n    notifications(first: $first, after: $after, filter: $filter) {\n      edges { node { ...LogNotification } }\n      pageInfo { hasNextPage endCursor }\n      streamCursor\n    }\n    unreadCount\n    unseenCount\n  }\n": types.LogPageDocument,
    "\n  mutation EmitKeyed($input: EmitNotificationInput!) {\n    emitNotification(input: $input) {\n      deliveredCount\n      updatedCount\n      duplicateCount\n      suppressedCount\n      deliveries { recipientId status notification { ...LogNotification } }\n    }\n  }\n": types.EmitKeyedDocument,
    "\n  mutation Unarchive($ids: [ID!]!) {\n    unarchiveNotifications(ids: $ids) { changedCount unreadCount unseenCount }\n  }\n": types.UnarchiveDocument,
    "\n  mutation Recall($key: String!) {\n    recallNotifications(key: $key) { recalledCount }\n  }\n": types.RecallDocument,
    "\n  query ViewCounts($views: [CountView!]!) {\n    counts(views: $views) { name total unread unseen }\n    unreadCount\n    unseenCount\n  }\n": types.ViewCountsDocument,
    "\n  fragment ViewNotification on Notification { id category type readAt seenAt archivedAt }\n": types.ViewNotificationFragmentDoc,
    "\n  query ViewPage($filter: NotificationFilter) {\n    notifications(first: 100, filter: $filter) {\n      edges { node { ...ViewNotification } }\n      pageInfo { hasNextPage }\n      streamCursor\n    }\n  }\n": types.ViewPageDocument,
    "\n  subscription ViewEvents($after: String, $views: [CountView!]) {\n    inboxEvents(after: $after, views: $views) {\n      __typename\n      ... on NotificationAddedEvent { cursor notification { ...ViewNotification } }\n      ... on NotificationUpdatedEvent { cursor notification { ...ViewNotification } }\n      ... on NotificationChangedEvent { cursor notificationId change readAt seenAt archivedAt }\n      ... on UnreadCountChangedEvent { cursor unreadCount unseenCount }\n      ... on CountsChangedEvent { cursor counts { name total unread unseen } }\n    }\n  }\n": types.ViewEventsDocument,
    "\n  mutation EmitView($input: EmitNotificationInput!) {\n    emitNotification(input: $input) { deliveries { status notification { id } } }\n  }\n": types.EmitViewDocument,
    "\n  mutation ReadByFilter($filter: NotificationFilter, $views: [CountView!]) {\n    markNotificationsReadByFilter(filter: $filter, views: $views) {\n      changedCount hasMore unreadCount unseenCount cursor counts { name total unread unseen }\n    }\n  }\n": types.ReadByFilterDocument,
    "\n  mutation SeenByFilter($filter: NotificationFilter, $views: [CountView!]) {\n    markNotificationsSeenByFilter(filter: $filter, views: $views) {\n      changedCount hasMore unreadCount unseenCount cursor counts { name total unread unseen }\n    }\n  }\n": types.SeenByFilterDocument,
    "\n  mutation ArchiveByFilter($filter: NotificationFilter, $views: [CountView!]) {\n    archiveNotificationsByFilter(filter: $filter, views: $views) {\n      changedCount hasMore unreadCount unseenCount cursor counts { name total unread unseen }\n    }\n  }\n": types.ArchiveByFilterDocument,
    "\n  mutation EmitExpiring($input: EmitNotificationInput!) {\n    emitNotification(input: $input) { deliveries { status notification { id cursor expiresAt } } }\n  }\n": types.EmitExpiringDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment NotificationFields on Notification {\n    id\n    cursor\n    recipientId\n    title\n    body\n    type\n    category\n    data\n    read\n    readAt\n    archived\n    createdAt\n  }\n"): (typeof documents)["\n  fragment NotificationFields on Notification {\n    id\n    cursor\n    recipientId\n    title\n    body\n    type\n    category\n    data\n    read\n    readAt\n    archived\n    createdAt\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation Emit($input: EmitNotificationInput!) {\n    emitNotification(input: $input) {\n      deliveredCount\n      suppressedCount\n      duplicateCount\n      deliveries {\n        recipientId\n        status\n        reason\n        channels { email sms push }\n        notification { ...NotificationFields }\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation Emit($input: EmitNotificationInput!) {\n    emitNotification(input: $input) {\n      deliveredCount\n      suppressedCount\n      duplicateCount\n      deliveries {\n        recipientId\n        status\n        reason\n        channels { email sms push }\n        notification { ...NotificationFields }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Inbox($first: Int, $after: String, $filter: NotificationFilter) {\n    notifications(first: $first, after: $after, filter: $filter) {\n      edges { cursor node { ...NotificationFields } }\n      pageInfo { hasNextPage endCursor }\n      streamCursor\n    }\n    unreadCount\n  }\n"): (typeof documents)["\n  query Inbox($first: Int, $after: String, $filter: NotificationFilter) {\n    notifications(first: $first, after: $after, filter: $filter) {\n      edges { cursor node { ...NotificationFields } }\n      pageInfo { hasNextPage endCursor }\n      streamCursor\n    }\n    unreadCount\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query OneNotification($id: ID!) {\n    notification(id: $id) { ...NotificationFields }\n  }\n"): (typeof documents)["\n  query OneNotification($id: ID!) {\n    notification(id: $id) { ...NotificationFields }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query UnreadCount {\n    unreadCount\n  }\n"): (typeof documents)["\n  query UnreadCount {\n    unreadCount\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation MarkRead($ids: [ID!]!) {\n    markNotificationsRead(ids: $ids) { changedCount unreadCount notifications { id read } }\n  }\n"): (typeof documents)["\n  mutation MarkRead($ids: [ID!]!) {\n    markNotificationsRead(ids: $ids) { changedCount unreadCount notifications { id read } }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation MarkUnread($ids: [ID!]!) {\n    markNotificationsUnread(ids: $ids) { changedCount unreadCount }\n  }\n"): (typeof documents)["\n  mutation MarkUnread($ids: [ID!]!) {\n    markNotificationsUnread(ids: $ids) { changedCount unreadCount }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation MarkAllRead {\n    markAllNotificationsRead { changedCount unreadCount }\n  }\n"): (typeof documents)["\n  mutation MarkAllRead {\n    markAllNotificationsRead { changedCount unreadCount }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation Archive($ids: [ID!]!) {\n    archiveNotifications(ids: $ids) { changedCount unreadCount notifications { id archived } }\n  }\n"): (typeof documents)["\n  mutation Archive($ids: [ID!]!) {\n    archiveNotifications(ids: $ids) { changedCount unreadCount notifications { id archived } }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation Delete($ids: [ID!]!) {\n    deleteNotifications(ids: $ids) { deletedIds unreadCount }\n  }\n"): (typeof documents)["\n  mutation Delete($ids: [ID!]!) {\n    deleteNotifications(ids: $ids) { deletedIds unreadCount }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Preferences {\n    notificationPreferences { enabled email sms push mutedCategories }\n  }\n"): (typeof documents)["\n  query Preferences {\n    notificationPreferences { enabled email sms push mutedCategories }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation UpdatePreferences($input: UpdateNotificationPreferencesInput!) {\n    updateNotificationPreferences(input: $input) { enabled email sms push mutedCategories }\n  }\n"): (typeof documents)["\n  mutation UpdatePreferences($input: UpdateNotificationPreferencesInput!) {\n    updateNotificationPreferences(input: $input) { enabled email sms push mutedCategories }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation StreamTicket {\n    createStreamTicket { ticket expiresAt }\n  }\n"): (typeof documents)["\n  mutation StreamTicket {\n    createStreamTicket { ticket expiresAt }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Presence($userIds: [ID!]!) {\n    presence(userIds: $userIds) { userId online }\n  }\n"): (typeof documents)["\n  query Presence($userIds: [ID!]!) {\n    presence(userIds: $userIds) { userId online }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription NotificationAdded($after: String) {\n    notificationAdded(after: $after) { id cursor title body recipientId }\n  }\n"): (typeof documents)["\n  subscription NotificationAdded($after: String) {\n    notificationAdded(after: $after) { id cursor title body recipientId }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription InboxEvents($after: String) {\n    inboxEvents(after: $after) {\n      __typename\n      ... on NotificationAddedEvent { cursor notification { id title } }\n      ... on NotificationChangedEvent { cursor notificationId change }\n      ... on UnreadCountChangedEvent { unreadCount }\n    }\n  }\n"): (typeof documents)["\n  subscription InboxEvents($after: String) {\n    inboxEvents(after: $after) {\n      __typename\n      ... on NotificationAddedEvent { cursor notification { id title } }\n      ... on NotificationChangedEvent { cursor notificationId change }\n      ... on UnreadCountChangedEvent { unreadCount }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment NotificationContent on Notification {\n    id\n    title\n    body\n    type\n    url\n    actor { id name avatarUrl }\n  }\n"): (typeof documents)["\n  fragment NotificationContent on Notification {\n    id\n    title\n    body\n    type\n    url\n    actor { id name avatarUrl }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation EmitContent($input: EmitNotificationInput!) {\n    emitNotification(input: $input) {\n      deliveredCount\n      deliveries { notification { ...NotificationContent } }\n    }\n  }\n"): (typeof documents)["\n  mutation EmitContent($input: EmitNotificationInput!) {\n    emitNotification(input: $input) {\n      deliveredCount\n      deliveries { notification { ...NotificationContent } }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query InboxContent {\n    notifications(first: 10) { edges { node { ...NotificationContent } } streamCursor }\n  }\n"): (typeof documents)["\n  query InboxContent {\n    notifications(first: 10) { edges { node { ...NotificationContent } } streamCursor }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Counts {\n    unreadCount\n    unseenCount\n  }\n"): (typeof documents)["\n  query Counts {\n    unreadCount\n    unseenCount\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation MarkSeen($ids: [ID!]!) {\n    markNotificationsSeen(ids: $ids) { changedCount unreadCount unseenCount notifications { id read seen seenAt } }\n  }\n"): (typeof documents)["\n  mutation MarkSeen($ids: [ID!]!) {\n    markNotificationsSeen(ids: $ids) { changedCount unreadCount unseenCount notifications { id read seen seenAt } }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation MarkAllSeen {\n    markAllNotificationsSeen { changedCount unreadCount unseenCount }\n  }\n"): (typeof documents)["\n  mutation MarkAllSeen {\n    markAllNotificationsSeen { changedCount unreadCount unseenCount }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation EmitCritical($input: EmitNotificationInput!) {\n    emitNotification(input: $input) {\n      deliveredCount\n      suppressedCount\n      deliveries { recipientId status reason bypassed channels { email } }\n    }\n  }\n"): (typeof documents)["\n  mutation EmitCritical($input: EmitNotificationInput!) {\n    emitNotification(input: $input) {\n      deliveredCount\n      suppressedCount\n      deliveries { recipientId status reason bypassed channels { email } }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment LogNotification on Notification {\n    id\n    cursor\n    title\n    body\n    progress\n    taskState\n    readAt\n    seenAt\n    archivedAt\n    updatedAt\n  }\n"): (typeof documents)["\n  fragment LogNotification on Notification {\n    id\n    cursor\n    title\n    body\n    progress\n    taskState\n    readAt\n    seenAt\n    archivedAt\n    updatedAt\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription LogEvents($after: String) {\n    inboxEvents(after: $after) {\n      __typename\n      ... on NotificationAddedEvent { cursor notification { ...LogNotification } }\n      ... on NotificationUpdatedEvent { cursor notification { ...LogNotification } }\n      ... on NotificationChangedEvent { cursor notificationId change readAt seenAt archivedAt }\n      ... on UnreadCountChangedEvent { cursor unreadCount unseenCount }\n    }\n  }\n"): (typeof documents)["\n  subscription LogEvents($after: String) {\n    inboxEvents(after: $after) {\n      __typename\n      ... on NotificationAddedEvent { cursor notification { ...LogNotification } }\n      ... on NotificationUpdatedEvent { cursor notification { ...LogNotification } }\n      ... on NotificationChangedEvent { cursor notificationId change readAt seenAt archivedAt }\n      ... on UnreadCountChangedEvent { cursor unreadCount unseenCount }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query LogPage($first: Int, $after: String, $filter: NotificationFilter) {\n    notifications(first: $first, after: $after, filter: $filter) {\n      edges { node { ...LogNotification } }\n      pageInfo { hasNextPage endCursor }\n      streamCursor\n    }\n    unreadCount\n    unseenCount\n  }\n"): (typeof documents)["\n  query LogPage($first: Int, $after: String, $filter: NotificationFilter) {\n    notifications(first: $first, after: $after, filter: $filter) {\n      edges { node { ...LogNotification } }\n      pageInfo { hasNextPage endCursor }\n      streamCursor\n    }\n    unreadCount\n    unseenCount\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation EmitKeyed($input: EmitNotificationInput!) {\n    emitNotification(input: $input) {\n      deliveredCount\n      updatedCount\n      duplicateCount\n      suppressedCount\n      deliveries { recipientId status notification { ...LogNotification } }\n    }\n  }\n"): (typeof documents)["\n  mutation EmitKeyed($input: EmitNotificationInput!) {\n    emitNotification(input: $input) {\n      deliveredCount\n      updatedCount\n      duplicateCount\n      suppressedCount\n      deliveries { recipientId status notification { ...LogNotification } }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation Unarchive($ids: [ID!]!) {\n    unarchiveNotifications(ids: $ids) { changedCount unreadCount unseenCount }\n  }\n"): (typeof documents)["\n  mutation Unarchive($ids: [ID!]!) {\n    unarchiveNotifications(ids: $ids) { changedCount unreadCount unseenCount }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation Recall($key: String!) {\n    recallNotifications(key: $key) { recalledCount }\n  }\n"): (typeof documents)["\n  mutation Recall($key: String!) {\n    recallNotifications(key: $key) { recalledCount }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query ViewCounts($views: [CountView!]!) {\n    counts(views: $views) { name total unread unseen }\n    unreadCount\n    unseenCount\n  }\n"): (typeof documents)["\n  query ViewCounts($views: [CountView!]!) {\n    counts(views: $views) { name total unread unseen }\n    unreadCount\n    unseenCount\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment ViewNotification on Notification { id category type readAt seenAt archivedAt }\n"): (typeof documents)["\n  fragment ViewNotification on Notification { id category type readAt seenAt archivedAt }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query ViewPage($filter: NotificationFilter) {\n    notifications(first: 100, filter: $filter) {\n      edges { node { ...ViewNotification } }\n      pageInfo { hasNextPage }\n      streamCursor\n    }\n  }\n"): (typeof documents)["\n  query ViewPage($filter: NotificationFilter) {\n    notifications(first: 100, filter: $filter) {\n      edges { node { ...ViewNotification } }\n      pageInfo { hasNextPage }\n      streamCursor\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription ViewEvents($after: String, $views: [CountView!]) {\n    inboxEvents(after: $after, views: $views) {\n      __typename\n      ... on NotificationAddedEvent { cursor notification { ...ViewNotification } }\n      ... on NotificationUpdatedEvent { cursor notification { ...ViewNotification } }\n      ... on NotificationChangedEvent { cursor notificationId change readAt seenAt archivedAt }\n      ... on UnreadCountChangedEvent { cursor unreadCount unseenCount }\n      ... on CountsChangedEvent { cursor counts { name total unread unseen } }\n    }\n  }\n"): (typeof documents)["\n  subscription ViewEvents($after: String, $views: [CountView!]) {\n    inboxEvents(after: $after, views: $views) {\n      __typename\n      ... on NotificationAddedEvent { cursor notification { ...ViewNotification } }\n      ... on NotificationUpdatedEvent { cursor notification { ...ViewNotification } }\n      ... on NotificationChangedEvent { cursor notificationId change readAt seenAt archivedAt }\n      ... on UnreadCountChangedEvent { cursor unreadCount unseenCount }\n      ... on CountsChangedEvent { cursor counts { name total unread unseen } }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation EmitView($input: EmitNotificationInput!) {\n    emitNotification(input: $input) { deliveries { status notification { id } } }\n  }\n"): (typeof documents)["\n  mutation EmitView($input: EmitNotificationInput!) {\n    emitNotification(input: $input) { deliveries { status notification { id } } }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation ReadByFilter($filter: NotificationFilter, $views: [CountView!]) {\n    markNotificationsReadByFilter(filter: $filter, views: $views) {\n      changedCount hasMore unreadCount unseenCount cursor counts { name total unread unseen }\n    }\n  }\n"): (typeof documents)["\n  mutation ReadByFilter($filter: NotificationFilter, $views: [CountView!]) {\n    markNotificationsReadByFilter(filter: $filter, views: $views) {\n      changedCount hasMore unreadCount unseenCount cursor counts { name total unread unseen }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation SeenByFilter($filter: NotificationFilter, $views: [CountView!]) {\n    markNotificationsSeenByFilter(filter: $filter, views: $views) {\n      changedCount hasMore unreadCount unseenCount cursor counts { name total unread unseen }\n    }\n  }\n"): (typeof documents)["\n  mutation SeenByFilter($filter: NotificationFilter, $views: [CountView!]) {\n    markNotificationsSeenByFilter(filter: $filter, views: $views) {\n      changedCount hasMore unreadCount unseenCount cursor counts { name total unread unseen }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation ArchiveByFilter($filter: NotificationFilter, $views: [CountView!]) {\n    archiveNotificationsByFilter(filter: $filter, views: $views) {\n      changedCount hasMore unreadCount unseenCount cursor counts { name total unread unseen }\n    }\n  }\n"): (typeof documents)["\n  mutation ArchiveByFilter($filter: NotificationFilter, $views: [CountView!]) {\n    archiveNotificationsByFilter(filter: $filter, views: $views) {\n      changedCount hasMore unreadCount unseenCount cursor counts { name total unread unseen }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation EmitExpiring($input: EmitNotificationInput!) {\n    emitNotification(input: $input) { deliveries { status notification { id cursor expiresAt } } }\n  }\n"): (typeof documents)["\n  mutation EmitExpiring($input: EmitNotificationInput!) {\n    emitNotification(input: $input) { deliveries { status notification { id cursor expiresAt } } }\n  }\n"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;