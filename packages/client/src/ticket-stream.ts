/**
 * A Herald subscription over EventSource with stream tickets, outliving any single ticket.
 *
 * EventSource cannot send headers, so it opens `GET /graphql?query=...&ticket=<ticket>`. A ticket
 * opens one stream: EventSource's own reconnect, with the same URL, would be refused with HTTP 401.
 * So when the connection drops, this helper closes the EventSource, mints a new ticket (`getTicket`,
 * e.g. the `createStreamTicket` mutation with the app's token) and opens again with `after` set to
 * the last id received, so nothing is missed or repeated. The same happens when the stream ends
 * because the token behind the ticket expired (`UNAUTHENTICATED`): `getTicket` mints from the app's
 * current token.
 *
 * Runs in browsers (global EventSource) and in Node (pass an implementation, e.g. undici's).
 */

/** The subset of the WHATWG EventSource this helper uses. */
export interface EventSourceLike {
  readonly readyState: number;
  addEventListener(type: string, listener: (event: { data?: unknown; lastEventId?: string }) => void): void;
  close(): void;
}

/** An EventSource constructor (the global one, undici's, or the `eventsource` package's). */
export type EventSourceConstructor = new (url: string) => EventSourceLike;

/** One GraphQL result of the stream. */
export interface StreamResult {
  data?: unknown;
  errors?: { message: string; extensions?: { code?: string } }[];
  extensions?: { cursor?: string };
}

export interface TicketStreamOptions {
  /** Herald's GraphQL endpoint, e.g. `https://herald.example.com/graphql`. */
  url: string;
  /** Mints a stream ticket (called to open, and again after a ticket was refused). */
  getTicket: () => Promise<string>;
  /** The subscription; it must declare `$after: String` and pass it to the field's `after`. */
  query: string;
  variables?: Record<string, unknown>;
  /** Where to start: the `streamCursor` of the fetch before listening. */
  after?: string | null | undefined;
  /** Each result, in order, with the stream position it carries (additions only). */
  onEvent: (result: StreamResult, cursor: string | undefined) => void;
  /** A connection opened (the first, or one after a drop). */
  onOpen?: () => void;
  /** The connection dropped or was refused; a new ticket and connection follow. */
  onDrop?: () => void;
  /** The stream ended for good (a final error result such as CURSOR_EXPIRED, or getTicket failed). */
  onError?: (error: unknown) => void;
  /** Defaults to the global EventSource. */
  EventSource?: EventSourceConstructor;
  /** Delay before the n-th reopening in a row that got no event (default 0, then 1 s doubling to 30 s). */
  retryDelayMs?: (attempt: number) => number;
}

/** A running ticket stream. */
export interface TicketStream {
  /** The last position received (pass as `after` to start again later). */
  readonly cursor: string | undefined;
  close(): void;
}

/** Opens a subscription over EventSource that renews its ticket when Herald refuses it (see above). */
export function createTicketStream(options: TicketStreamOptions): TicketStream {
  const found = options.EventSource ?? (globalThis as { EventSource?: EventSourceConstructor }).EventSource;
  if (!found) throw new TypeError('No EventSource: pass options.EventSource');
  const Source: EventSourceConstructor = found;
  const retryDelay = options.retryDelayMs ?? ((attempt: number) => (attempt <= 1 ? 0 : Math.min(30_000, 1000 * 2 ** (attempt - 2))));
  let cursor = options.after ?? undefined;
  let source: EventSourceLike | undefined;
  let closed = false;
  let attempts = 0;

  const fail = (error: unknown) => {
    stream.close();
    options.onError?.(error);
  };

  async function open() {
    attempts++;
    const delay = retryDelay(attempts);
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    if (closed) return;
    let ticket: string;
    try {
      ticket = await options.getTicket();
    } catch (error) {
      fail(error);
      return;
    }
    if (closed) return;
    const url = new URL(options.url);
    url.searchParams.set('query', options.query);
    url.searchParams.set('variables', JSON.stringify({ ...options.variables, after: cursor ?? null }));
    url.searchParams.set('ticket', ticket);
    const es = new Source(url.toString());
    source = es;
    let final: StreamResult | undefined;
    es.addEventListener('open', () => {
      if (es === source) options.onOpen?.();
    });
    es.addEventListener('next', (event) => {
      if (es !== source) return;
      attempts = 0;
      const result = JSON.parse(String(event.data)) as StreamResult;
      const id = event.lastEventId || undefined;
      const position = result.extensions?.cursor;
      if (position !== undefined) cursor = position;
      else if (id !== undefined) cursor = id;
      if (result.errors?.length) final = result;
      options.onEvent(result, position);
    });
    es.addEventListener('complete', () => {
      if (es !== source) return;
      es.close();
      // The token behind the ticket expired: a new ticket (from the app's current token) continues.
      if (final?.errors?.[0]?.extensions?.code === 'UNAUTHENTICATED') void open();
      else fail(final ?? new Error('The stream completed'));
    });
    es.addEventListener('error', () => {
      // Dropped (CONNECTING: EventSource would reconnect with the used ticket) or refused (CLOSED,
      // e.g. 401 for an expired ticket): a new ticket, from the last position, after retryDelayMs.
      if (es !== source) return;
      es.close();
      options.onDrop?.();
      void open();
    });
  }

  const stream: TicketStream = {
    get cursor() {
      return cursor;
    },
    close() {
      closed = true;
      source?.close();
      source = undefined;
    },
  };
  void open();
  return stream;
}
