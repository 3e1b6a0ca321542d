import { z } from 'zod';

/**
 * The published development JWT secret: stands in for JWT_SECRET only outside production and only
 * when neither JWT_SECRET nor JWT_JWKS_URL is set; production refuses it.
 */
export const DEV_JWT_SECRET = 'herald-development-secret-change-me-0000';

const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');

/**
 * A rate limit: `<points>/<seconds>` (that many points per fixed window of that many seconds, per
 * key), or `off`. Parsed to `{ points, seconds }`, or null for off.
 */
const rateLimit = z
  .string()
  .trim()
  .transform((value, ctx) => {
    if (value === 'off') return null;
    const match = /^(\d{1,10})\/(\d{1,6})$/.exec(value);
    const points = Number(match?.[1]);
    const seconds = Number(match?.[2]);
    if (!match || points < 1 || seconds < 1 || seconds > 86_400) {
      ctx.addIssue({ code: 'custom', message: 'must be "<points>/<seconds>" (points at least 1, 1 to 86400 seconds), or "off"' });
      return z.NEVER;
    }
    return { points, seconds };
  });

/** A parsed rate limit (null: off). */
export type RateLimitSetting = { points: number; seconds: number } | null;

const postgresUrl = z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL');

/**
 * Every environment variable Herald reads, with its default. This is the only module that reads
 * `process.env`; the README's configuration table is written from these descriptions.
 */
