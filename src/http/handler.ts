import { randomUUID } from 'node:crypto';
import { authorityOf, type NodeRequest, type NodeResponse } from '../node-http.ts';
import { type RateLimit, type Refusal, refusalMessage } from '../ratelimit/limits.ts';
import type { Callers, RequestBounds } from './callers.ts';
import { type CorsPolicy, corsHeaders, originAllowed, preflightHeaders } from './cors.ts';
import type { Graphiql } from './graphiql.ts';
import type { GraphqlEndpoint, Headers } from './graphql.ts';
import { acceptsAnyResult, acceptsEventStream, jsonResponseType } from './negotiate.ts';
import { refuseLater } from './refusal.ts';
import { paramsFromSearch, parseParams, readBody, requestUrl, searchProblem, splitUrl, withBody } from './request.ts';
import { variablesBytes } from './variables-size.ts';

/**
 * The front door: every request passes here first, on every path and transport.
 *
 * In order: a request id (the client's `x-request-id` when it is a plain token, a new one
 * otherwise), answered in `x-request-id` and carried into logs; a request target and Host that
 * form a URL (400 otherwise); 404 for URLs Yoga would take for its endpoint although they are not
 * it (they would skip everything below); the origin policy (cors.ts) and preflights; 406 for an
 * Accept no result type satisfies, before anything runs (Yoga finds out after executing); the
 * refusal of the media types a page can POST without a preflight (forms, multipart, text/plain:
 * no Herald client sends them, and they would let any site make a browser act); the body limit,
 * from Content-Length before reading, then while reading; the variables
 * limit, before the variables are parsed (variables-size.ts); the per-address rate limits of
 * stream opens and single-connection reservations, before the body is read. Then GraphQL
 * operations go to the fast path (graphql.ts), GraphiQL's page and assets to graphiql.ts, and
 * everything else (batches, the single-connection SSE endpoint, health, metrics) to Yoga, with the
 * body already read.
 */
export interface FrontDoorOptions {
  graphqlPath: string;
  streamPath: string;
  cors: CorsPolicy;
  /** Who is asking, counted against their rate limit, and what they may send (callers.ts). */
  callers: Callers;
  /** MAX_VARIABLES_BYTES: a body's or URL's `variables` over this are refused (413) before they are parsed. */
  maxVariablesBytes: number;
  graphql: GraphqlEndpoint;
  /** GraphiQL's page and assets (GRAPHIQL_ENABLED), or null: browsers opening the endpoint get Yoga's answer. */
  graphiql: Graphiql | null;
  /** Yoga's node handler. */
  yoga: (req: NodeRequest, res: NodeResponse) => void;
  /** Every operation to Yoga's handler (a plugin with HTTP-level hooks is installed). */
  yogaOnly: boolean;
  /** Per-address rate limits, counted before any work (RATE_LIMIT_STREAM_OPENS_PER_IP, RATE_LIMIT_RESERVATIONS_PER_IP). */
  addressLimits: { streamOpens: RateLimit; reservations: RateLimit; requestBytes: RateLimit };
  /** RATE_LIMIT_REFUSAL_DELAY_MS: a 429 is answered after this long (refusal.ts). */
  refusalDelayMs: number;
  /** TRUST_PROXY: the client address is the left-most X-Forwarded-For entry rather than the socket's. */
  trustProxy: boolean;
}

/** Bytes of a request that RATE_LIMIT_REQUEST_BYTES_PER_IP does not count: far more than any ordinary request. */
export const FREE_REQUEST_BYTES = 16_384;

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** The CORS "simple" request bodies: a page sends them cross-origin without asking first. */
const SIMPLE_BODY = /^\s*(application\/x-www-form-urlencoded|multipart\/form-data|text\/plain)\s*(;|$)/i;
const JSON_BODY = /^\s*application\/(graphql-response\+)?json\s*(;|$)/i;

