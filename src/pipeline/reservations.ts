import { randomUUID } from 'node:crypto';
import { useGraphQLSSE } from '@graphql-yoga/plugin-graphql-sse';
import type { Response as SseResponse } from 'graphql-sse';
import type { FetchAPI, Plugin } from 'graphql-yoga';
import { ErrorCode } from '../errors.ts';
import { type Refusal, refusalMessage } from '../ratelimit/limits.ts';

/** Who a reservation request is: a user id, or why it is refused. */
export type ReservationCaller = { userId: string } | { refused: string };

export interface ReservedStreamsOptions {
  endpoint: string;
  /** The caller of a PUT, from its bearer token. */
  caller(request: Request): Promise<ReservationCaller>;
  /** An unattached reservation is dropped after this long. */
  ttlMs: number;
  /** Unattached reservations one user may hold at once. */
  maxPerUser: number;
  /** The per-user rate limits of a reservation (RATE_LIMIT_RESERVATIONS_PER_USER and stream opens): null, or why it is refused. */
  admit?: (userId: string) => Promise<Refusal | null>;
}

const TOKEN_HEADER = 'x-graphql-event-stream-token';
const TOKEN_QUERY = 'token';

interface Reservation {
  userId: string;
  timer: NodeJS.Timeout;
}

/**
 * graphql-sse's single-connection mode (PUT /graphql/stream reserves a stream, a GET or POST with
 * the token attaches to it), with reservations that cost an anonymous client nothing: a PUT needs
 * a valid bearer token (401 otherwise), a user holds at most `maxPerUser` unattached ones (429
 * `TOO_MANY_STREAMS` beyond) and one that no stream attached to within `ttlMs` is dropped. Before,
 * anyone could create reservations that lived for ever: 50,000 in 6 s held 140 MB.
 *
 * Why a wrapper rather than options of Yoga's plugin: graphql-sse keeps reservations in a map of
 * its handler's closure and only lets go of one when its stream ends; neither it nor
 * @graphql-yoga/plugin-graphql-sse can expire or cap them. Its `authenticate` option (which names
 * the reservation) is the one hook: here it refuses anonymous PUTs and mints the token (from
 * crypto, where graphql-sse's default uses Math.random, and never the client's choice, so a token
 * is never one already in use). Dropping an unattached reservation is done the only way graphql-sse
 * offers: a stream attaches to it with an already aborted request, which ends the stream, and
 * graphql-sse deletes the reservation with it. Forking the plugin would leave Herald maintaining
 * graphql-sse's protocol handling; this keeps it on the published packages.
 */
