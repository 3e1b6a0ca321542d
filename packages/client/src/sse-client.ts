/**
 * Exactly-once resume for the `graphql-sse` client (and through it Apollo Client and urql).
 *
 * graphql-sse retries a dropped subscription by sending the *original* request again, so a
 * subscription opened with `after: <streamCursor>` would replay everything since that cursor on
 * every reconnect. `createHeraldClient` is graphql-sse's `createClient` with one addition: each
 * subscription remembers the last cursor it received (`extensions.cursor` of each result) and every
 * reconnect sends it as `Last-Event-ID`, which Herald honours over `after`, as it does for a
 * browser's EventSource. Retries, back-off, URL and headers functions stay graphql-sse's.
 *
 * Why the header and not a rewritten `variables.after`: the header works whatever the document
 * looks like (an inline `after: "..."` literal, a variable with another name), and graphql-sse
 * calls the `headers` function on every connection attempt with the subscription's request (its
 * documented hook in distinct connections mode), so no library internals are patched.
 *
 * Distinct connections mode only (graphql-sse's default; point `url` at Herald's `/graphql`, not
 * `/graphql/stream`). In single connection mode the `headers` function runs once per shared
 * connection without the request, so a per-subscription cursor cannot be sent; that mode is also
 * instance-sticky on Herald. `createHeraldClient` refuses `singleConnection: true`.
 *
 * Runs in browsers and Node 20+ and imports nothing from the server.
 */
import { type Client, type ClientOptions, createClient, type EventListeners, type RequestParams, type StreamMessage } from 'graphql-sse';

export type HeraldClientOptions = Omit<ClientOptions<false>, 'singleConnection'> & {
  /** Only distinct connections mode is supported (see above). */
  singleConnection?: false;
  /**
   * Called whenever a subscription moves past a new position, with that position's cursor: keep
   * it (for example in sessionStorage) to pass as `after` when you subscribe again later, e.g.
   * after the stream ended with `UNAUTHENTICATED` (token expired) or after retries ran out.
   */
  onCursor?: (cursor: string, request: RequestParams) => void;
};

/** The last position one subscription has received. */
interface Position {
  cursor: string | undefined;
  seq: number | undefined;
}

/**
 * Creates a graphql-sse client whose subscriptions resume after the last cursor they received.
 * Same options and same `subscribe` / `iterate` / `dispose` API as graphql-sse's `createClient`.
 */
export function createHeraldClient(options: HeraldClientOptions): Client<false> {
  if ((options as { singleConnection?: boolean }).singleConnection) {
    throw new TypeError(
      'createHeraldClient supports graphql-sse distinct connections mode only: in single connection mode a reconnect cannot carry a per-subscription cursor',
    );
  }
  const { headers, onCursor, ...rest } = options;
  const positions = new WeakMap<RequestParams, Position>();
  const client = createClient<false>({
    ...rest,
    singleConnection: false,
    // graphql-sse calls this on every connection attempt (first connect and each retry), with the
    // very request object given to subscribe/iterate below.
    async headers(request) {
      const base = typeof headers === 'function' ? await headers(request) : { ...headers };
      const cursor = positions.get(request)?.cursor;
      return cursor === undefined ? base : { ...base, 'last-event-id': cursor };
    },
  });

  /** A request object of our own (the key of its position) and listeners that advance it. */
  function track(request: RequestParams, on: EventListeners<false> | undefined): [RequestParams, EventListeners<false>] {
    const own: RequestParams = { ...request };
    const position: Position = { cursor: undefined, seq: cursorSeq(request.variables?.after) };
    positions.set(own, position);
    const listeners: EventListeners<false> = {
      ...on,
      // Messages are seen as they are parsed, before graphql-sse hands results to the sink; a result
      // parsed before a drop is still delivered, so its cursor is a safe resume point.
      message(message: StreamMessage<false, 'next' | 'complete'>) {
        if (message.event === 'next') {
          const cursor = (message.data as { extensions?: { cursor?: unknown } } | null)?.extensions?.cursor;
          if (typeof cursor === 'string' && advance(position, cursor)) onCursor?.(cursor, request);
        }
        on?.message?.(message);
      },
    };
    return [own, listeners];
  }

  return {
    subscribe(request, sink, on) {
      const [own, listeners] = track(request, on);
      return client.subscribe(own, sink, listeners);
    },
    iterate(request, on) {
      const [own, listeners] = track(request, on);
      return client.iterate(own, listeners);
    },
    dispose() {
      client.dispose();
    },
  };
}

/**
 * Moves a position forward. A cursor at or before the current position is ignored: the counts
 * `inboxEvents` sends after a change share its position, and a server of the release before the
 * log reported a change with the changed notification's (older) cursor, from which resuming would
 * replay additions already received.
 */
function advance(position: Position, cursor: string): boolean {
  const seq = cursorSeq(cursor);
  if (seq !== undefined && position.seq !== undefined && seq <= position.seq) return false;
  position.cursor = cursor;
  position.seq = seq;
  return true;
}

/**
 * The per-user position inside a Herald cursor (base64url of `h1:<seq>`), or undefined for
 * anything else, in which case the latest cursor simply wins.
 */
export function cursorSeq(cursor: unknown): number | undefined {
  if (typeof cursor !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(cursor)) return undefined;
  let text: string;
  try {
    text = atob(cursor.replace(/-/g, '+').replace(/_/g, '/'));
  } catch {
    return undefined;
  }
  const match = /^h1:(\d{1,15})$/.exec(text);
  return match ? Number(match[1]) : undefined;
}