export function createFrontDoor(options: FrontDoorOptions) {
  const { cors, graphql, yoga } = options;

  return function handle(req: NodeRequest, res: NodeResponse) {
    const given = req.headers['x-request-id'];
    const requestId = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    req.headers['x-request-id'] = requestId;
    // Passed along and written with the status line rather than set on `res`: a header set on a
    // response is kept by it for its whole life, hours for a stream.
    const headers: Headers = { 'x-request-id': requestId };
    const toYoga = (request: NodeRequest) => {
      for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
      yoga(request, res);
    };

    const parsed = requestUrl(req.url, authorityOf(req));
    if (!parsed) {
      refuse(res, 400, 'BAD_REQUEST', 'Malformed request target or Host header.', headers);
      return;
    }
    const url = splitUrl(req.url);
    if (options.graphiql?.isAsset(url.path)) {
      options.graphiql.asset(req, res, url.path, headers);
      return;
    }
    if (url.path !== options.graphqlPath && url.path !== options.streamPath) {
      if (servedAsGraphql(parsed, options)) {
        refuse(res, 404, 'NOT_FOUND', `Not found: GraphQL is served at ${options.graphqlPath} only.`, headers);
        return;
      }
      toYoga(req);
      return;
    }
    const origin = req.headers.origin;
    if (origin !== undefined) {
      if (!originAllowed(cors, origin, authorityOf(req))) {
        refuse(res, 403, 'FORBIDDEN', `Origin ${origin} is not allowed (CORS_ORIGINS lists the origins allowed).`, headers);
        return;
      }
      if (req.method === 'OPTIONS') {
        const requested = req.headers['access-control-request-headers'];
        res.writeHead(204, { ...headers, ...preflightHeaders(cors, origin, typeof requested === 'string' ? requested : undefined) }).end();
        return;
      }
      Object.assign(headers, corsHeaders(cors, origin));
    }
    if (options.graphiql && url.path === options.graphqlPath && req.method === 'GET' && wantsHtml(req)) {
      options.graphiql.page(req, res, headers);
      return;
    }

    const operation = req.method === 'POST' || (req.method === 'GET' && !wantsHtml(req));
    if (url.path === options.graphqlPath && operation && !acceptsAnyResult(req.headers.accept)) {
      // As Yoga answers it (no body: the client accepts nothing it could be written in), but first.
      res.writeHead(406, { ...headers, accept: ACCEPTABLE }).end();
      return;
    }

    const address = clientAddress(req, options.trustProxy);
    // Both count, whichever refuses (a client hammering a refused limit stays refused).
    void Promise.all([
      firstRefusal(addressLimitsOf(req, url, options), address).catch(() => null),
      options.callers.admit(req, url.query, address),
    ]).then(([refusal, admission]) => {
      const refused = refusal ?? admission.refused;
      if (refused) rateLimited(req, res, refused, headers);
      else if (admission.refused === null) serve(req, res, url, headers, admission.bounds);
    });
  };

  /** 429 RATE_LIMITED with Retry-After, after RATE_LIMIT_REFUSAL_DELAY_MS (refusal.ts). */
  function rateLimited(req: NodeRequest, res: NodeResponse, refusal: Refusal, headers: Headers) {
    refuseLater(res, options.refusalDelayMs, refusal.retryAfter, () => {
      req.resume(); // what the client still sends (a small body) is dropped, so it reads the 429
      refuse(
        res,
        429,
        'RATE_LIMITED',
        refusalMessage(refusal),
        { ...headers, 'retry-after': String(refusal.retryAfter) },
        {
          retryAfter: refusal.retryAfter,
          limit: refusal.limit,
        },
      );
    });
  }

  /**
   * Charges what a request has beyond its first FREE_REQUEST_BYTES to the client's address
   * (RATE_LIMIT_REQUEST_BYTES_PER_IP), then goes on; 429 when that is over. Ordinary requests
   * cost nothing and take no round trip.
   */
  function admitRequest(req: NodeRequest, res: NodeResponse, bytes: number, headers: Headers, then: () => void) {
    const over = bytes - FREE_REQUEST_BYTES;
    if (over <= 0) {
      then();
      return;
    }
    void options.addressLimits.requestBytes.charge([clientAddress(req, options.trustProxy)], over).then(
      (charge) => (charge.refused ? rateLimited(req, res, charge.refused, headers) : then()),
      // Never expected (the limits fall back to memory when Redis fails): serve rather than refuse.
      then,
    );
  }

  function serve(req: NodeRequest, res: NodeResponse, url: ReturnType<typeof splitUrl>, headers: Headers, bounds: RequestBounds) {
    const toYoga = (request: NodeRequest) => {
      for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
      yoga(request, res);
    };
    if (req.method === 'POST') {
      const type = req.headers['content-type'] ?? '';
      if (SIMPLE_BODY.test(type)) {
        refuse(res, 415, 'UNSUPPORTED_MEDIA_TYPE', 'Send GraphQL requests as application/json.', headers);
        return;
      }
      const length = Number(req.headers['content-length']);
      if (length > bounds.maxBodyBytes) {
        // What it declares counts against the address's byte budget, so that a client sending
        // 5 MB bodies in a loop is soon answered 429 (late) instead of having each one drained.
        admitRequest(req, res, length, headers, () => tooLarge(req, res, bounds, headers));
        return;
      }
      void readBody(req, bounds.maxBodyBytes).then((body) => {
        // Answered meanwhile: an HTTP/2 request whose body did not arrive in time (408, http/server.ts).
        if (res.headersSent) return;
        if (!body.ok) {
          if (body.reason === 'too-large') tooLarge(req, res, bounds, headers);
          else res.destroy();
          return;
        }
        // Charged before anything reads the body (the variables scan, JSON.parse, the parser).
        admitRequest(req, res, body.bytes.length, headers, () => serveBody(body.bytes));
      });
      const serveBody = (bytes: Buffer) => {
        // Variables cannot be larger than the body: the scan runs only for bodies that could hold too many.
        if (bytes.length > options.maxVariablesBytes && variablesBytes(bytes) > options.maxVariablesBytes) {
          variablesTooLarge(res, options.maxVariablesBytes);
          return;
        }
        const params = !options.yogaOnly && url.path === options.graphqlPath && JSON_BODY.test(type) ? parseParams(bytes) : null;
        if (params) graphql.serve(req, res, params, null, bytes, headers);
        else toYoga(withBody(req, bytes));
      };
      return;
    }

    if (req.method === 'GET' && url.path === options.graphqlPath && !wantsHtml(req)) {
      admitRequest(req, res, url.query.length, headers, () => serveGet(req, res, url, headers, toYoga));
      return;
    }
    toYoga(req);
  }

  function serveGet(
    req: NodeRequest,
    res: NodeResponse,
    url: ReturnType<typeof splitUrl>,
    headers: Headers,
    toYoga: (req: NodeRequest) => void,
  ) {
    const search = new URLSearchParams(url.query);
    if (Buffer.byteLength(search.get('variables') ?? '') > options.maxVariablesBytes) {
      variablesTooLarge(res, options.maxVariablesBytes);
      return;
    }
    const problem = searchProblem(search);
    if (problem) {
      refuse(res, 400, 'BAD_REQUEST', problem, headers);
      return;
    }
    const params = options.yogaOnly ? null : paramsFromSearch(search);
    if (params) graphql.serve(req, res, params, search.get('ticket'), null, headers);
    else toYoga(req);
  }
}

