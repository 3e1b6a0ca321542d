import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** What the migrator needs from a database: run a script, and run one parameterised query. */
export interface ScriptRunner {
  exec(script: string): Promise<void>;
  query<T>(sql: string, params?: unknown[]): Promise<T[]>;
}

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../prisma/migrations', import.meta.url));

/** Prisma's own advisory-lock key, so `prisma migrate deploy` and this never run at once. */
const PRISMA_MIGRATE_LOCK = 72707369;

/**
 * Applies pending migrations from `prisma/migrations`, recording them in Prisma's
 * `_prisma_migrations` table exactly as `prisma migrate deploy` does (same checksum, same
 * columns), so `prisma migrate status` agrees with it.
 *
 * Written by hand because the embedded database (PGlite) is owned by the server process: the
 * Prisma CLI cannot open it while the server runs, and tests need migrations in-process on
 * in-memory databases in milliseconds. Production deployments may use `npm run db:migrate`
 * (the Prisma CLI) instead; both read the same files and table.
 *
 * @returns the names of the migrations applied by this call.
 */
export async function applyMigrations(db: ScriptRunner, dir = MIGRATIONS_DIR): Promise<string[]> {
  const names = (await readdir(dir, { withFileTypes: true }))
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  await db.query('SELECT pg_advisory_lock($1)', [PRISMA_MIGRATE_LOCK]);
  try {
    await db.exec(`CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
      "id" VARCHAR(36) PRIMARY KEY NOT NULL,
      "checksum" VARCHAR(64) NOT NULL,
      "finished_at" TIMESTAMPTZ,
      "migration_name" VARCHAR(255) NOT NULL,
      "logs" TEXT,
      "rolled_back_at" TIMESTAMPTZ,
      "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
      "applied_steps_count" INTEGER NOT NULL DEFAULT 0)`);
    const done = await db.query<{ migration_name: string; finished_at: Date | null }>(
      'SELECT migration_name, finished_at FROM "_prisma_migrations" WHERE rolled_back_at IS NULL',
    );
    const failed = done.find((m) => m.finished_at === null);
    if (failed) {
      throw new Error(
        `Migration ${failed.migration_name} failed earlier and was left unfinished; resolve it (prisma migrate resolve) before starting.`,
      );
    }
    const applied = new Set(done.map((m) => m.migration_name));
    const ran: string[] = [];
    for (const name of names) {
      if (applied.has(name)) continue;
      const script = await readFile(path.join(dir, name, 'migration.sql'), 'utf8');
      const checksum = createHash('sha256').update(script).digest('hex');
      const id = randomUUID();
      await db.query('INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at) VALUES ($1, $2, $3, now())', [
        id,
        checksum,
        name,
      ]);
      await db.exec(`BEGIN;\n${script}\nCOMMIT;`);
      await db.query('UPDATE "_prisma_migrations" SET finished_at = now(), applied_steps_count = 1 WHERE id = $1', [id]);
      ran.push(name);
    }
    return ran;
  } finally {
    await db.query('SELECT pg_advisory_unlock($1)', [PRISMA_MIGRATE_LOCK]);
  }
}
