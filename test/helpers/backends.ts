import pg from 'pg';
import { type Database, openDatabase } from '../../src/db/index.ts';
import { type Bus, createMemoryBus, createRedisBus } from '../../src/delivery/bus.ts';
import { createLogger } from '../../src/logger.ts';

/** Test environment (tests may read process.env; the service never does outside config.ts). */
export const TEST_DATABASE_URL = process.env.DATABASE_URL;
export const TEST_REDIS_URL = process.env.REDIS_URL;

export type Backend = 'embedded' | 'postgres+redis';

/**
 * The backends a suite runs on: always embedded (PGlite + in-process pub/sub); PostgreSQL + Redis
 * when DATABASE_URL and REDIS_URL are set (CI always sets them).
 */
export const BACKENDS: Backend[] = TEST_DATABASE_URL && TEST_REDIS_URL ? ['embedded', 'postgres+redis'] : ['embedded'];

/**
 * The one backend of suites whose subject is not storage (HTTP behaviour): PostgreSQL + Redis, as
 * deployed, when available; embedded otherwise, so that they still run without DATABASE_URL.
 */
export const DEPLOYED_BACKEND: Backend = TEST_DATABASE_URL && TEST_REDIS_URL ? 'postgres+redis' : 'embedded';

/** A fresh PostgreSQL database for one test file, dropped by the returned cleanup. */
export async function createScratchDatabase(prefix = 'herald_t'): Promise<{ url: string; drop: () => Promise<void> }> {
  if (!TEST_DATABASE_URL) throw new Error('DATABASE_URL is not set');
  const name = `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** Opens a migrated database and a bus for a backend; `close` releases both (and drops the database). */
export async function openBackend(
  backend: Backend,
): Promise<{ db: Database; bus: Bus; url?: string; redisPrefix?: string; close: () => Promise<void> }> {
  if (backend === 'embedded') {
    const db = await openDatabase({});
    await db.migrate();
    const bus = createMemoryBus();
    return { db, bus, close: () => db.close() };
  }
  const scratch = await createScratchDatabase();
  const db = await openDatabase({ url: scratch.url, poolSize: 5 });
  await db.migrate();
  // Test files run in parallel on one Redis, each on its own database: each gets its own namespace.
  const redisPrefix = `herald-t${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const bus = createRedisBus(TEST_REDIS_URL!, createLogger('silent'), redisPrefix);
  return {
    db,
    bus,
    url: scratch.url,
    redisPrefix,
    async close() {
      await bus.close();
      await db.close();
      await scratch.drop();
    },
  };
}
