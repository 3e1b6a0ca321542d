/**
 * `herald/client` for this repository's own tests: the client package's source (packages/client),
 * so tests exercise it without a build. Apps install `@herald/client` instead.
 */
export * from '../../packages/client/src/index.ts';
