import { defineConfig } from 'vitest/config';

export default defineConfig({
  // One copy of graphql: without this, vite loads its ESM build for our files while libraries
  // load the CommonJS one ("Cannot use GraphQLSchema from another module or realm").
  resolve: { alias: { graphql: 'graphql/index.js' } },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Each file gets its own databases; files in parallel share the 2 cores.
    maxWorkers: 2,
    fileParallelism: true,
  },
});