/** The reservation token of graphql-sse's single-connection mode, in a header or the URL. */
const STREAM_TOKEN_HEADER = 'x-graphql-event-stream-token';

/**
 * The per-address limits a request counts against: a reservation (PUT on the stream path) is a
 * reservation and a stream open; a request answered with an event stream (GET or POST whose Accept
 * picks text/event-stream over JSON, as the fast path and Yoga negotiate) is a stream open, except
 * on the stream path with a reservation token (it attaches to, or runs in, a stream its PUT counted).
 */
function addressLimitsOf(req: NodeRequest, url: ReturnType<typeof splitUrl>, options: FrontDoorOptions): RateLimit[] {
  const { streamOpens, reservations } = options.addressLimits;
  if (req.method === 'PUT') return url.path === options.streamPath ? [streamOpens, reservations] : [];
  if (req.method !== 'GET' && req.method !== 'POST') return [];
  const accept = req.headers.accept;
  if (!acceptsEventStream(accept) || jsonResponseType(accept) !== null) return [];
  if (url.path === options.streamPath && (req.headers[STREAM_TOKEN_HEADER] !== undefined || new URLSearchParams(url.query).has('token'))) {
    return [];
  }
  return [streamOpens];
}

/** Counts the request against each limit (each counts, refused or not) and says the first that refused. */
async function firstRefusal(limits: RateLimit[], address: string): Promise<Refusal | null> {
  const refusals = await Promise.all(limits.map((limit) => limit.consume(address)));
  return refusals.find((refusal) => refusal !== null) ?? null;
}

