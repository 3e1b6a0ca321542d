import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { useGraphQlJit } from '@envelop/graphql-jit';
import { useGraphQLSSE } from '@graphql-yoga/plugin-graphql-sse';
import type { GraphQLError } from 'graphql';
import {
  createGraphQLError,
  createYoga,
  maskError as defaultMaskError,
  type Plugin,
  useReadinessCheck,
  type YogaServerInstance,
} from 'graphql-yoga';
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
import { createOperationsEndpoint, type OperationsStats } from './http/operations.ts';
import { PlanCache } from './http/plans.ts';
import { MAX_BODY_BYTES } from './http/request.ts';
import { createSseEndpoint, useCursorSubscriptions } from './http/sse-endpoint.ts';
import { createLogger, type Logger } from './logger.ts';
import { Emitter } from './notifications/emit.ts';
import { startRetention } from './notifications/retention.ts';
import { schema } from './schema/index.ts';

export interface App {
  yoga: YogaServerInstance<Record<string, unknown>, Context>;
  services: Services;
  sse: SseRegistry;
  /** Counters of the endpoint serving POSTed queries and mutations outside Yoga. */
  operations: () => OperationsStats;
  /**
   * The node request listener: SSE subscriptions (http/sse-endpoint.ts), POSTed queries and
   * mutations (http/operations.ts), everything else through Yoga.
   */
  handler: (req: IncomingMessage, res: ServerResponse) => void;
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
  // Publishes made before Redis is connected fail (the rows are safe, delivery waits for a catch-up):
  // give it a moment at start-up, but start without Redis if it is down (delivery, not truth).
  await bus.connected(5_000);
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
  const emitter = new Emitter({
    db,
    bus,
    log,
    idempotencyTtlHours: config.IDEMPOTENCY_TTL_HOURS,
    maxConcurrentBatches: config.EMIT_CONCURRENT_COMMITS,
  });
  const authenticator = createAuthenticator(config, log);
  const services: Services = { config, db, bus, hub, emitter, authenticator, presence, log };
  const sse = new SseRegistry({
    heartbeatMs: config.HEARTBEAT_INTERVAL_MS,
    bufferLimitBytes: config.STREAM_BUFFER_LIMIT_BYTES,
    tcpKeepAliveMs: config.TCP_KEEPALIVE_MS,
    log,
  });
  const stopRetention = startRetention({
    prisma: db.prisma,
    bus,
    log,
    retentionDays: config.RETENTION_DAYS,
    idempotencyTtlHours: config.IDEMPOTENCY_TTL_HOURS,
    intervalMs: config.RETENTION_INTERVAL_MS,
  });

  const contextFor = createContextFactory(services);
  const isDev = config.NODE_ENV === 'development';
  const maskError = (error: unknown, message: string, dev?: boolean): Error => {
    if (process.env.DEBUG_ERRORS) console.error(error);
    if (isDatabaseUnavailable(error)) {
      return createGraphQLError(
        'The database is unavailable. Retry with the same idempotencyKey: an emit whose commit was under way may have been stored, and the retry then answers DUPLICATE.',
        {
          extensions: { code: ErrorCode.SERVICE_UNAVAILABLE, retriable: true },
        },
      );
    }
    return defaultMaskError(error, message, dev);
  };
  const yoga = createYoga<Record<string, unknown>, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    healthCheckEndpoint: '/health',
    landingPage: false,
    maxRequestBodySize: MAX_BODY_BYTES,
    graphiql: { title: 'Herald', subscriptionsProtocol: 'GRAPHQL_SSE' },
    logging: log,
    maskedErrors: { maskError },
    context: ({ request }): Promise<Context> =>
      contextFor({
        authorization: request.headers.get('authorization'),
        ticket: request.method === 'GET' ? new URL(request.url).searchParams.get('ticket') : null,
        lastEventId: request.headers.get('last-event-id'),
      }),
    plugins: [
      useReadinessCheck({
        endpoint: '/ready',
        check: async () => {
          await db.ping();
          await bus.ping();
          return true;
        },
      }),
      // Queries and mutations run compiled (graphql-jit), like the SSE endpoint's subscriptions.
      useGraphQlJit(),
      useGraphQLSSE({ endpoint: '/graphql/stream' }),
      useCursorSubscriptions(),
      ...(config.BENCH_STATS ? [useStats(services, sse, () => operations.stats())] : []),
      ...(options.plugins ?? []),
    ],
  });

  // Herald's own endpoints in front of Yoga: SSE subscriptions, then POSTed queries and mutations.
  const plans = new PlanCache(schema);
  const mask = (error: unknown) => maskError(error, 'Unexpected error.', isDev) as GraphQLError;
  const operations = createOperationsEndpoint({
    path: '/graphql',
    plans,
    context: contextFor,
    maskError: mask,
    fallback: yoga,
    fetchAPI: yoga.fetchAPI,
  });
  const handler = createSseEndpoint({
    schema,
    plans,
    path: '/graphql',
    registry: sse,
    context: contextFor,
    maskError: mask,
    fallback: operations,
    eventContext: { services, auth: null, authError: null, lastEventId: null },
  });

  let closed = false;
  return {
    yoga,
    services,
    sse,
    operations: () => operations.stats(),
    handler,
    async close() {
      if (closed) return;
      closed = true;
      stopRetention();
      // Connections first: streams end without `complete`, then the hub lets go of them.
      sse.closeAll();
      hub.closeAll();
      await emitter.settle();
      await presence.close();
      await bus.close();
      if (!options.db) await db.close();
    },
  };
}

/** GET /stats: stream, buffer and memory counters (BENCH_STATS=true). `?gc=1` collects garbage first. */
function useStats(services: Services, sse: SseRegistry, operations: () => OperationsStats): Plugin {
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
          operations: operations(),
          rss: mem.rss,
          heapUsed: mem.heapUsed,
          external: mem.external,
        }),
      );
    },
  };
}
