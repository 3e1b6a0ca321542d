// Herald target adapter: everything the benchmark knows about the Herald server is in this file.
// Contract (issue #4 brief):
//   start:     node --import tsx src/server.ts (cwd = repo root), ready when GET /ready -> 200
//   subscribe: GET /graphql?query=subscription{notificationAdded{id cursor body}}
//              Accept: text/event-stream, Authorization: Bearer <HS256 JWT, sub = user id>
//   emit:      POST /graphql emitNotification(input: {recipientIds, title, body, type, category})
//              with a producer token (sub "bench-producer", scope "notifications:emit")
//   memory:    GET /stats?gc=1 when BENCH_STATS=true (else the runner falls back to /proc VmRSS)
//   heartbeat: HEARTBEAT_INTERVAL_MS (one shared timer; the runner lengthens it under load)
import { existsSync } from 'node:fs';
import path from 'node:path';
import { SignJWT } from 'jose';
import { BENCH_DATABASE_URL, recreateBenchDatabase } from '../lib/db.ts';
import { REPO_ROOT } from './baselines.ts';
import type { Target, TargetClient } from './types.ts';

const JWT_SECRET = process.env.BENCH_HERALD_JWT_SECRET ?? 'herald-bench-secret-0123456789-abcdefghijklmnop';
const SERVER_ENTRY = 'src/server.ts';
const SUBSCRIPTION = 'subscription { notificationAdded { id cursor body } }';
const EMIT = 'mutation($input: EmitNotificationInput!){ emitNotification(input: $input){ deliveredCount } }';

/**
 * Every rate limit raised out of reach (src/config.ts, README "Rate limits"): the benchmarks drive
 * one producer at thousands of emits per second into the same inboxes and open thousands of streams
 * from one address, which the production defaults refuse by design. Only these settings differ
 * from a deployment's defaults here; the tests (test/security/rate-limits.test.ts) run with the defaults.
 */
export const RAISED_LIMITS: Record<string, string> = {
  RATE_LIMIT_PRODUCER_RECIPIENTS: '1000000000/60',
  RATE_LIMIT_RECIPIENT: '1000000000/60',
  RATE_LIMIT_USER_REQUESTS: '1000000000/60',
  RATE_LIMIT_ANONYMOUS_REQUESTS_PER_IP: '1000000000/60',
  RATE_LIMIT_USER_MUTATIONS: '1000000000/60',
  RATE_LIMIT_STREAM_OPENS_PER_USER: '1000000000/60',
  RATE_LIMIT_STREAM_OPENS_PER_IP: '1000000000/60',
  RATE_LIMIT_RESERVATIONS_PER_USER: '1000000000/60',
  RATE_LIMIT_RESERVATIONS_PER_IP: '1000000000/60',
  RATE_LIMIT_REQUEST_BYTES_PER_IP: '1000000000/60',
};

async function sign(claims: Record<string, unknown>, sub: string): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(JWT_SECRET));
}

export const herald: Target = {
  name: 'herald',
  description: 'Herald: graphql-yoga + Pothos + Prisma + Redis, GraphQL subscription over SSE',
  uses: { redis: true, postgres: true },
  unavailableReason: () => (existsSync(path.join(REPO_ROOT, SERVER_ENTRY)) ? null : `${SERVER_ENTRY} does not exist yet`),
  prepare: recreateBenchDatabase,
  launch: (port, opts) => ({
    command: process.execPath,
    // BENCH_HERALD_NODE_ARGS: extra node flags for the server, e.g. "--cpu-prof --cpu-prof-dir=prof".
    args: ['--expose-gc', '--no-allocation-site-pretenuring', ...(process.env.BENCH_HERALD_NODE_ARGS?.split(' ').filter(Boolean) ?? []), '--import', 'tsx', SERVER_ENTRY],
    cwd: REPO_ROOT,
    env: {
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: BENCH_DATABASE_URL,
      REDIS_URL: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
      JWT_SECRET,
      STREAM_TICKET_SECRET: 'herald-bench-ticket-secret-0123456789-abcdefgh',
      AUTO_MIGRATE: 'true',
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      HEARTBEAT_INTERVAL_MS: String(opts.heartbeatMs),
      BENCH_STATS: 'true',
      // Every client of the benchmark (10,000 streams) comes from one address: no per-address cap.
      MAX_CONNECTIONS_PER_IP: '0',
      // The rate limits raised by configuration (see RAISED_LIMITS above).
      ...RAISED_LIMITS,
      // Metrics are served in production only with a token: set one to measure Herald with them on.
      ...(process.env.BENCH_HERALD_METRICS_TOKEN ? { METRICS_TOKEN: process.env.BENCH_HERALD_METRICS_TOKEN } : {}),
    },
    ready: { kind: 'http', path: '/ready' },
    statsPath: '/stats',
  }),
  userId: (i) => `bench-user-${i}`,
  async client(): Promise<TargetClient> {
    const producer = await sign({ scope: 'notifications:emit' }, 'bench-producer');
    const subscribePath = `/graphql?query=${encodeURIComponent(SUBSCRIPTION)}`;
    return {
      subscribe: async (userId) => ({
        kind: 'sse',
        request: {
          method: 'GET',
          path: subscribePath,
          headers: { accept: 'text/event-stream', authorization: `Bearer ${await sign({}, userId)}` },
        },
      }),
      publish: (recipientIds, payload) => ({
        method: 'POST',
        path: '/graphql',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${producer}` },
        body: JSON.stringify({
          query: EMIT,
          variables: { input: { recipientIds, title: 'bench', body: payload, type: 'UPDATE', category: 'bench' } },
        }),
      }),
      publishOk: (status, body) => status === 200 && !body.includes('"errors"'),
    };
  },
};
