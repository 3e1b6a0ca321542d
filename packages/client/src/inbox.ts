/**
 * A live inbox: the first page fetched over HTTP, then `inboxEvents` from the fetch's
 * `streamCursor`, every event applied to the items and counts a UI shows.
 *
 * Reconnects reconcile by replay: the stream resumes after the last position received (graphql-sse
 * through `Last-Event-ID`, or a new ticket with `after` for EventSource) and Herald replays every
 * change since, coalesced, then the exact counts. Nothing is refetched unless Herald says the
 * position is gone (`CURSOR_EXPIRED`, `USER_ERASED`): then the store starts over from a fresh fetch.
 *
 * The view is the default inbox view (archived notifications hidden), newest first. Notifications
 * older than the last loaded page are not held: events about them are ignored, `loadMore` fetches
 * them as they are.
 */
import type { ExecutionResult, Sink } from 'graphql-sse';
import { createHeraldClient, cursorSeq, type HeraldClientOptions } from './sse-client.ts';
import { createTicketStream, type EventSourceConstructor, type StreamResult, type TicketStream } from './ticket-stream.ts';

export interface InboxActor {
  id: string | null;
  name: string;
  avatarUrl: string | null;
}

/** One notification as the store holds it (every field a UI needs). */
export interface InboxNotification {
  id: string;
  cursor: string;
  title: string;
  body: string;
  type: string;
  category: string | null;
  url: string | null;
  data: unknown;
  actor: InboxActor | null;
  progress: number | null;
  taskState: string | null;
  read: boolean;
  readAt: string | null;
  seen: boolean;
  seenAt: string | null;
  archived: boolean;
  archivedAt: string | null;
  createdAt: string;
  updatedAt: string | null;
}

export type InboxStatus = 'idle' | 'loading' | 'connecting' | 'live' | 'reconnecting' | 'closed' | 'error';

export interface InboxState {
  /** Unarchived notifications held, newest first. */
  readonly items: readonly InboxNotification[];
  /** Unread, unarchived (the list's badge). */
  readonly unreadCount: number;
  /** Unseen, unarchived (the bell). */
  readonly unseenCount: number;
  /** Older notifications exist beyond the loaded pages (`loadMore`). */
  readonly hasMore: boolean;
  /** The last stream position applied (the resume point). */
  readonly cursor: string | undefined;
  readonly status: InboxStatus;
  /** Why the status is `error`. */
  readonly error: unknown;
}

/** A store's state before its first fetch. */
export const INITIAL_INBOX_STATE: InboxState = {
  items: [],
  unreadCount: 0,
  unseenCount: 0,
  hasMore: false,
  cursor: undefined,
  status: 'idle',
  error: undefined,
};

export interface InboxStoreOptions {
  /** Herald's GraphQL endpoint (`/graphql`); a function is asked again on every (re)connect. */
  url: string | (() => string);
  /** Headers of every request and stream (e.g. the app's current bearer token). */
  headers?: () => Record<string, string> | Promise<Record<string, string>>;
  /** Notifications per page (default 20, at most 100). */
  pageSize?: number;
  /** Defaults to the global fetch. */
  fetch?: typeof fetch;
  /**
   * Listen over EventSource with stream tickets (browsers that cannot send headers on streams)
   * instead of graphql-sse; tickets are renewed as `createTicketStream` does.
   */
  tickets?: {
    getTicket: () => Promise<string>;
    EventSource?: EventSourceConstructor;
    retryDelayMs?: (attempt: number) => number;
  };
  /** graphql-sse options (retries); by default retries forever, backing off up to 10 s. */
  client?: Omit<HeraldClientOptions, 'url' | 'headers'>;
}

export interface InboxStore {
  getState(): InboxState;
  /** Called with each new state (and not at once); returns the unsubscribe function. */
  subscribe(listener: (state: InboxState) => void): () => void;
  /** Fetches the first page and starts listening; resolves once the page is in. */
  start(): Promise<void>;
  /** Fetches the next older page. */
  loadMore(): Promise<void>;
  /** Drops everything, fetches the first page again and listens from its streamCursor. */
  refresh(): Promise<void>;
  close(): void;
}

export const NOTIFICATION_FIELDS =
  'id cursor title body type category url data actor { id name avatarUrl } progress taskState read readAt seen seenAt archived archivedAt createdAt updatedAt';

