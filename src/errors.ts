import { createGraphQLError } from 'graphql-yoga';

/** Every `extensions.code` Herald returns. Clients can switch on these. */
export const ErrorCode = {
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  /** The subscription's cursor is unknown or older than retention: refetch the inbox. */
  CURSOR_EXPIRED: 'CURSOR_EXPIRED',
  /** The database is unreachable. Retry with the same idempotency key (an emit whose commit was under way may have been stored). */
  SERVICE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  /** The user already has the maximum number of open streams on this instance. */
  TOO_MANY_STREAMS: 'TOO_MANY_STREAMS',
  /** The server is shutting down; reconnect (to another instance). */
  SHUTTING_DOWN: 'SHUTTING_DOWN',
  /** This address has the maximum number of open connections (MAX_CONNECTIONS_PER_IP): HTTP 429 with Retry-After. */
  TOO_MANY_CONNECTIONS: 'TOO_MANY_CONNECTIONS',
  /** The user's data was erased (eraseUser): their open streams end with this; refetch the (empty) inbox before subscribing again. */
  USER_ERASED: 'USER_ERASED',
  /**
   * A rate limit was reached (HTTP 429 with Retry-After): `extensions.retryAfter` says in how many
   * seconds to try again, `extensions.limit` names the setting (e.g. RATE_LIMIT_RECIPIENT).
   * Nothing of a refused request was done.
   */
  RATE_LIMITED: 'RATE_LIMITED',
  /** The HTTP request itself is malformed (its target, its Host header, GET parameters that are not JSON): HTTP 400. Yoga's own code for malformed requests. */
  BAD_REQUEST: 'BAD_REQUEST',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** A GraphQL error with `extensions.code`; never masked. */
export function heraldError(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}) {
  return createGraphQLError(message, { extensions: { code, ...extensions } });
}

export const badInput = (message: string, extensions?: Record<string, unknown>) =>
  heraldError(ErrorCode.BAD_USER_INPUT, message, extensions);

/** True for errors that mean "the database could not be reached", as opposed to a bad query. */
export function isDatabaseUnavailable(error: unknown): boolean {
  const seen = new Set<unknown>();
  let e: unknown = error;
  while (e && typeof e === 'object' && !seen.has(e)) {
    seen.add(e);
    const rec = e as { code?: unknown; message?: unknown; cause?: unknown; originalError?: unknown; kind?: unknown };
    const code = typeof rec.code === 'string' ? rec.code : '';
    const message = typeof rec.message === 'string' ? rec.message : '';
    if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'P1001', 'P1017', '57P01', '57P03'].includes(code)) return true;
    if (
      /ECONNREFUSED|Connection terminated|timeout exceeded when trying to connect|Query read timeout|Client was closed and is not queryable|Can't reach database|DatabaseNotReachable|ConnectionClosed|the database system is (starting up|shutting down)/i.test(
        message,
      )
    )
      return true;
    if (rec.kind === 'DatabaseNotReachable' || rec.kind === 'ConnectionClosed') return true;
    e = rec.cause ?? rec.originalError;
  }
  return false;
}

/** True for errors a transaction should simply be retried after (deadlock, serialisation, unique race). */
export function isRetriableTransactionError(error: unknown): boolean {
  const text = `${(error as { code?: string })?.code ?? ''} ${(error as Error)?.message ?? ''} ${JSON.stringify((error as { cause?: unknown })?.cause ?? '')}`;
  return /40P01|40001|deadlock detected|could not serialize/i.test(text);
}
