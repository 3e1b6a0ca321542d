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
 * Earlier texts of migrations whose edit changed no statement (only comments), by migration name.
 * A database that applied an earlier text is up to date: its recorded checksum is replaced by the
 * current one on the next migration run, and it never counts as modified.
 */
export const SUPERSEDED_CHECKSUMS: Readonly<Record<string, readonly string[]>> = {
  // Two comments held a ";", on which the Prisma CLI's pg adapter splits scripts (a syntax error).
  '20261121200000_bulk_write_path': ['b782e5d13a4f77f5e33856397fc26e6492b46aae7073dc05c69805adcf43c44a'],
};

/** A migration that started and never finished (Prisma's "failed" state). */
export interface FailedMigration {
  name: string;
  logs: string | null;
}

/** Where a database stands against the migration files. */
export interface MigrationStatus {
  /** Applied and finished, in file order. */
  applied: string[];
  /** On disk, not applied yet. */
  pending: string[];
  /** Started and never finished (nor rolled back). */
  failed: FailedMigration[];
  /** Applied, but the file's text changed since (not a known harmless edit). */
  modified: string[];
  /** Applied with an earlier text listed in SUPERSEDED_CHECKSUMS. */
  superseded: string[];
}

/** A database that cannot be migrated, or is not migrated: the message says what to do. */
export class MigrationError extends Error {
  override name = 'MigrationError';
}

interface MigrationFile {
  name: string;
  script: string;
  /** Prisma's checksum: SHA-256 of the file's bytes, hex. */
  checksum: string;
}

