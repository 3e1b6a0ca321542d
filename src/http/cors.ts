/**
 * Herald's cross-origin policy, applied by the front door (http/handler.ts) to every response of
 * the GraphQL endpoints, SSE streams included, and to preflights.
 *
 * - `CORS_ORIGINS` lists the origins whose pages may call Herald (`*`: any). A request from
 *   another origin is refused (403) before anything runs, so a hostile page cannot make a
 *   signed-in browser act, and nothing is reflected to it.
 * - The server's own origin (Origin host = Host header: GraphiQL, a page Herald serves) always
 *   passes.
 * - Never `Access-Control-Allow-Credentials`: Herald authenticates with bearer tokens and stream
 *   tickets, never cookies, so a browser has nothing ambient to send.
 */
export interface CorsPolicy {
  /** `*`: every origin. */
  readonly any: boolean;
  readonly origins: ReadonlySet<string>;
}

export function corsPolicy(list: readonly string[]): CorsPolicy {
  return { any: list.includes('*'), origins: new Set(list.filter((o) => o !== '*').map(normalizeOrigin)) };
}

/** Whether a request carrying `origin` (to a server reached as `host`) may be served. */
export function originAllowed(policy: CorsPolicy, origin: string, host: string | undefined): boolean {
  if (policy.any) return true;
  const normalized = normalizeOrigin(origin);
  if (policy.origins.has(normalized)) return true;
  return host !== undefined && hostOf(normalized) === host.toLowerCase();
}

/** The headers of an allowed cross-origin response. */
export function corsHeaders(policy: CorsPolicy, origin: string): Record<string, string> {
  return {
    'access-control-allow-origin': policy.any ? '*' : origin,
    vary: 'Origin',
    'access-control-expose-headers': EXPOSED,
  };
}

/** The headers of an allowed preflight (OPTIONS) response. */
export function preflightHeaders(policy: CorsPolicy, origin: string, requestedHeaders: string | undefined): Record<string, string> {
  return {
    ...corsHeaders(policy, origin),
    'access-control-allow-methods': 'GET, POST, PUT, DELETE, OPTIONS',
    'access-control-allow-headers': requestedHeaders ? `${ALLOWED_HEADERS}, ${requestedHeaders}` : ALLOWED_HEADERS,
    'access-control-max-age': '600',
    vary: 'Origin, Access-Control-Request-Headers',
  };
}

/** What Herald's clients send: tokens, content negotiation, EventSource resume, graphql-sse's reservation token. */
const ALLOWED_HEADERS = 'authorization, content-type, accept, last-event-id, x-graphql-event-stream-token, x-request-id';
/** What a client may read besides the CORS-safelisted headers. */
const EXPOSED = 'x-request-id, retry-after';

function normalizeOrigin(origin: string): string {
  return origin.trim().toLowerCase().replace(/\/+$/, '');
}

function hostOf(origin: string): string | undefined {
  const i = origin.indexOf('://');
  return i < 0 ? undefined : origin.slice(i + 3);
}
