// Runs the Prisma CLI offline. Prisma 6.19 looks for native engines before every command even
// with `engine: "js"`; pointing these variables at any existing file stops it from trying to
// download them (they are never executed). See ../shared/STACK.md.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const placeholder = fileURLToPath(import.meta.url);
const env = {
  ...process.env,
  PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? placeholder,
  PRISMA_QUERY_ENGINE_LIBRARY: process.env.PRISMA_QUERY_ENGINE_LIBRARY ?? placeholder,
  PRISMA_HIDE_UPDATE_MESSAGE: '1',
  CHECKPOINT_DISABLE: '1',
  // schema.prisma's datasource needs a URL to validate; the adapter ignores it.
  DATABASE_URL: process.env.DATABASE_URL ?? 'postgresql://unused@localhost/unused',
};
const cli = createRequire(import.meta.url).resolve('prisma/build/index.js');
const result = spawnSync(process.execPath, [cli, ...process.argv.slice(2)], { stdio: 'inherit', env });
process.exit(result.status ?? 1);
