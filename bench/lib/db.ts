import pg from 'pg';

export const ADMIN_DATABASE_URL = process.env.BENCH_ADMIN_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';
export const BENCH_DB = 'herald_bench';
export const BENCH_DATABASE_URL = process.env.BENCH_DATABASE_URL ?? `postgresql://postgres@127.0.0.1:5432/${BENCH_DB}`;

/** Drops and recreates the scratch database herald_bench (never any other database). */
export async function recreateBenchDatabase(): Promise<void> {
  const c = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await c.connect();
  try {
    await c.query(`DROP DATABASE IF EXISTS ${BENCH_DB} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${BENCH_DB}`);
  } finally {
    await c.end();
  }
}