interface MigrationRow {
  id: string;
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  logs: string | null;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

async function readMigrations(dir: string): Promise<MigrationFile[]> {
  const names = (await readdir(dir, { withFileTypes: true }))
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  return Promise.all(
    names.map(async (name) => {
      const script = await readFile(path.join(dir, name, 'migration.sql'), 'utf8');
      return { name, script, checksum: sha256(script) };
    }),
  );
}

/** The same text with other line endings (a checkout on another system) is the same migration. */
function sameText(file: MigrationFile, recorded: string): boolean {
  if (recorded === file.checksum) return true;
  const lf = file.script.replace(/\r\n/g, '\n');
  return recorded === sha256(lf) || recorded === sha256(lf.replace(/\n/g, '\r\n'));
}

/** Compares migration files with `_prisma_migrations` rows (pure: no database). */
export function compareMigrations(files: readonly MigrationFile[], rows: readonly MigrationRow[]): MigrationStatus {
  const status: MigrationStatus = { applied: [], pending: [], failed: [], modified: [], superseded: [] };
  for (const row of rows) if (row.finished_at === null) status.failed.push({ name: row.migration_name, logs: row.logs });
  for (const file of files) {
    const done = rows.find((r) => r.migration_name === file.name && r.finished_at !== null);
    if (!done) {
      if (!status.failed.some((f) => f.name === file.name)) status.pending.push(file.name);
      continue;
    }
    status.applied.push(file.name);
    if (sameText(file, done.checksum)) continue;
    if (SUPERSEDED_CHECKSUMS[file.name]?.includes(done.checksum)) status.superseded.push(file.name);
    else status.modified.push(file.name);
  }
  return status;
}

/** Why a database with this status must not be served or migrated further; null when it may. */
export function migrationProblem(status: MigrationStatus, options: { pendingAllowed?: boolean } = {}): string | null {
  const [failed] = status.failed;
  if (failed) {
    return [
      `Migration ${failed.name} failed and is marked failed in _prisma_migrations${failed.logs ? `: ${failed.logs}` : ' (the run was interrupted)'}.`,
      "Herald's migrator runs each migration in one transaction, so nothing of it was applied (another tool may have left part of it: check the schema).",
      `Fix the cause, then run \`npm run db:migrate -- --rolled-back ${failed.name}\` and \`npm run db:migrate\` again.`,
    ].join(' ');
  }
  if (status.modified.length) {
    return `Migration ${status.modified.join(', ')} was modified after it was applied to this database: restore the original text of prisma/migrations/${status.modified[0]}/migration.sql and add a new migration for the change.`;
  }
  if (status.pending.length && !options.pendingAllowed) {
    return `The database schema is not up to date: ${status.pending.length} migration(s) pending (${status.pending.join(', ')}). Run \`npm run db:migrate\` with the same DATABASE_URL, or start with AUTO_MIGRATE=true.`;
  }
  return null;
}

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
  "id" VARCHAR(36) PRIMARY KEY NOT NULL,
  "checksum" VARCHAR(64) NOT NULL,
  "finished_at" TIMESTAMPTZ,
  "migration_name" VARCHAR(255) NOT NULL,
  "logs" TEXT,
  "rolled_back_at" TIMESTAMPTZ,
  "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
  "applied_steps_count" INTEGER NOT NULL DEFAULT 0)`;

async function readRows(db: ScriptRunner): Promise<MigrationRow[]> {
  const [table] = await db.query<{ present: boolean }>(`SELECT to_regclass('"_prisma_migrations"') IS NOT NULL AS present`);
  if (!table?.present) return [];
  return db.query<MigrationRow>(
    'SELECT id, migration_name, checksum, finished_at, logs FROM "_prisma_migrations" WHERE rolled_back_at IS NULL ORDER BY started_at',
  );
}

/** Where the database stands (read-only: creates nothing). */
export async function migrationStatus(db: ScriptRunner, dir = MIGRATIONS_DIR): Promise<MigrationStatus> {
  return compareMigrations(await readMigrations(dir), await readRows(db));
}

async function locked<T>(db: ScriptRunner, run: () => Promise<T>): Promise<T> {
  await db.query('SELECT pg_advisory_lock($1)', [PRISMA_MIGRATE_LOCK]);
  try {
    return await run();
  } finally {
    await db.query('SELECT pg_advisory_unlock($1)', [PRISMA_MIGRATE_LOCK]);
  }
}

/**
 * Applies pending migrations from `prisma/migrations`, recording them in Prisma's
 * `_prisma_migrations` table as `prisma migrate deploy` does (same checksum, same columns, a
 * failed run left unfinished with its error in `logs`), so `prisma migrate status` agrees.
 * Each migration runs in one transaction: a failure leaves nothing of it behind.
 *
 * Herald's one migrator: `npm run db:migrate` (scripts/migrate.ts), AUTO_MIGRATE, the embedded
 * database and the tests all run it. Written by hand because the embedded database (PGlite) is
 * owned by the server process, tests need migrations in-process in milliseconds, and the Prisma
 * CLI's pg adapter splits scripts on every ";" and runs them outside a transaction. The files stay
 * valid for `prisma migrate deploy` too (test/db/migrate.test.ts checks both give one schema).
 *
 * @returns the names of the migrations applied by this call.
 * @throws MigrationError for a failed or modified migration, or one that fails now.
 */
export async function applyMigrations(db: ScriptRunner, dir = MIGRATIONS_DIR): Promise<string[]> {
  const files = await readMigrations(dir);
  return locked(db, async () => {
    await db.exec(CREATE_TABLE);
    const rows = await readRows(db);
    const status = compareMigrations(files, rows);
    const problem = migrationProblem(status, { pendingAllowed: true });
    if (problem) throw new MigrationError(problem);
    for (const name of status.superseded) {
      const file = files.find((f) => f.name === name);
      if (file) await db.query('UPDATE "_prisma_migrations" SET checksum = $1 WHERE migration_name = $2', [file.checksum, name]);
    }
    const ran: string[] = [];
    for (const file of files) {
      if (!status.pending.includes(file.name)) continue;
      const id = randomUUID();
      await db.query('INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at) VALUES ($1, $2, $3, now())', [
        id,
        file.checksum,
        file.name,
      ]);
      try {
        await db.exec(`BEGIN;\n${file.script}\nCOMMIT;`);
      } catch (error) {
        await db.exec('ROLLBACK').catch(() => {});
        const logs = error instanceof Error ? error.message : String(error);
        await db.query('UPDATE "_prisma_migrations" SET logs = $1 WHERE id = $2', [logs, id]);
        throw new MigrationError(
          migrationProblem(
            compareMigrations(files, [{ id, migration_name: file.name, checksum: file.checksum, finished_at: null, logs }]),
          ) ?? logs,
        );
      }
      await db.query('UPDATE "_prisma_migrations" SET finished_at = now(), applied_steps_count = 1 WHERE id = $1', [id]);
      ran.push(file.name);
    }
    return ran;
  });
}

/**
 * Marks a failed migration rolled back (it is applied again by the next run), as
 * `prisma migrate resolve --rolled-back` does (that command needs Prisma's native engine).
 */
export async function markRolledBack(db: ScriptRunner, name: string): Promise<void> {
  await locked(db, async () => {
    const rows = await readRows(db);
    if (!rows.some((r) => r.migration_name === name && r.finished_at === null)) {
      throw new MigrationError(`Migration ${name} is not marked failed: nothing to roll back.`);
    }
    await db.query(
      'UPDATE "_prisma_migrations" SET rolled_back_at = now() WHERE migration_name = $1 AND finished_at IS NULL AND rolled_back_at IS NULL',
      [name],
    );
  });
}
