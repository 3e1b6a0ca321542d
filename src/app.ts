import { randomUUID } from 'node:crypto';
import { useGraphQlJit } from '@envelop/graphql-jit';
import { GraphQLError } from 'graphql';
import {
  createGraphQLError,
  createYoga,
  maskError as defaultMaskError,
  type Plugin,
  useReadinessCheck,
  type YogaServerInstance,
} from 'graphql-yoga';
import { createMemoryTicketLedger, createRedisTicketLedger } from './auth/tickets.ts';
import { createAuthenticator } from './auth/tokens.ts';
import type { Config } from './config.ts';
import { type Context, createContextFactory, type Services } from './context.ts';
import { type Database, openConfiguredDatabase } from './db/index.ts';
import { MigrationError, migrationProblem } from './db/migrate.ts';
import { type Bus, createMemoryBus, createRedisBus } from './delivery/bus.ts';
import { Hub } from './delivery/hub.ts';
import { createLocalPresence, createRedisPresence } from './delivery/presence.ts';
import { SseRegistry } from './delivery/sse.ts';
import { ErrorCode, isDatabaseUnavailable } from './errors.ts';
import { createCallers } from './http/callers.ts';
import { corsPolicy } from './http/cors.ts';
import { createGraphiql } from './http/graphiql.ts';
import { createGraphqlEndpoint, type EndpointStats } from './http/graphql.ts';
import { createFrontDoor } from './http/handler.ts';
import { createLogger, type Logger } from './logger.ts';
import type { NodeRequest, NodeResponse } from './node-http.ts';
import { Emitter } from './notifications/emit.ts';
import { startExpiry } from './notifications/expiry.ts';
import { startRetention } from './notifications/retention.ts';
import { createMetrics } from './observability/metrics.ts';
import { boundedError, useBoundedErrors } from './pipeline/bounded-errors.ts';
import { DocumentCache } from './pipeline/document-cache.ts';
import { useEmitResponseLimit } from './pipeline/emit-response.ts';
import { ErrorLog } from './pipeline/errors.ts';
import { useDocumentLimits } from './pipeline/limits.ts';
import { useQueryLimits } from './pipeline/query-limits.ts';
import { useUserRateLimits } from './pipeline/rate-limits.ts';
import { useReleaseContext } from './pipeline/release.ts';
import { useReservedStreams } from './pipeline/reservations.ts';
import { useSchemaExposure } from './pipeline/schema-exposure.ts';
import { useSubscriptionRootRule } from './pipeline/subscription-root.ts';
import { useHubSubscriptions } from './pipeline/subscriptions.ts';
import { createRateLimits } from './ratelimit/limits.ts';
import { schema } from './schema/index.ts';

const GRAPHQL_PATH = '/graphql';
const STREAM_PATH = '/graphql/stream';
const GRAPHIQL_ASSETS_PATH = '/graphiql/assets';
/** Yoga hooks that only its own handler runs. */
const HTTP_HOOKS = ['onRequest', 'onRequestParse', 'onParams', 'onExecutionResult', 'onResultProcess', 'onResponse'] as const;

function toGraphQLError(error: Error): GraphQLError {
  return error instanceof GraphQLError ? error : createGraphQLError(error.message, { originalError: error });
}

export interface App {
  yoga: YogaServerInstance<Record<string, unknown>, Context>;
  services: Services;
  sse: SseRegistry;
  /** How many operations the fast path answered and how many it handed to Yoga's handler. */
  routes: () => EndpointStats;
  /**
   * The node request listener: the front door (http/handler.ts), then GraphQL operations on the
   * fast path (http/graphql.ts) through Yoga's envelop pipeline, everything else Yoga's handler.
   */
  handler: (req: NodeRequest, res: NodeResponse) => void;
  /** Graceful stop: end streams (clients reconnect elsewhere), finish emits, close connections. */
  close(): Promise<void>;
}

export interface AppOptions {
  config: Config;
  /** An open database; by default the one the configuration selects (migrated when embedded or AUTO_MIGRATE). */
  db?: Database;
  /** A bus; by default Redis when REDIS_URL is set, in-process otherwise. */
  bus?: Bus;
  log?: Logger;
  /**
   * Envelop/Yoga plugins added after Herald's own. They apply to every request on every transport
   * (POSTed and GET operations, SSE streams in both graphql-sse modes).
   */
  plugins?: Plugin[];
}

