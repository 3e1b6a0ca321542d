import path from 'node:path';
import { defineConfig } from 'prisma/config';

/**
 * Prisma CLI configuration. The CLI runs with its WebAssembly schema engine (`engine: 'js'`)
 * through a driver adapter: PostgreSQL when DATABASE_URL is set, the embedded PGlite data folder
 * otherwise. See ../shared/STACK.md for why (no native engines can be downloaded here).
 */
export default defineConfig({
  experimental: { adapter: true },
  engine: 'js',
  schema: path.join('prisma', 'schema.prisma'),
  async adapter() {
    const url = process.env.DATABASE_URL;
    if (url && /^postgres(ql)?:/.test(url)) {
      const { PrismaPg } = await import('@prisma/adapter-pg');
      return new PrismaPg({ connectionString: url });
    }
    const { PrismaPg } = await import('@prisma/adapter-pg');
    const { PGlite } = await import('@electric-sql/pglite');
    const { PrismaPGlite } = await import('pglite-prisma-adapter');
    const dir = process.env.HERALD_DATA_DIR ?? '.herald-data';
    // pglite-prisma-adapter bundles its own copy of Prisma's adapter types: same shape, other identity.
    return new PrismaPGlite(new PGlite(dir)) as unknown as InstanceType<typeof PrismaPg>;
  },
});