const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  /** HTTP port. */
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  /** Interface to listen on. */
  HOST: z.string().default('0.0.0.0'),
  /** PostgreSQL connection string. Unset: embedded PostgreSQL (PGlite) in HERALD_DATA_DIR. */
  DATABASE_URL: postgresUrl.optional(),
  /** Maximum PostgreSQL connections per instance. */
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(500).default(10),
  /**
   * A PostgreSQL query with no answer after this long fails (SERVICE_UNAVAILABLE) and its connection
   * is closed, so a network partition (no RST, no FIN) cannot hang requests. 0: no limit.
   */
  DATABASE_QUERY_TIMEOUT_MS: z.coerce.number().int().min(0).default(15_000),
  /** Redis URL for delivery between instances. Unset: in-process pub/sub (single instance). */
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
    .optional(),
  /**
   * Namespace of Herald's Redis channels and keys (`<prefix>:user:<id>`, `<prefix>:fanout`,
   * `<prefix>:presence:<id>`). Deployments that share one Redis must use different prefixes.
   */
  REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 letters, digits, ".", "_" or "-"')
    .default('herald'),
  /** Folder of the embedded database (used when DATABASE_URL is unset). */
  HERALD_DATA_DIR: z.string().min(1).default('.herald-data'),
  /** Apply pending migrations at start-up. Always on for the embedded database. */
  AUTO_MIGRATE: bool.default(false),
  /**
   * HS256 secret for bearer tokens. HS256 tokens are accepted only when this is set, except in
   * development/test without JWT_JWKS_URL, where the published development secret stands in.
   * Production: at least 32 characters, never the development secret.
   */
  JWT_SECRET: z.string().min(1).optional(),
  /** JWKS URL of an issuer of asymmetric tokens (RS*, PS*, ES*, EdDSA); tokens signed by its keys are accepted. */
  JWT_JWKS_URL: z.string().url().optional(),
  /** Required `iss` claim, when set. */
  JWT_ISSUER: z.string().optional(),
  /** Required `aud` claim, when set. */
  JWT_AUDIENCE: z.string().optional(),
  /**
   * Key of stream tickets (at least 32 characters, not JWT_SECRET): a key of their own, so a
   * ticket is never a bearer token and the other way round. Required in production, where every
   * instance must share it; unset elsewhere: a random key per process (tickets then fail after a
   * restart and on other instances, and clients mint new ones).
   */
  STREAM_TICKET_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  /** Lifetime of a stream ticket (for EventSource, which cannot send headers). */
  STREAM_TICKET_TTL_SECONDS: z.coerce.number().int().min(5).max(3600).default(60),
  /**
   * Longest lifetime of a bearer token: `exp` and `iat` are required, and a token whose `exp` is
   * more than this after its `iat`, or whose `iat` is older than this, is refused. Streams end when
   * their token expires, so this also bounds how long one stream lives before it reconnects.
   */
  JWT_MAX_TOKEN_AGE_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .max(30 * 24 * 3600)
    .default(24 * 3600),
  /** Clock skew allowed between the issuer and Herald for `iat` and `nbf` (a token from the future); `exp` is exact. */
  JWT_CLOCK_TOLERANCE_SECONDS: z.coerce.number().int().min(0).max(300).default(30),
  /**
   * How long the keys fetched from JWT_JWKS_URL are used before they are fetched again: a key the
   * issuer removed is refused at most this long afterwards. A token with an unknown `kid` (a new
   * key) fetches the set at once, at most every 30 s (or this, when shorter).
   */
  JWT_JWKS_CACHE_SECONDS: z.coerce.number().int().min(1).max(86_400).default(600),
  /** Notifications older than this are pruned in the background; older cursors expire. */
  RETENTION_DAYS: z.coerce.number().positive().max(3650).default(90),
  /**
   * How often the expiry scan runs (on whichever instance takes its lease): a notification emitted
   * with `expiresAt` leaves the inbox at most about this long after that time.
   */
  EXPIRY_INTERVAL_MS: z.coerce.number().int().min(50).max(60_000).default(1_000),
  /** How often the retention job runs. */
  RETENTION_INTERVAL_MS: z.coerce.number().int().min(1000).default(3_600_000),
  /** Idempotency keys are remembered this long; a retry after that delivers again. */
  IDEMPOTENCY_TTL_HOURS: z.coerce
    .number()
    .positive()
    .max(24 * 30)
    .default(24),
  /**
   * Grouped commits of emits in flight at most. Normally one runs and emits arriving meanwhile go
   * together in the next; another starts beside it only when emits have waited 5 ms (a bulk emit
   * or a slow database), so one stuck commit never holds up the rest.
   */
  EMIT_CONCURRENT_COMMITS: z.coerce.number().int().min(1).max(64).default(4),
  /** Interval of the SSE heartbeat comment (one shared timer for all streams). */
  HEARTBEAT_INTERVAL_MS: z.coerce.number().int().min(100).max(300_000).default(15_000),
  /** A stream whose unsent data exceeds this many bytes is dropped (slow reader). */
  STREAM_BUFFER_LIMIT_BYTES: z.coerce.number().int().min(1024).default(1_048_576),
  /** Open streams allowed per user on one instance. */
  MAX_STREAMS_PER_USER: z.coerce.number().int().min(1).max(1000).default(16),
  /**
   * TCP keepalive idle time for stream sockets (0 disables). Node uses whole seconds (rounded down)
   * and probes every second, 10 times: a silent peer is released within floor(ms / 1000) + 10 s while
   * nothing is in flight. Under 1000 it would round to 0, which the kernel refuses (2 hours instead).
   */
  TCP_KEEPALIVE_MS: z.coerce
    .number()
    .int()
    .min(0)
    .refine((ms) => ms === 0 || ms >= 1000, 'must be 0 (off) or at least 1000 (Node sets keepalive in whole seconds)')
    .default(30_000),
  /** Safety net: how often open streams re-check the database for anything missed. */
  CATCHUP_INTERVAL_MS: z.coerce.number().int().min(100).default(10_000),
  /** Presence entries expire this long after their instance stopped refreshing them. */
  PRESENCE_TTL_MS: z.coerce.number().int().min(1000).default(30_000),
  /** Time allowed for graceful shutdown before the process exits anyway. */
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).default(10_000),
  /**
   * Origins whose pages may call Herald from a browser: a comma-separated list of exact origins
   * (`https://app.example.com,http://localhost:5173`), or `*` for any. Requests from other origins
   * are refused (403); the server's own origin always passes. Unset: `*` in development and test
   * (with a warning in development), none in production. Credentials (cookies) are never allowed:
   * Herald authenticates with bearer tokens and stream tickets.
   */
  CORS_ORIGINS: z
    .string()
    .transform((v) =>
      v
        .split(',')
        .map((o) => o.trim())
        .filter(Boolean),
    )
    .pipe(
      z.array(z.union([z.literal('*'), z.string().regex(/^https?:\/\/[^/\s]+$/, 'must be origins like https://app.example.com, or *')])),
    )
    .optional(),
  /**
   * Largest request body accepted (413 beyond, checked from Content-Length before reading). The
   * default holds the largest emit the API allows (10,000 recipients of 255 characters with 16 KiB
   * of data is about 2.7 MB) with room to spare.
   */
  MAX_REQUEST_BODY_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(4 * 1024 * 1024),
  /**
   * Lexical tokens allowed in a GraphQL document (graphql-js's `maxTokens`; the parser stops
   * there, GRAPHQL_PARSE_FAILED). Herald's own documents use under 200; the default holds the
   * largest emit written inline (10,000 recipient ids are 10,000 tokens, 16 KiB of `data` up to
   * about 8,200 more).
   */
  MAX_DOCUMENT_TOKENS: z.coerce.number().int().min(100).default(20_000),
  /**
   * Largest request body from a caller without the emit scope (a user, or no credential; 413
   * beyond, from Content-Length before reading). A user's largest operation, 1,000 ids inline or in
   * variables, is about 42 KB; a document of 10,000 aliases is 190 KB.
   */
  USER_MAX_REQUEST_BODY_BYTES: z.coerce.number().int().min(1024).default(65_536),
  /**
   * Lexical tokens allowed in a document from a caller without the emit scope
   * (GRAPHQL_PARSE_FAILED beyond). Herald's user documents and GraphiQL's introspection use under
   * 200; 1,000 ids written inline about 1,050.
   */
  USER_MAX_DOCUMENT_TOKENS: z.coerce.number().int().min(100).default(2_500),
  /**
   * Characters allowed in a GraphQL document, compared before the lexer starts
   * (GRAPHQL_PARSE_FAILED). The default holds the largest emit written inline (10,000 recipient ids
   * of 255 characters, a 10,000-character body, 16 KiB of `data`: about 2.6 million).
   */
  MAX_DOCUMENT_CHARACTERS: z.coerce.number().int().min(1000).default(3_000_000),
  /**
   * Aliased fields allowed in an operation (graphql-armor; `__typename` is free;
   * GRAPHQL_VALIDATION_FAILED). Each alias runs its field again: 10,000 aliases of `unreadCount`
   * were 10,000 database reads.
   */
  MAX_QUERY_ALIASES: z.coerce.number().int().min(0).default(15),
  /**
   * Depth allowed in an operation, fragments counting as a level (graphql-armor;
   * GRAPHQL_VALIDATION_FAILED). Herald's deepest documents (an emit or an inbox page through a
   * fragment) are 6 deep.
   */
  MAX_QUERY_DEPTH: z.coerce.number().int().min(1).default(10),
  /** Directives allowed in an operation (graphql-armor; GRAPHQL_VALIDATION_FAILED). */
  MAX_QUERY_DIRECTIVES: z.coerce.number().int().min(0).default(50),
  /**
   * Cost allowed for an operation (graphql-armor: 1 per scalar, 2 per object, times 1.5 per level,
   * times `first`/`last` when written inline; GRAPHQL_VALIDATION_FAILED). A page of 100
   * notifications with every field through a fragment costs about 12,500 (6,500 written out); two
   * such pages in one operation are refused.
   */
  MAX_QUERY_COST: z.coerce.number().int().min(100).default(20_000),
  /**
   * Bytes of `variables` allowed in a request, measured before they are parsed (413
   * PAYLOAD_TOO_LARGE). The default holds the largest emit the API allows (about 2.7 MB).
   */
  MAX_VARIABLES_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(3 * 1024 * 1024),
  /**
   * Estimated size allowed for an emit's response, checked before anything is stored
   * (BAD_USER_INPUT): recipients times the selected `deliveries.notification` content (title,
   * body, data, category) plus about 440 bytes per entry. The README's emit selection to 10,000
   * recipients is about 4.4 MB by this estimate (1.9 MB in fact); every field with a 10,000-character
   * body to 10,000 recipients (a 104 MB answer) is refused.
   */
  MAX_EMIT_RESPONSE_BYTES: z.coerce
    .number()
    .int()
    .min(65_536)
    .default(16 * 1024 * 1024),
  /** Answer introspection (`__schema`, `__type`). Unset: on, except in production. */
  INTROSPECTION_ENABLED: bool.optional(),
  /** Serve GraphiQL to browsers opening /graphql. Unset: on, except in production. */
  GRAPHIQL_ENABLED: bool.optional(),
  /** Memory for parsed documents (Yoga's parser cache), bounded in bytes and keyed by SHA-256. */
  DOCUMENT_CACHE_BYTES: z.coerce
    .number()
    .int()
    .min(0)
    .default(32 * 1024 * 1024),
  /**
   * Serve Prometheus metrics at METRICS_PATH. In production they are served only with
   * METRICS_TOKEN set (operation names and load are not for everyone).
   */
  METRICS_ENABLED: bool.default(true),
  METRICS_PATH: z
    .string()
    .regex(/^\/[A-Za-z0-9/_-]*$/, 'must be a path like /metrics')
    .default('/metrics'),
  /** Bearer token required to read the metrics (Prometheus: `authorization: { credentials: ... }`). */
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /** pino log level. */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Expose GET /stats (stream and memory counters) for benchmarks and operators. */
  BENCH_STATS: bool.default(false),
  // Connection bounds (README, Security, "Connections"; src/http/server.ts, pipeline/reservations.ts).
  /** A request whose headers have not all arrived after this long is answered 408 and closed (slow headers). */
  HTTP_HEADERS_TIMEOUT_MS: z.coerce.number().int().min(1000).default(10_000),
  /**
   * A request not fully received (headers and body) after this long is answered 408 and closed (a
   * body that never ends). Only receiving the request is timed: SSE streams stay open for hours.
   * The largest body allowed (MAX_REQUEST_BODY_BYTES) must arrive within it: 4 MiB in 30 s is
   * about 140 KB/s.
   */
  HTTP_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(1000).default(30_000),
  /**
   * Open connections allowed per remote address (429 with Retry-After beyond); 0: no cap. The
   * socket's own address is counted, never a forwarded header: behind a reverse proxy or load
   * balancer, where every connection comes from the proxy, set 0 and let the proxy limit clients.
   */
  MAX_CONNECTIONS_PER_IP: z.coerce.number().int().min(0).default(256),
  /**
   * A graphql-sse single-connection reservation (PUT /graphql/stream, bearer token required) that
   * no stream attached to within this long is dropped. Each user holds at most MAX_STREAMS_PER_USER
   * unattached reservations.
   */
  SSE_RESERVATION_TTL_MS: z.coerce.number().int().min(1000).default(30_000),
  // Rate limits (README, Security, "Rate limits"; src/ratelimit/, pipeline/rate-limits.ts). Each is
  // `<points>/<seconds>` per key in a fixed window, or `off`; refused with RATE_LIMITED, HTTP 429
  // and Retry-After. Shared by every instance through Redis when REDIS_URL is set.
  /**
   * Recipients a producer may emit to per window (per token `sub`): an emit to 10,000 recipients
   * costs 10,000 points, and an emit larger than the whole budget is refused.
   */
  RATE_LIMIT_PRODUCER_RECIPIENTS: rateLimit.prefault('100000/60'),
  /**
   * Notifications one inbox may receive per window, from all producers together (a flood into one
   * inbox). An emit is all or nothing: if any of its recipients is over, nothing is stored.
   */
  RATE_LIMIT_RECIPIENT: rateLimit.prefault('1000/60'),
  /**
   * GraphQL requests per window per signed-in user (not producers: their emits are counted by
   * recipients), each counted before its body is read, whatever it turns out to be: a query, a
   * mutation, a subscription, or a document refused as invalid or over a limit.
   */
  RATE_LIMIT_USER_REQUESTS: rateLimit.prefault('1200/60'),
  /**
   * GraphQL requests without a valid credential per window per client address, counted before the
   * body is read (all they can do is introspect where that is on, and be refused).
   */
  RATE_LIMIT_ANONYMOUS_REQUESTS_PER_IP: rateLimit.prefault('6000/60'),
  /** Mutations per window per signed-in user (not producers). */
  RATE_LIMIT_USER_MUTATIONS: rateLimit.prefault('600/60'),
  /** Subscription streams a user may open per window (each subscription, and each single-connection reservation). */
  RATE_LIMIT_STREAM_OPENS_PER_USER: rateLimit.prefault('120/60'),
  /**
   * Subscription streams opened per window per client address (GET or POST event streams, and
   * single-connection reservations), counted before anything else is done, signed in or not.
   */
  RATE_LIMIT_STREAM_OPENS_PER_IP: rateLimit.prefault('1200/60'),
  /** Single-connection reservations (PUT /graphql/stream) per window per user. */
  RATE_LIMIT_RESERVATIONS_PER_USER: rateLimit.prefault('60/60'),
  /** Single-connection reservations (PUT /graphql/stream) per window per client address, signed in or not. */
  RATE_LIMIT_RESERVATIONS_PER_IP: rateLimit.prefault('600/60'),
  /**
   * The limits of a user's own requests (RATE_LIMIT_USER_REQUESTS, _USER_MUTATIONS,
   * _STREAM_OPENS_PER_USER, _RESERVATIONS_PER_USER), P points per S seconds, also hold over every
   * second: at most P/S times this in one second (at least 10), so that a client cannot spend a
   * window's budget in its first moment (1,200 queries at full speed held every other client's
   * answers back).
   * Refused with the same RATE_LIMITED, the limit's name and a Retry-After of 1 s. 0: the windows
   * of the settings only.
   */
  RATE_LIMIT_BURST_FACTOR: z.coerce.number().min(0).max(1000).default(2),
  /**
   * A 429 (RATE_LIMITED, TOO_MANY_CONNECTIONS) is answered after this long (at most its
   * Retry-After), so that a client retrying as soon as it is answered makes one attempt per delay
   * instead of thousands a second. 0: at once.
   */
  RATE_LIMIT_REFUSAL_DELAY_MS: z.coerce.number().int().min(0).max(10_000).default(1_000),
  /**
   * Bytes of requests (bodies; URLs for GET) per window per client address, counting only what
   * each request has beyond its first 16 KiB: reading, parsing and validating a large request is
   * the most a request can cost (a 2.5 MB unused variable, a 200 KB document of aliases), and
   * ordinary requests are far below 16 KiB and never count. The default holds about ten of the
   * largest emits a minute (2.7 MB each), what RATE_LIMIT_PRODUCER_RECIPIENTS allows anyway.
   * Checked before the body is parsed. `off`: no limit.
   */
  RATE_LIMIT_REQUEST_BYTES_PER_IP: rateLimit.prefault('32000000/60'),
  /**
   * The client address of the per-address rate limits: true, the left-most X-Forwarded-For entry
   * (behind a reverse proxy that sets it: a client can write that header itself, so enable this
   * only when every request comes through a proxy that replaces it); false, the socket's address.
   * MAX_CONNECTIONS_PER_IP always counts sockets.
   */
  TRUST_PROXY: bool.default(false),
  /**
   * TLS certificate chain and private key (PEM files), both or neither. Set: Herald listens with
   * TLS and serves HTTP/2 beside HTTP/1.1 (ALPN), so a browser's streams and requests to Herald
   * share one connection instead of HTTP/1.1's 6 per origin.
   */
  TLS_CERT_FILE: z.string().optional(),
  TLS_KEY_FILE: z.string().optional(),
  /**
   * Cleartext HTTP/2 with prior knowledge (h2c) beside HTTP/1.1 on the same port, for a proxy that
   * speaks HTTP/2 to its upstream (Caddy's `h2c://`, Envoy). Not with TLS_CERT_FILE (TLS offers
   * HTTP/2 by itself).
   */
  HTTP2_CLEARTEXT: bool.default(false),
  /** Streams one HTTP/2 connection may have open at once (a proxy's connection carries many clients'). */
  HTTP2_MAX_CONCURRENT_STREAMS: z.coerce.number().int().min(100).max(100_000).default(1000),
});

