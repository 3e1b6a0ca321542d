/**
 * @herald/client: Herald from browsers and Node 20+, with nothing of the server.
 * - `createHeraldClient`: graphql-sse's client whose subscriptions resume after the last cursor
 *   (for Apollo Client, urql or direct use);
 * - `createTicketStream`: a subscription over EventSource with stream tickets, renewed as needed;
 * - `createInboxStore`: items and counts of the inbox, kept live by `inboxEvents`;
 * - `createSharedInboxStore`: the same, one stream per browser (a leader tab, Web Locks).
 */
export {
  createInboxStore,
  HeraldError,
  INBOX_EVENTS,
  type InboxActor,
  type InboxEvent,
  type InboxNotification,
  type InboxState,
  type InboxStatus,
  type InboxStore,
  type InboxStoreOptions,
  NOTIFICATION_FIELDS,
} from './inbox.ts';
export { createSharedInboxStore, type SharedInboxStore, type SharedInboxStoreOptions } from './shared.ts';
export { createHeraldClient, cursorSeq, type HeraldClientOptions } from './sse-client.ts';
export {
  createTicketStream,
  type EventSourceConstructor,
  type EventSourceLike,
  type StreamResult,
  type TicketStream,
  type TicketStreamOptions,
} from './ticket-stream.ts';
