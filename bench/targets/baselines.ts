import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_DATABASE_URL, recreateBenchDatabase } from '../lib/db.ts';
import type { HttpRequestSpec, LaunchOptions, LaunchSpec, Target, TargetClient } from './types.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(here, '../..');
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

function nodeLaunch(file: string, port: number, opts: LaunchOptions, env: Record<string, string> = {}): LaunchSpec {
  return {
    command: process.execPath,
    args: ['--expose-gc', '--import', 'tsx', path.join('bench/baselines', file)],
    cwd: REPO_ROOT,
    env: { PORT: String(port), HOST: '127.0.0.1', REDIS_URL, HEARTBEAT_MS: String(opts.heartbeatMs), BENCH_EXIT_ON_STDIN_CLOSE: '1', ...env },
    ready: { kind: 'stdout' },
    statsPath: '/stats',
  };
}

const sseClient: TargetClient = {
  subscribe: (userId) => ({
    kind: 'sse',
    request: { method: 'GET', path: `/events?user=${encodeURIComponent(userId)}`, headers: { accept: 'text/event-stream' } },
  }),
  publish: (userIds, payload): HttpRequestSpec => ({
    method: 'POST',
    path: '/publish',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ userIds, payload }),
  }),
  publishOk: (status) => status === 200,
};

const userId = (i: number): string => `u${i}`;

export const b0: Target = {
  name: 'b0',
  description: 'B0: minimal node:http SSE server, Map user -> responses, POST per event',
  uses: { redis: false, postgres: false },
  unavailableReason: () => null,
  launch: (port, opts) => nodeLaunch('b0.ts', port, opts),
  userId,
  client: async () => sseClient,
};

export const b0r: Target = {
  name: 'b0r',
  description: 'B0R: B0 + Redis PUBLISH per user channel, one SUBSCRIBE per user with streams',
  uses: { redis: true, postgres: false },
  unavailableReason: () => null,
  launch: (port, opts) => nodeLaunch('b0r.ts', port, opts),
  userId,
  client: async () => sseClient,
};

export const b0p: Target = {
  name: 'b0p',
  description: 'B0P: B0R + one raw-pg transaction per POST (INSERT + per-user seq UPDATE), then PUBLISH',
  uses: { redis: true, postgres: true },
  unavailableReason: () => null,
  prepare: recreateBenchDatabase,
  launch: (port, opts) => nodeLaunch('b0p.ts', port, opts, { DATABASE_URL: BENCH_DATABASE_URL }),
  userId,
  client: async () => sseClient,
};

export const socketio: Target = {
  name: 'socketio',
  description: 'Peer: Socket.IO 4 + @socket.io/redis-adapter, websocket transport, POST per event to rooms',
  uses: { redis: true, postgres: false },
  unavailableReason: () => null,
  launch: (port, opts) => nodeLaunch('socketio.ts', port, opts),
  userId,
  client: async () => ({
    subscribe: (user) => ({ kind: 'socketio', path: '/socket.io/', auth: { user }, query: {}, event: 'n', payloadField: 'payload' }),
    publish: sseClient.publish,
    publishOk: sseClient.publishOk,
  }),
};