/** The configuration, with the defaults that depend on NODE_ENV filled in. */
export type Config = Omit<z.output<typeof schema>, 'CORS_ORIGINS'> & { CORS_ORIGINS: string[] };
export type ConfigInput = Partial<Record<keyof z.input<typeof schema>, string | number | boolean>>;

/** Error thrown for an invalid environment: its message lists every problem. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Reads and validates the configuration. `env` defaults to `process.env`; tests pass their own.
 * Empty strings count as unset.
 */
/** Settings that were renamed: set under the old name, they stop the server instead of being ignored. */
const RENAMED: Record<string, string> = {
  RATE_LIMIT_USER_QUERIES: 'RATE_LIMIT_USER_REQUESTS (it now counts every request of a user, whatever it turns out to be)',
};

export function loadConfig(env: Record<string, unknown> = process.env): Config {
  const renamed = Object.keys(RENAMED).filter((name) => env[name] !== undefined);
  if (renamed.length > 0) {
    throw new ConfigError(`Invalid configuration:\n${renamed.map((name) => `  ${name}: renamed to ${RENAMED[name]}`).join('\n')}`);
  }
  const config = parseEnv(schema, env);
  const problems = keyProblems(config);
  if (problems.length > 0) throw new ConfigError(`Invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  const withCors: Config = { ...config, CORS_ORIGINS: config.CORS_ORIGINS ?? (config.NODE_ENV === 'production' ? [] : ['*']) };
  // Development without any key source keeps working with the published development secret.
  if (withCors.JWT_SECRET === undefined && !withCors.JWT_JWKS_URL && withCors.NODE_ENV !== 'production') {
    return { ...withCors, JWT_SECRET: DEV_JWT_SECRET };
  }
  return withCors;
}

const tokenSchema = schema.pick({ NODE_ENV: true, JWT_SECRET: true, JWT_JWKS_URL: true, JWT_MAX_TOKEN_AGE_SECONDS: true });

/**
 * The bearer-token key, for `npm run token` (which must not need the server's other secrets, such
 * as STREAM_TICKET_SECRET in production). Same rules for JWT_SECRET as loadConfig.
 */
export function loadTokenConfig(env: Record<string, unknown> = process.env): {
  JWT_SECRET: string | undefined;
  JWT_MAX_TOKEN_AGE_SECONDS: number;
} {
  const config = parseEnv(tokenSchema, env);
  const secret = config.JWT_SECRET;
  if (config.NODE_ENV === 'production' && secret !== undefined && (secret === DEV_JWT_SECRET || secret.length < 32)) {
    throw new ConfigError(
      'Invalid configuration:\n  JWT_SECRET: set a secret of at least 32 characters (NODE_ENV=production refuses the development default)',
    );
  }
  const maxAge = config.JWT_MAX_TOKEN_AGE_SECONDS;
  if (secret === undefined && !config.JWT_JWKS_URL && config.NODE_ENV !== 'production') {
    return { JWT_SECRET: DEV_JWT_SECRET, JWT_MAX_TOKEN_AGE_SECONDS: maxAge };
  }
  return { JWT_SECRET: secret, JWT_MAX_TOKEN_AGE_SECONDS: maxAge };
}

const databaseSchema = schema.pick({ DATABASE_URL: true, HERALD_DATA_DIR: true });

/**
 * The database part of the configuration, for `npm run db:migrate` (which must not need the
 * server's secrets). Same rules as loadConfig.
 */
export function loadDatabaseConfig(env: Record<string, unknown> = process.env): z.output<typeof databaseSchema> {
  return parseEnv(databaseSchema, env);
}

/** Validates the variables `shape` names (empty strings count as unset); every problem in one ConfigError. */
function parseEnv<S extends z.ZodObject>(shape: S, env: Record<string, unknown>): z.output<S> {
  const input: Record<string, unknown> = {};
  for (const key of Object.keys(shape.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') input[key] = typeof value === 'string' ? value : String(value);
  }
  const parsed = shape.safeParse(input);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

/** What is wrong with the token, ticket and TLS keys (empty when nothing is). */
function keyProblems(config: z.output<typeof schema>): string[] {
  const problems: string[] = [];
  if ((config.TLS_CERT_FILE === undefined) !== (config.TLS_KEY_FILE === undefined)) {
    problems.push('TLS_CERT_FILE, TLS_KEY_FILE: set both (TLS with HTTP/2) or neither');
  }
  if (config.HTTP2_CLEARTEXT && config.TLS_CERT_FILE !== undefined) {
    problems.push('HTTP2_CLEARTEXT: not with TLS_CERT_FILE (over TLS, HTTP/2 is offered by ALPN)');
  }
  const production = config.NODE_ENV === 'production';
  const secret = config.JWT_SECRET;
  if (production) {
    if (secret === undefined && !config.JWT_JWKS_URL) {
      problems.push('JWT_SECRET: set a secret of at least 32 characters, or JWT_JWKS_URL (NODE_ENV=production has no default)');
    } else if (secret !== undefined && (secret === DEV_JWT_SECRET || secret.length < 32)) {
      problems.push('JWT_SECRET: set a secret of at least 32 characters (NODE_ENV=production refuses the development default)');
    }
    if (config.STREAM_TICKET_SECRET === undefined) {
      problems.push('STREAM_TICKET_SECRET: set a key of at least 32 characters, the same on every instance (NODE_ENV=production)');
    }
  }
  const ticketSecret = config.STREAM_TICKET_SECRET;
  if (ticketSecret !== undefined && (ticketSecret === secret || ticketSecret === DEV_JWT_SECRET)) {
    problems.push(
      'STREAM_TICKET_SECRET: must differ from JWT_SECRET and from the development secret (a ticket must never pass as a bearer token)',
    );
  }
  return problems;
}
