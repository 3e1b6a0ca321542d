import { defineConfig } from 'vitest/config';

export default defineConfig({
  // One copy of graphql: without this, vite loads its ESM build for our files while libraries
  // load the CommonJS one ("Cannot use GraphQLSchema from another module or realm").
  // @herald/client (the examples import it as apps do) from its source: tests run what they test
  // without a build, and never read packages/client/dist while the packaging test rebuilds it.
  resolve: {
    alias: { graphql: 'graphql/index.js', '@herald/client': new URL('./packages/client/src/index.ts', import.meta.url).pathname },
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Each file gets its own databases; files in parallel share the 2 cores.
    maxWorkers: 2,
    fileParallelism: true,
  },
});