/** Builds a Herald instance (the Yoga app and its services) without listening. */
export async function createApp(options: AppOptions): Promise<App> {
  const { config } = options;
  const log = options.log ?? createLogger(config.LOG_LEVEL);
  const db = options.db ?? (await openConfiguredDatabase(config));
  if (!options.db && (db.kind === 'embedded' || config.AUTO_MIGRATE)) {
    const applied = await db.migrate();
    if (applied.length) log.info({ applied }, 'migrations applied');
  } else if (!options.db) {
    // Serving a half-migrated schema fails requests at random: refuse to start instead.
    const problem = migrationProblem(await db.migrationStatus());
    if (problem) {
      await db.close();
      throw new MigrationError(problem);
    }
  }
  const bus = options.bus ?? (config.REDIS_URL ? createRedisBus(config.REDIS_URL, log, config.REDIS_PREFIX) : createMemoryBus());
  // Rate limits: shared through Redis (a connection of their own) when REDIS_URL is set, in memory
  // otherwise, and in memory until that connection is ready.
  const rateLimits = createRateLimits(config, log);
  // Publishes made before Redis is connected fail (the rows are safe, delivery waits for a catch-up):
  // give it a moment at start-up, but start without Redis if it is down (delivery, not truth). The
  // same moment for the rate limits' connection.
  await Promise.all([bus.connected(5_000), rateLimits.connected(5_000)]);
  const hub = new Hub({
    sql: db.sql,
    bus,
    log,
    maxStreamsPerUser: config.MAX_STREAMS_PER_USER,
    catchupIntervalMs: config.CATCHUP_INTERVAL_MS,
  });
  const presence = config.REDIS_URL
    ? createRedisPresence({
        url: config.REDIS_URL,
        instanceId: randomUUID(),
        ttlMs: config.PRESENCE_TTL_MS,
        prefix: config.REDIS_PREFIX,
        localUsers: () => hub.onlineUsers(),
        isLocal: (userId) => hub.isOnline(userId),
        log,
      })
    : createLocalPresence(() => hub.onlineUsers());
  const metricsOn = config.METRICS_ENABLED && (config.NODE_ENV !== 'production' || config.METRICS_TOKEN !== undefined);
  if (config.METRICS_ENABLED && !metricsOn) log.info(`${config.METRICS_PATH} is off: set METRICS_TOKEN to serve metrics in production`);
  const metrics = metricsOn
    ? createMetrics({ path: config.METRICS_PATH, token: config.METRICS_TOKEN, hub: () => hub, sse: () => sse })
    : undefined;
  const limit = rateLimits.limit;
  const emitter = new Emitter({
    db,
    bus,
    log,
    idempotencyTtlHours: config.IDEMPOTENCY_TTL_HOURS,
    maxConcurrentBatches: config.EMIT_CONCURRENT_COMMITS,
    admit: rateLimits.admitEmit,
    ...(metrics ? { observer: metrics.emits } : {}),
  });
  // Used stream tickets: shared through Redis, so that a ticket opens one stream on any instance.
  const tickets = config.REDIS_URL ? createRedisTicketLedger(config.REDIS_URL, config.REDIS_PREFIX, log) : createMemoryTicketLedger();
  const authenticator = createAuthenticator(config, log, tickets);
  const services: Services = { config, db, bus, hub, emitter, authenticator, presence, log };
  const sse = new SseRegistry({
    heartbeatMs: config.HEARTBEAT_INTERVAL_MS,
    bufferLimitBytes: config.STREAM_BUFFER_LIMIT_BYTES,
    tcpKeepAliveMs: config.TCP_KEEPALIVE_MS,
    log,
  });
  const stopRetention = startRetention({
    sql: db.sql,
    bus,
    log,
    retentionDays: config.RETENTION_DAYS,
    idempotencyTtlHours: config.IDEMPOTENCY_TTL_HOURS,
    intervalMs: config.RETENTION_INTERVAL_MS,
  });
  const stopExpiry = startExpiry({ sql: db.sql, bus, log, intervalMs: config.EXPIRY_INTERVAL_MS });

  const contextFor = createContextFactory(services);
  const isDev = config.NODE_ENV === 'development';
  const production = config.NODE_ENV === 'production';
  const maskError = (error: unknown, message: string, dev?: boolean): Error => {
    if (isDatabaseUnavailable(error)) {
      return createGraphQLError(
        'The database is unavailable. Retry with the same idempotencyKey: an emit whose commit was under way may have been stored, and the retry then answers DUPLICATE.',
        {
          extensions: { code: ErrorCode.SERVICE_UNAVAILABLE, retriable: true },
        },
      );
    }
    const masked = boundedError(defaultMaskError(error, message, dev));
    // graphql-js's request errors (a variable of the wrong type, a missing required one) carry no
    // code: every error a client gets has one. Without a path, the request itself was wrong.
    // (A new error: graphql-jit builds its own, without an extensions object.)
    if (masked instanceof GraphQLError && masked.extensions?.code === undefined && masked.path === undefined) {
      return new GraphQLError(masked.message, {
        nodes: masked.nodes ?? null,
        source: masked.source ?? null,
        positions: masked.positions ?? null,
        originalError: masked.originalError ?? null,
        extensions: { ...masked.extensions, code: ErrorCode.BAD_USER_INPUT },
      });
    }
    return masked;
  };
  const errorLog = new ErrorLog(log, metrics?.unexpectedError);
  const mask = (error: unknown) => toGraphQLError(maskError(error, 'Unexpected error.', isDev));
  const eventContext: Context = { services, auth: null, authError: null, lastEventId: null, requestId: null };
  const userPlugins = options.plugins ?? [];
  const yoga = createYoga<Record<string, unknown>, Context>({
    schema,
    graphqlEndpoint: GRAPHQL_PATH,
    healthCheckEndpoint: '/health',
    landingPage: false,
    // The front door (http/handler.ts) applies the origin policy and the body limit to every path.
    cors: false,
    maxRequestBodySize: config.MAX_REQUEST_BODY_BYTES,
    parserAndValidationCache: {
      documentCache: new DocumentCache(config.DOCUMENT_CACHE_BYTES),
      errorCache: new DocumentCache(Math.floor(config.DOCUMENT_CACHE_BYTES / 8)),
    },
    // Served by the front door from local assets (http/graphiql.ts), not Yoga's CDN page.
    graphiql: false,
    logging: errorLog.yogaLogger(),
    maskedErrors: { maskError },
    context: ({ request }): Promise<Context> =>
      contextFor(
        {
          authorization: request.headers.get('authorization'),
          ticket: request.method === 'GET' ? new URL(request.url).searchParams.get('ticket') : null,
          lastEventId: request.headers.get('last-event-id'),
        },
        request.headers.get('x-request-id'),
      ),
    plugins: [
      useReadinessCheck({
        endpoint: '/ready',
        check: async () => {
          await db.ping();
          await bus.ping();
          return true;
        },
      }),
      ...useDocumentLimits({ maxTokens: config.MAX_DOCUMENT_TOKENS, maxCharacters: config.MAX_DOCUMENT_CHARACTERS }),
      ...useQueryLimits({
        maxAliases: config.MAX_QUERY_ALIASES,
        maxDepth: config.MAX_QUERY_DEPTH,
        maxDirectives: config.MAX_QUERY_DIRECTIVES,
        maxCost: config.MAX_QUERY_COST,
      }),
      ...useSchemaExposure({ introspection: config.INTROSPECTION_ENABLED ?? !production, suggestions: !production }),
      useUserRateLimits({
        mutations: limit.RATE_LIMIT_USER_MUTATIONS,
        streamOpens: limit.RATE_LIMIT_STREAM_OPENS_PER_USER,
      }),
      useSubscriptionRootRule(),
      useBoundedErrors(),
      useEmitResponseLimit(config.MAX_EMIT_RESPONSE_BYTES),
      // Queries and mutations run compiled (graphql-jit); subscriptions' events too (useHubSubscriptions).
      useGraphQlJit(),
      // graphql-sse (single-connection reservations need a bearer token and expire unattached).
      useReservedStreams({
        endpoint: STREAM_PATH,
        ttlMs: config.SSE_RESERVATION_TTL_MS,
        maxPerUser: config.MAX_STREAMS_PER_USER,
        // A reservation is a stream open too; both count, refused or not.
        admit: async (userId) => {
          const [reservations, opens] = await Promise.all([
            limit.RATE_LIMIT_RESERVATIONS_PER_USER.consume(userId),
            limit.RATE_LIMIT_STREAM_OPENS_PER_USER.consume(userId),
          ]);
          return reservations ?? opens;
        },
        caller: async (request) => {
          const { auth, authError } = await contextFor({
            authorization: request.headers.get('authorization'),
            ticket: null,
            lastEventId: null,
          });
          return auth ? { userId: auth.userId } : { refused: authError ?? 'Authentication required: send Authorization: Bearer <token>' };
        },
      }),
      useReleaseContext(),
      errorLog.plugin(),
      ...(metrics?.plugins ?? []),
      ...(config.BENCH_STATS ? [useStats(services, sse, () => graphql.stats())] : []),
      ...userPlugins,
      // Last: it opens streams and stops there (see pipeline/subscriptions.ts).
      useHubSubscriptions({ eventContext, mask: errorLog.masking(mask), observer: metrics?.subscriptions }),
    ],
  });

  // Plugins with hooks above envelop (HTTP-level: onRequest, onParams, onResultProcess...) run only
  // in Yoga's handler: with one of those installed, every operation goes there (slower, complete).
  const yogaOnly = userPlugins.some((plugin) => HTTP_HOOKS.some((hook) => hook in plugin));
  if (yogaOnly) log.info("a plugin has HTTP-level hooks: every GraphQL request is served by Yoga's handler");
  if (config.CORS_ORIGINS.includes('*') && config.NODE_ENV === 'development') {
    log.warn('CORS_ORIGINS is unset: pages of any origin may call this server (set CORS_ORIGINS in production)');
  }
  const graphql = createGraphqlEndpoint({
    yoga,
    registry: sse,
    mask,
    errors: errorLog,
    eventContext,
    fallback: yoga,
    refusalDelayMs: config.RATE_LIMIT_REFUSAL_DELAY_MS,
  });
  const handler = createFrontDoor({
    graphqlPath: GRAPHQL_PATH,
    streamPath: STREAM_PATH,
    cors: corsPolicy(config.CORS_ORIGINS),
    callers: createCallers({
      authenticator,
      producer: {
        maxBodyBytes: config.MAX_REQUEST_BODY_BYTES,
        bodySetting: 'MAX_REQUEST_BODY_BYTES',
        maxTokens: config.MAX_DOCUMENT_TOKENS,
      },
      others: {
        maxBodyBytes: config.USER_MAX_REQUEST_BODY_BYTES,
        bodySetting: 'USER_MAX_REQUEST_BODY_BYTES',
        maxTokens: config.USER_MAX_DOCUMENT_TOKENS,
      },
      userRequests: limit.RATE_LIMIT_USER_REQUESTS,
      anonymousRequests: limit.RATE_LIMIT_ANONYMOUS_REQUESTS_PER_IP,
    }),
    maxVariablesBytes: config.MAX_VARIABLES_BYTES,
    graphql,
    graphiql:
      (config.GRAPHIQL_ENABLED ?? !production)
        ? createGraphiql({ endpoint: GRAPHQL_PATH, assetsPath: GRAPHIQL_ASSETS_PATH, title: 'Herald' })
        : null,
    yoga,
    yogaOnly,
    addressLimits: {
      streamOpens: limit.RATE_LIMIT_STREAM_OPENS_PER_IP,
      reservations: limit.RATE_LIMIT_RESERVATIONS_PER_IP,
      requestBytes: limit.RATE_LIMIT_REQUEST_BYTES_PER_IP,
    },
    refusalDelayMs: config.RATE_LIMIT_REFUSAL_DELAY_MS,
    trustProxy: config.TRUST_PROXY,
  });

  let closed = false;
  return {
    yoga,
    services,
    sse,
    routes: () => graphql.stats(),
    handler,
    async close() {
      if (closed) return;
      closed = true;
      stopRetention();
      stopExpiry();
      // Connections first: streams end without `complete`, then the hub lets go of them.
      sse.closeAll();
      hub.closeAll();
      await emitter.settle();
      await presence.close();
      await tickets.close();
      await rateLimits.close();
      await bus.close();
      if (!options.db) await db.close();
    },
  };
}

/** GET /stats: stream, buffer and memory counters (BENCH_STATS=true). `?gc=1` collects garbage first. */
function useStats(services: Services, sse: SseRegistry, routes: () => EndpointStats): Plugin {
  return {
    onRequest({ request, url, endResponse, fetchAPI }) {
      if (url.pathname !== '/stats' || request.method !== 'GET') return;
      const gc = (globalThis as { gc?: () => void }).gc;
      if (url.searchParams.get('gc') === '1' && gc) {
        gc();
        gc();
      }
      const mem = process.memoryUsage();
      endResponse(
        fetchAPI.Response.json({
          ...services.hub.stats(),
          ...sse.stats(),
          routes: routes(),
          rss: mem.rss,
          heapUsed: mem.heapUsed,
          external: mem.external,
        }),
      );
    },
  };
}