export function useReservedStreams(options: ReservedStreamsOptions): Plugin {
  const pending = new Map<string, Reservation>();
  const perUser = new Map<string, number>();
  /** The aborted requests that drop expired reservations: they pass without bookkeeping. */
  const expiring = new WeakSet<Request>();
  let fetchAPI: FetchAPI | undefined;

  const forget = (token: string) => {
    const reservation = pending.get(token);
    if (!reservation) return;
    clearTimeout(reservation.timer);
    pending.delete(token);
    const left = (perUser.get(reservation.userId) ?? 1) - 1;
    if (left <= 0) perUser.delete(reservation.userId);
    else perUser.set(reservation.userId, left);
  };

  const expire = (token: string) => {
    if (!pending.has(token)) return;
    forget(token);
    if (!fetchAPI) return;
    const { Request, Response } = fetchAPI;
    const url = `http://localhost${options.endpoint}?${TOKEN_QUERY}=${encodeURIComponent(token)}`;
    const request = new Request(url, { headers: { accept: 'text/event-stream' }, signal: AbortSignal.abort() });
    expiring.add(request);
    const close = (response: Response) => void response.body?.cancel().catch(() => {});
    void Promise.resolve(
      inner.onRequest?.({
        request,
        url: new URL(url),
        serverContext: { waitUntil: () => {} },
        fetchAPI,
        endResponse: close,
        setRequest: () => {},
        requestHandler: () => new Response(null, { status: 404 }),
        setRequestHandler: () => {},
      }),
    ).catch(() => {});
  };

  const refuse = (
    status: number,
    statusText: string,
    code: string,
    message: string,
    headers: Record<string, string>,
    extensions: Record<string, unknown> = {},
  ): SseResponse => [
    JSON.stringify({ errors: [{ message, extensions: { code, ...extensions } }] }),
    { status, statusText, headers: { 'content-type': 'application/json; charset=utf-8', ...headers } },
  ];

  const inner = useGraphQLSSE({
    endpoint: options.endpoint,
    async authenticate(req) {
      const request = req.raw;
      const given = request.headers.get(TOKEN_HEADER) ?? new URL(request.url).searchParams.get(TOKEN_QUERY);
      if (expiring.has(request)) return given ?? '';
      if (request.method !== 'PUT') {
        // A stream attaching to its reservation: from now on it lives as long as that stream.
        if (given !== null && request.headers.get('accept') === 'text/event-stream') forget(given);
        // graphql-sse's default: without a token, one that names no reservation (distinct connections).
        return given ?? randomUUID();
      }
      const caller = await options.caller(request);
      if ('refused' in caller)
        return refuse(401, 'Unauthorized', ErrorCode.UNAUTHENTICATED, caller.refused, { 'www-authenticate': 'Bearer' });
      const tooMany = () =>
        refuse(
          429,
          'Too Many Requests',
          ErrorCode.TOO_MANY_STREAMS,
          `At most ${options.maxPerUser} unattached stream reservations per user; attach a stream to one first`,
          { 'retry-after': String(Math.ceil(options.ttlMs / 1000)) },
        );
      if ((perUser.get(caller.userId) ?? 0) >= options.maxPerUser) return tooMany();
      const refusal = await options.admit?.(caller.userId);
      if (refusal) {
        return refuse(
          429,
          'Too Many Requests',
          ErrorCode.RATE_LIMITED,
          refusalMessage(refusal),
          { 'retry-after': String(refusal.retryAfter) },
          { retryAfter: refusal.retryAfter, limit: refusal.limit },
        );
      }
      // Read again: the user's other PUTs may have reserved while the rate limit was counted (an
      // await), and from here to the count below nothing else runs.
      const held = perUser.get(caller.userId) ?? 0;
      if (held >= options.maxPerUser) return tooMany();
      const token = randomUUID();
      perUser.set(caller.userId, held + 1);
      const timer = setTimeout(() => expire(token), options.ttlMs);
      timer.unref();
      pending.set(token, { userId: caller.userId, timer });
      return token;
    },
  });

  return {
    ...inner,
    onYogaInit(payload) {
      fetchAPI = payload.yoga.fetchAPI;
      return inner.onYogaInit?.(payload);
    },
    onRequest(payload) {
      return inner.onRequest?.({ ...payload, endResponse: (response) => withCodes(response, payload.fetchAPI).then(payload.endResponse) });
    },
  };
}

/** What graphql-sse's own refusals (they carry only a message) mean, as a code. */
const CODE_BY_STATUS: Record<number, string> = {
  400: ErrorCode.BAD_REQUEST,
  401: ErrorCode.UNAUTHENTICATED,
  404: ErrorCode.NOT_FOUND,
  405: ErrorCode.BAD_REQUEST,
  409: ErrorCode.BAD_REQUEST,
};

/**
 * graphql-sse answers a malformed request (`Stream not found`, `Missing query`, a second stream
 * for one reservation) with errors that have no `extensions.code`: every error a client gets has
 * one, so those get the code their status means. Other responses pass untouched (streams too).
 */
async function withCodes(response: Response, fetchAPI: FetchAPI): Promise<Response> {
  const code = CODE_BY_STATUS[response.status];
  if (code === undefined || !response.headers.get('content-type')?.includes('json')) return response;
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return new fetchAPI.Response(text, { status: response.status, statusText: response.statusText, headers: response.headers });
  }
  if (typeof body === 'object' && body !== null && 'errors' in body && Array.isArray(body.errors)) {
    for (const error of body.errors) {
      if (typeof error === 'object' && error !== null) error.extensions = { code, ...error.extensions };
    }
  }
  const headers = new fetchAPI.Headers(response.headers);
  headers.delete('content-length');
  return new fetchAPI.Response(JSON.stringify(body), { status: response.status, statusText: response.statusText, headers });
}