const PAGE_QUERY = `query HeraldInboxPage($first: Int, $after: String) {
  notifications(first: $first, after: $after) {
    edges { node { ${NOTIFICATION_FIELDS} } }
    pageInfo { hasNextPage endCursor }
    streamCursor
  }
  unreadCount
  unseenCount
}`;

const NOTIFICATION_QUERY = `query HeraldInboxNotification($id: ID!) { notification(id: $id) { ${NOTIFICATION_FIELDS} } }`;

export const INBOX_EVENTS = `subscription HeraldInboxEvents($after: String) {
  inboxEvents(after: $after) {
    __typename
    ... on NotificationAddedEvent { cursor notification { ${NOTIFICATION_FIELDS} } }
    ... on NotificationUpdatedEvent { cursor notification { ${NOTIFICATION_FIELDS} } }
    ... on NotificationChangedEvent { cursor notificationId change readAt seenAt archivedAt }
    ... on UnreadCountChangedEvent { cursor unreadCount unseenCount }
  }
}`;

/** One `inboxEvents` event, as the document above selects it. */
export type InboxEvent =
  | { __typename: 'NotificationAddedEvent' | 'NotificationUpdatedEvent'; cursor: string; notification: InboxNotification }
  | {
      __typename: 'NotificationChangedEvent';
      cursor: string;
      notificationId: string;
      change: 'READ' | 'UNREAD' | 'SEEN' | 'ARCHIVED' | 'UNARCHIVED' | 'DELETED';
      readAt: string | null;
      seenAt: string | null;
      archivedAt: string | null;
    }
  | { __typename: 'UnreadCountChangedEvent'; cursor: string; unreadCount: number; unseenCount: number };

interface Page {
  notifications: {
    edges: { node: InboxNotification }[];
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
    streamCursor: string;
  };
  unreadCount: number;
  unseenCount: number;
}

interface GraphQLError {
  message: string;
  extensions?: { code?: string };
}

/** A GraphQL error answered by Herald, with its `extensions.code`. */
export class HeraldError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'HeraldError';
  }
}

/** Codes after which the position cannot be resumed: start over from a fresh fetch. */
const START_OVER = new Set(['CURSOR_EXPIRED', 'USER_ERASED']);