/** Longest address kept as a key (an IPv6 address is at most 45 characters; longer is not an address). */
const MAX_ADDRESS = 64;

/**
 * The client's address for per-address limits: with TRUST_PROXY the left-most X-Forwarded-For
 * entry (the client as the first proxy saw it), else the socket's. IPv4 clients of a dual-stack
 * socket (`::ffff:203.0.113.7`) count as their IPv4 address.
 */
export function clientAddress(req: NodeRequest, trustProxy: boolean): string {
  if (trustProxy) {
    const forwarded = req.headers['x-forwarded-for'];
    const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
    if (first) return first.slice(0, MAX_ADDRESS);
  }
  const address = req.socket.remoteAddress ?? 'unknown';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

/** What a 406 says can be asked for (Yoga's result processors). */
const ACCEPTABLE = ['application/graphql-response+json', 'application/json', 'text/event-stream', 'multipart/mixed']
  .map((type) => `${type}; charset=utf-8`)
  .join(', ');

/**
 * Whether Yoga, given this URL, would serve GraphQL (or graphql-sse) although the path is not the
 * endpoint: its handler takes any URL whose text ends with the endpoint (`/x/graphql`,
 * `/health?/graphql`, `/graphql/`) and any path that normalises to it (`/a/../graphql`), and
 * graphql-sse any path ending with its own. Those would skip the front door's policy: they are 404.
 */
function servedAsGraphql(url: URL, options: FrontDoorOptions): boolean {
  const { graphqlPath, streamPath } = options;
  const whole = url.href;
  const path = whole.split('?')[0] ?? whole;
  return (
    [graphqlPath, `${graphqlPath}/`].some((end) => whole.endsWith(end) || path.endsWith(end) || url.pathname === end) ||
    path.endsWith(streamPath) ||
    url.pathname === streamPath
  );
}

/** GraphiQL: a browser navigating to the endpoint. */
function wantsHtml(req: NodeRequest): boolean {
  const accept = req.headers.accept;
  return typeof accept === 'string' && accept.includes('text/html');
}

function refuse(
  res: NodeResponse,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
  extensions: Record<string, unknown> = {},
) {
  const body = JSON.stringify({ errors: [{ message, extensions: { code, ...extensions } }] });
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

function variablesTooLarge(res: NodeResponse, limit: number) {
  refuse(res, 413, 'PAYLOAD_TOO_LARGE', `Variables are limited to ${limit} bytes (MAX_VARIABLES_BYTES).`);
}

/**
 * 413 at once, while the client may still be sending. What it still sends is read and dropped for
 * a moment, so that it reads the 413 instead of a reset or EPIPE (closing a socket with unread data
 * resets it; a `Connection: close` made clients fail writing under load), then the connection is
 * cut after 2 s, however much is still coming: memory never holds more than the limit. (Cutting
 * it sooner, after 1 MiB, made fetch report a reset instead of the 413 under load.)
 */
function tooLarge(req: NodeRequest, res: NodeResponse, bounds: RequestBounds, headers: Headers) {
  refuse(res, 413, 'PAYLOAD_TOO_LARGE', `Request bodies are limited to ${bounds.maxBodyBytes} bytes (${bounds.bodySetting}).`, headers);
  req.resume();
  setTimeout(() => req.destroy(), 2_000).unref();
}
