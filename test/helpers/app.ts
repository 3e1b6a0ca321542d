import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { type App, createApp } from '../../src/app.ts';
import { EMIT_SCOPE, signToken } from '../../src/auth/tokens.ts';
import { type Config, loadConfig } from '../../src/config.ts';
import { openDatabase } from '../../src/db/index.ts';
import { createRedisBus } from '../../src/delivery/bus.ts';
import { createLogger, type Logger } from '../../src/logger.ts';
import { type Backend, openBackend } from './backends.ts';
import { SseReader } from './sse.ts';

export const TEST_SECRET = 'test-secret-that-is-long-enough-0123456789';

export interface GraphQLResponse<T> {
  data?: T | null;
  errors?: { message: string; path?: string[]; extensions?: { code?: string; [k: string]: unknown } }[];
}

/** A Herald instance for one test file, on the given backend, with typed helpers. */
export interface TestApp {
  app: App;
  backend: Backend;
  config: Config;
  /** A user token (`sub`), optionally with scopes. */
  token(sub: string, options?: { scope?: string; expiresInSeconds?: number }): Promise<string>;
  /** A producer token (scope notifications:emit). */
  producerToken(): Promise<string>;
  /** Executes a typed document as `token`'s user, over real HTTP (POST /graphql on `listen()`'s port). */
  execute<R, V>(document: TypedDocumentNode<R, V>, variables: V, token?: string | null): Promise<GraphQLResponse<R>>;
  /** Opens an SSE subscription (distinct-connection mode) over real HTTP on a local port. */
  subscribe<V>(
    document: TypedDocumentNode<unknown, V> | string,
    variables: V,
    options: { token?: string | undefined; lastEventId?: string; ticket?: string; method?: 'GET' | 'POST' },
  ): Promise<SseReader>;
  /** Listens on a real port (for tests where the network matters); returns the base URL. */
  listen(): Promise<string>;
  close(): Promise<void>;
}

export interface TestAppOptions {
  /** Envelop/Yoga plugins for createApp. */
  plugins?: Plugin[];
  /**
   * Another instance of the same deployment (PostgreSQL + Redis only): the same database and Redis
   * namespace as this app, which owns them (it drops the database when it closes).
   */
  beside?: TestApp;
  /** The app's logger (default: silent). */
  log?: Logger;
}

/** A second connection to another app's database and Redis namespace; closing it drops nothing. */
async function besideBackend(other: TestApp) {
  const url = other.config.DATABASE_URL;
  const redis = other.config.REDIS_URL;
  if (other.backend !== 'postgres+redis' || !url || !redis) throw new Error('a second instance needs PostgreSQL + Redis');
  const db = await openDatabase({ url, poolSize: 5 });
  const bus = createRedisBus(redis, createLogger('silent'), other.config.REDIS_PREFIX);
  return {
    db,
    bus,
    url,
    redisPrefix: other.config.REDIS_PREFIX,
    async close() {
      await bus.close();
      await db.close();
    },
  };
}

export async function startTestApp(
  backend: Backend,
  overrides: Record<string, string> = {},
  options: TestAppOptions = {},
): Promise<TestApp> {
  const resources = options.beside ? await besideBackend(options.beside) : await openBackend(backend);
  const config = loadConfig({
    NODE_ENV: 'test',
    JWT_SECRET: TEST_SECRET,
    LOG_LEVEL: 'silent',
    CATCHUP_INTERVAL_MS: '60000',
    ...(resources.url ? { DATABASE_URL: resources.url, REDIS_URL: process.env.REDIS_URL, REDIS_PREFIX: resources.redisPrefix } : {}),
    ...overrides,
  });
  const app = await createApp({
    config,
    db: resources.db,
    bus: resources.bus,
    log: options.log ?? createLogger('silent'),
    ...(options.plugins ? { plugins: options.plugins } : {}),
  });
  const readers: SseReader[] = [];
  let server: Server | undefined;
  let listening: Promise<string> | undefined;
  const t: TestApp = {
    app,
    backend,
    config,
    token: (sub, o = {}) => signToken(TEST_SECRET, { sub, scope: o.scope, expiresInSeconds: o.expiresInSeconds }),
    producerToken: () => signToken(TEST_SECRET, { sub: 'producer', scope: EMIT_SCOPE }),
    async execute(document, variables, token) {
      const response = await fetch(`${await t.listen()}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify({ query: print(document), variables }),
      });
      return response.json();
    },
    async subscribe(document, variables, options) {
      const query = typeof document === 'string' ? document : print(document);
      const headers: Record<string, string> = { accept: 'text/event-stream' };
      if (options.token) headers.authorization = `Bearer ${options.token}`;
      if (options.lastEventId) headers['last-event-id'] = options.lastEventId;
      const origin = await t.listen();
      let response: Response;
      if (options.method === 'POST') {
        response = await fetch(`${origin}/graphql`, {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/json' },
          body: JSON.stringify({ query, variables }),
        });
      } else {
        const url = new URL(`${origin}/graphql`);
        url.searchParams.set('query', query);
        url.searchParams.set('variables', JSON.stringify(variables ?? {}));
        if (options.ticket) url.searchParams.set('ticket', options.ticket);
        response = await fetch(url, { headers });
      }
      const reader = new SseReader(response);
      readers.push(reader);
      return reader;
    },
    listen() {
      listening ??= (async () => {
        server = createServer(app.handler);
        await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
        return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      })();
      return listening;
    },
    async close() {
      await Promise.all(readers.map((r) => r.close()));
      await app.close();
      server?.closeAllConnections();
      await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
      await resources.close();
    },
  };
  return t;
}