export function createInboxStore(options: InboxStoreOptions): InboxStore {
  const pageSize = options.pageSize ?? 20;
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const urlOf = () => (typeof options.url === 'function' ? options.url() : options.url);
  const headersOf = async () => (options.headers ? await options.headers() : {});

  /** Held notifications by id, archived ones included (an unarchive brings them back). */
  let held = new Map<string, InboxNotification>();
  let state: InboxState = INITIAL_INBOX_STATE;
  /** Position of the oldest addition loaded (events older than it are not this view's, while hasMore). */
  let floor: number | undefined;
  let endCursor: string | null = null;
  /** While `loadMore` waits for its page: the events about notifications not held meanwhile. */
  let pageChanges: Exclude<InboxEvent, { __typename: 'UnreadCountChangedEvent' }>[] | undefined;
  /** Bumped on every (re)start: results of an older stream or fetch are dropped. */
  let generation = 0;
  let stop: (() => void) | undefined;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  const listeners = new Set<(state: InboxState) => void>();

  const backOff =
    options.client?.retry ??
    ((retries: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.min(10_000, 250 * 2 ** retries))));
  const sse = options.tickets
    ? undefined
    : createHeraldClient({
        retryAttempts: Number.POSITIVE_INFINITY,
        ...options.client,
        // graphql-sse reports no drop of its own: its retry is where it has noticed one.
        retry: async (retries) => {
          if (state.status === 'live' || state.status === 'connecting') emit({ status: 'reconnecting' });
          await backOff(retries);
        },
        url: urlOf,
        headers: headersOf,
      });

  function emit(next: Partial<InboxState>, itemsChanged = false): void {
    state = { ...state, ...next, ...(itemsChanged ? { items: visible() } : {}) };
    for (const listener of [...listeners]) listener(state);
  }

  function visible(): InboxNotification[] {
    return [...held.values()].filter((n) => !n.archived).sort((a, b) => order(b) - order(a));
  }

  /** A notification's place in the newest-first list: the position of its addition. */
  function order(n: InboxNotification): number {
    return cursorSeq(n.cursor) ?? Date.parse(n.createdAt);
  }

  /** Whether a notification not held belongs to the pages loaded. */
  function inView(n: InboxNotification): boolean {
    return !state.hasMore || floor === undefined || order(n) >= floor;
  }

  async function gql<T>(query: string, variables: Record<string, unknown>): Promise<T> {
    const response = await doFetch(urlOf(), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json, application/json',
        ...(await headersOf()),
      },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as { data?: T | null; errors?: GraphQLError[] };
    const error = body.errors?.[0];
    if (error) throw new HeraldError(error.message, error.extensions?.code);
    if (!body.data) throw new HeraldError(`Herald answered HTTP ${response.status} without data`, undefined);
    return body.data;
  }

  function addPage(page: Page): void {
    for (const { node } of page.notifications.edges) {
      // What the stream applied meanwhile is at least as new as the page.
      if (!held.has(node.id)) held.set(node.id, node);
      const position = order(node);
      if (floor === undefined || position < floor) floor = position;
    }
    endCursor = page.notifications.pageInfo.endCursor;
  }

  async function begin(): Promise<void> {
    const mine = ++generation;
    stop?.();
    stop = undefined;
    clearTimeout(retryTimer);
    emit({ status: 'loading', error: undefined });
    let page: Page;
    try {
      page = await gql<Page>(PAGE_QUERY, { first: pageSize });
    } catch (error) {
      if (mine === generation) emit({ status: 'error', error });
      throw error;
    }
    if (mine !== generation) return;
    held = new Map();
    floor = undefined;
    addPage(page);
    emit(
      {
        hasMore: page.notifications.pageInfo.hasNextPage,
        unreadCount: page.unreadCount,
        unseenCount: page.unseenCount,
        cursor: page.notifications.streamCursor,
        status: 'connecting',
      },
      true,
    );
    listen(mine);
  }

  /** Opens the stream after the current position. */
  function listen(mine: number): void {
    const after = state.cursor;
    const onResult = (result: StreamResult) => {
      if (mine !== generation) return;
      const error = result.errors?.[0];
      if (error) {
        // A ticket stream renews itself when the token behind its ticket expired.
        if (options.tickets && error.extensions?.code === 'UNAUTHENTICATED') return;
        ended(mine, new HeraldError(error.message, error.extensions?.code));
        return;
      }
      const event = (result.data as { inboxEvents?: InboxEvent } | null | undefined)?.inboxEvents;
      if (event) apply(event);
    };
    if (options.tickets) {
      const { getTicket, EventSource, retryDelayMs } = options.tickets;
      const ticketStream: TicketStream = createTicketStream({
        url: urlOf(),
        getTicket,
        query: INBOX_EVENTS,
        after,
        onEvent: onResult,
        onOpen: () => {
          if (mine === generation) emit({ status: 'live' });
        },
        onDrop: () => {
          if (mine === generation) emit({ status: 'reconnecting' });
        },
        onError: (error) => ended(mine, error),
        ...(EventSource ? { EventSource } : {}),
        ...(retryDelayMs ? { retryDelayMs } : {}),
      });
      stop = () => ticketStream.close();
      return;
    }
    if (!sse) return;
    let failed = false;
    const sink: Sink<ExecutionResult> = {
      next: (result) => {
        if (result.errors?.length) failed = true;
        onResult(result as StreamResult);
      },
      error: (error) => {
        failed = true;
        if (mine === generation) ended(mine, error);
      },
      complete: () => {
        // A stream that completed without an error (the server went away cleanly): resume.
        if (!failed && mine === generation) resumeLater(mine, 0);
      },
    };
    stop = sse.subscribe({ query: INBOX_EVENTS, variables: { after: after ?? null } }, sink, {
      connecting: (reconnecting) => {
        if (mine === generation) emit({ status: reconnecting ? 'reconnecting' : 'connecting' });
      },
      connected: () => {
        if (mine === generation) emit({ status: 'live' });
      },
    });
  }

  /** The stream ended: start over, resume from the last position, or report the error. */
  function ended(mine: number, error: unknown): void {
    if (mine !== generation) return;
    const code = errorCode(error);
    if (code && START_OVER.has(code)) {
      begin().catch(() => {});
      return;
    }
    if (code === 'UNAUTHENTICATED' || code === 'SHUTTING_DOWN') {
      // The token expired (headers give the app's current one) or the instance is draining.
      resumeLater(mine, 1000);
      return;
    }
    stop?.();
    stop = undefined;
    emit({ status: 'error', error });
  }

  function resumeLater(mine: number, ms: number): void {
    stop?.();
    stop = undefined;
    emit({ status: 'reconnecting' });
    clearTimeout(retryTimer);
    retryTimer = setTimeout(() => {
      if (mine === generation) listen(mine);
    }, ms);
  }

  function apply(event: InboxEvent): void {
    if (event.__typename === 'UnreadCountChangedEvent') {
      emit({ unreadCount: event.unreadCount, unseenCount: event.unseenCount, cursor: event.cursor });
      return;
    }
    const id = event.__typename === 'NotificationChangedEvent' ? event.notificationId : event.notification.id;
    const wasHeld = held.has(id);
    change(event);
    // About a notification beyond the pages loaded while the next page is on its way: that page may
    // have been read before this change, so the change is applied to it once it is in.
    if (!wasHeld && !held.has(id)) pageChanges?.push(event);
    emit({ cursor: event.cursor }, true);
  }

  /** Applies an event about one notification to what the store holds. */
  function change(event: Exclude<InboxEvent, { __typename: 'UnreadCountChangedEvent' }>): void {
    switch (event.__typename) {
      case 'NotificationAddedEvent':
      case 'NotificationUpdatedEvent': {
        const n = event.notification;
        if (held.has(n.id) || inView(n)) held.set(n.id, n);
        break;
      }
      case 'NotificationChangedEvent': {
        const n = held.get(event.notificationId);
        if (event.change === 'DELETED') held.delete(event.notificationId);
        else if (n) {
          held.set(n.id, {
            ...n,
            read: event.readAt !== null,
            readAt: event.readAt,
            seen: event.seenAt !== null,
            seenAt: event.seenAt,
            archived: event.archivedAt !== null,
            archivedAt: event.archivedAt,
          });
        } else if (event.change === 'UNARCHIVED') fetchOne(event.notificationId);
        break;
      }
    }
  }

  /** A notification unarchived that this store never held (it was archived before the fetch). */
  function fetchOne(id: string): void {
    const mine = generation;
    gql<{ notification: InboxNotification | null }>(NOTIFICATION_QUERY, { id }).then(
      ({ notification }) => {
        // A later event about it (deleted, archived again) wins over this answer.
        if (mine !== generation || !notification || held.has(id) || notification.archived || !inView(notification)) return;
        held.set(id, notification);
        emit({}, true);
      },
      () => {},
    );
  }

  return {
    getState: () => state,
    subscribe(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    start: begin,
    refresh: begin,
    async loadMore() {
      if (!state.hasMore || endCursor === null) return;
      const mine = generation;
      const changes: Exclude<InboxEvent, { __typename: 'UnreadCountChangedEvent' }>[] = [];
      pageChanges = changes;
      let page: Page;
      try {
        page = await gql<Page>(PAGE_QUERY, { first: pageSize, after: endCursor });
      } finally {
        if (pageChanges === changes) pageChanges = undefined;
      }
      if (mine !== generation) return;
      addPage(page);
      // The page is as it was at its streamCursor: changes after that position apply on top.
      const read = cursorSeq(page.notifications.streamCursor);
      for (const event of changes) {
        const at = cursorSeq(event.cursor);
        if (read === undefined || at === undefined || at > read) change(event);
      }
      emit({ hasMore: page.notifications.pageInfo.hasNextPage }, true);
    },
    close() {
      generation++;
      clearTimeout(retryTimer);
      stop?.();
      stop = undefined;
      sse?.dispose();
      emit({ status: 'closed' });
    },
  };
}

/** The `extensions.code` of a HeraldError or of the final result a ticket stream ended with. */
function errorCode(error: unknown): string | undefined {
  if (error instanceof HeraldError) return error.code;
  if (typeof error !== 'object' || error === null || !('errors' in error) || !Array.isArray(error.errors)) return undefined;
  const first: unknown = error.errors[0];
  if (typeof first !== 'object' || first === null || !('extensions' in first)) return undefined;
  const { extensions } = first;
  if (typeof extensions !== 'object' || extensions === null || !('code' in extensions)) return undefined;
  return typeof extensions.code === 'string' ? extensions.code : undefined;
}
