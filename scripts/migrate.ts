// npm run db:migrate: applies pending migrations to DATABASE_URL (or the embedded database in
// HERALD_DATA_DIR) with Herald's migrator, the one AUTO_MIGRATE and the tests run (src/db/migrate.ts).
//   npm run db:migrate                          apply pending migrations
//   npm run db:migrate -- --status              print where the database stands, exit 1 unless up to date
//   npm run db:migrate -- --rolled-back <name>  mark a failed migration rolled back (then migrate again)
import { ConfigError, loadDatabaseConfig } from '../src/config.ts';
import { openDatabase } from '../src/db/index.ts';
import { MigrationError, migrationProblem } from '../src/db/migrate.ts';

async function main(args: string[]): Promise<number> {
  const config = loadDatabaseConfig();
  // No query timeout: a migration may rewrite a large table.
  const db = await openDatabase({ url: config.DATABASE_URL, dataDir: config.HERALD_DATA_DIR, poolSize: 1 });
  try {
    if (args[0] === '--status') {
      const status = await db.migrationStatus();
      console.log(JSON.stringify(status, null, 2));
      const problem = migrationProblem(status);
      if (problem) console.error(problem);
      return problem ? 1 : 0;
    }
    if (args[0] === '--rolled-back') {
      const name = args[1];
      if (!name) throw new MigrationError('--rolled-back needs the migration name');
      await db.markRolledBack(name);
      console.log(`Migration ${name} marked rolled back; run npm run db:migrate to apply it again.`);
      return 0;
    }
    if (args.length) throw new MigrationError(`Unknown arguments: ${args.join(' ')} (try --status or --rolled-back <name>)`);
    const applied = await db.migrate();
    console.log(applied.length ? `Applied ${applied.length} migration(s): ${applied.join(', ')}` : 'The database is up to date.');
    return 0;
  } finally {
    await db.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof MigrationError || error instanceof ConfigError ? error.message : error);
    process.exit(1);
  },
);
