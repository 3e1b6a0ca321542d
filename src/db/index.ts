import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import type { PGlite } from '@electric-sql/pglite';
import type pg from 'pg';
import type { Config } from '../config.ts';
import { PrismaClient } from '../generated/prisma/client.ts';
import { applyMigrations, type MigrationStatus, markRolledBack, migrationStatus, type ScriptRunner } from './migrate.ts';
import { poolSql, prismaSql, type Sql } from './sql.ts';

export type { PrismaClient } from '../generated/prisma/client.ts';
export type { Sql } from './sql.ts';

/** An open database: the Prisma client plus what the service needs around it. */
export interface Database {
  prisma: PrismaClient;
  /** Raw SQL for the hot paths (see sql.ts). */
  sql: Sql;
  /** `postgres` for DATABASE_URL, `embedded` for PGlite. */
  kind: 'postgres' | 'embedded';
  /** Migrate to the latest schema (Prisma-compatible bookkeeping); see migrate.ts. */
  migrate(): Promise<string[]>;
  /** Where the schema stands against the migration files (read-only). */
  migrationStatus(): Promise<MigrationStatus>;
  /** Marks a failed migration rolled back, so the next migration run applies it again. */
  markRolledBack(name: string): Promise<void>;
  /** Resolves when the database answers a trivial query. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** A PostgreSQL URL; absent means embedded. */
  url?: string | undefined;
  /** Embedded data folder; `memory://` (or absent with `url` absent) for an in-memory database. */
  dataDir?: string | undefined;
  poolSize?: number;
  /** PostgreSQL: a query with no answer after this long fails and its connection is closed (0 or absent: no limit). */
  queryTimeoutMs?: number;
}

/** Thrown when the embedded data folder cannot be opened (e.g. an interrupted first start). */
export class EmbeddedDatabaseError extends Error {
  override name = 'EmbeddedDatabaseError';
}

/** Opens PostgreSQL (through `pg` and Prisma's driver adapter) or the embedded PGlite. */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.url) return openPostgres(options.url, options.poolSize ?? 10, options.queryTimeoutMs ?? 0);
  return openEmbedded(options.dataDir ?? 'memory://');
}

/** Opens the database the configuration selects. */
export function openConfiguredDatabase(config: Config): Promise<Database> {
  return openDatabase({
    url: config.DATABASE_URL,
    dataDir: config.HERALD_DATA_DIR,
    poolSize: config.DATABASE_POOL_SIZE,
    queryTimeoutMs: config.DATABASE_QUERY_TIMEOUT_MS,
  });
}

/**
 * `pg`'s client, whose queries cannot hang: without a bound, a query on a connection that stopped
 * answering (a network partition: no RST, no FIN) waits until TCP gives up, about 15 minutes on
 * Linux, and the request behind it with it. With the pool's `query_timeout` the query fails ("Query
 * read timeout", reported as SERVICE_UNAVAILABLE); this client then also closes the connection, so
 * the pool never hands it out again, not even to the rest of an open transaction whose late answers
 * could still arrive.
 */
function boundedClient(pgModule: typeof pg): typeof pg.Client {
  return class BoundedClient extends pgModule.Client {
    override query(...args: unknown[]): never {
      const onError = (error: unknown) => {
        if ((error as Error | undefined)?.message === 'Query read timeout') this.end().catch(() => {});
      };
      const last = args.at(-1);
      if (typeof last === 'function') {
        args[args.length - 1] = (error: unknown, ...rest: unknown[]) => {
          if (error) onError(error);
          return (last as (...a: unknown[]) => unknown)(error, ...rest);
        };
      }
      const result = (super.query as (...a: unknown[]) => unknown).apply(this, args);
      if (result instanceof Promise) result.catch(onError);
      return result as never;
    }
  };
}

async function openPostgres(url: string, max: number, queryTimeoutMs: number): Promise<Database> {
  const { default: pgModule } = await import('pg');
  const { PrismaPg } = await import('@prisma/adapter-pg');
  // Keep BIGINT (int8) as strings in pg; Prisma's adapter decodes them itself.
  const pool: pg.Pool = new pgModule.Pool({
    connectionString: url,
    max,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    ...(queryTimeoutMs > 0 ? { query_timeout: queryTimeoutMs, Client: boundedClient(pgModule) } : {}),
  });
  // An idle client losing its connection (PostgreSQL restarted) must not crash the process.
  pool.on('error', () => {});
  // Nor a checked-out one (a transaction or a ping when the connection breaks): pg emits 'error' on
  // the client besides failing its queries, and pg-pool listens only while the client is idle. The
  // queries still fail, and the client, no longer queryable, is dropped when released.
  pool.on('connect', (client) => client.on('error', () => {}));
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  const runner: ScriptRunner = {
    async exec(script) {
      await pool.query(script);
    },
    async query(sql, params) {
      const client = await pool.connect();
      try {
        return (await client.query(sql, params)).rows;
      } finally {
        client.release();
      }
    },
  };
  // Advisory locks are per session: run the migrator on one dedicated connection.
  const dedicated = async <T>(run: (db: ScriptRunner) => Promise<T>): Promise<T> => {
    const client = await pool.connect();
    try {
      return await run({
        exec: async (s) => {
          await client.query(s);
        },
        query: async (s, p) => (await client.query(s, p)).rows,
      });
    } finally {
      client.release();
    }
  };
  return {
    prisma,
    sql: poolSql(pool),
    kind: 'postgres',
    migrate: () => dedicated((db) => applyMigrations(db)),
    migrationStatus: () => migrationStatus(runner),
    markRolledBack: (name) => dedicated((db) => markRolledBack(db, name)),
    async ping() {
      await runner.query('SELECT 1');
    },
    async close() {
      await prisma.$disconnect();
      await pool.end();
    },
  };
}

async function openEmbedded(dataDir: string): Promise<Database> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { PrismaPGlite } = await import('pglite-prisma-adapter');
  const inMemory = dataDir === 'memory://';
  let pglite: PGlite;
  if (inMemory) {
    pglite = new PGlite();
  } else {
    const fresh = !existsSync(dataDir);
    await mkdir(dataDir, { recursive: true });
    try {
      pglite = new PGlite(dataDir);
      await pglite.waitReady;
    } catch (error) {
      throw new EmbeddedDatabaseError(
        `Cannot open the embedded database in "${dataDir}"${fresh ? '' : ' (it may be left from an interrupted first start, or be in use by another Herald process)'}: ${
          (error as Error).message
        }. If it holds nothing you need, delete the folder and start again; otherwise set HERALD_DATA_DIR to another folder.`,
      );
    }
  }
  await pglite.waitReady;
  const prisma = new PrismaClient({
    adapter: new PrismaPGlite(pglite),
  });
  const runner: ScriptRunner = {
    async exec(script) {
      await pglite.exec(script);
    },
    async query<T>(sql: string, params?: unknown[]) {
      return (await pglite.query<T>(sql, params)).rows;
    },
  };
  return {
    prisma,
    sql: prismaSql(prisma),
    kind: 'embedded',
    migrate: () => applyMigrations(runner),
    migrationStatus: () => migrationStatus(runner),
    markRolledBack: (name) => markRolledBack(runner, name),
    async ping() {
      await runner.query('SELECT 1');
    },
    async close() {
      await prisma.$disconnect();
      await pglite.close();
    },
  };
}
