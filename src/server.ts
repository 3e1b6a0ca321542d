import type { AddressInfo } from 'node:net';
import { createApp } from './app.ts';
import { ConfigError, loadConfig } from './config.ts';
import { EmbeddedDatabaseError } from './db/index.ts';
import { MigrationError } from './db/migrate.ts';
import { createHttpServer } from './http/server.ts';
import { createLogger } from './logger.ts';

// Run with `node --no-allocation-site-pretenuring` (npm start and dev do; so should anyone
// embedding createApp in a process of their own). V8 moves objects from allocation sites whose
// objects often survive a young-generation GC straight to the old generation ("pretenuring").
// Under load every request's objects live a few milliseconds too long for that heuristic, so they
// were all pretenured: the old generation grew by megabytes per second of garbage and full GCs
// paused delivery. Measured with --trace-gc at 1,000 emits/s: 2 MB promoted per young GC before,
// 0.7 MB after, and young GC pauses of 10-24 ms down to 5-11 ms. A command-line flag, not
// v8.setFlagsFromString: V8 reads it before any code is compiled.

/** Starts one Herald instance: listens, and stops gracefully on SIGTERM/SIGINT. */
async function main() {
  const config = loadConfig();
  const log = createLogger(config.LOG_LEVEL);
  const app = await createApp({ config, log });
  const server = createHttpServer(app.handler, {
    headersTimeoutMs: config.HTTP_HEADERS_TIMEOUT_MS,
    requestTimeoutMs: config.HTTP_REQUEST_TIMEOUT_MS,
    maxConnectionsPerIp: config.MAX_CONNECTIONS_PER_IP,
    refusalDelayMs: config.RATE_LIMIT_REFUSAL_DELAY_MS,
  });
  await new Promise<void>((resolve) => server.listen(config.PORT, config.HOST, resolve));
  const { port } = server.address() as AddressInfo;
  const mode = `${app.services.db.kind === 'embedded' ? `embedded database in ${config.HERALD_DATA_DIR}` : 'PostgreSQL'}, ${
    app.services.bus.kind === 'redis' ? 'Redis pub/sub' : 'in-process pub/sub'
  }`;
  log.info({ port, mode }, `Herald listening on http://localhost:${port}/graphql (${mode})`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      log.warn('shutdown timed out; exiting');
      process.exit(1);
    }, config.SHUTDOWN_TIMEOUT_MS);
    force.unref();
    server.close();
    await app.close();
    server.closeAllConnections();
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof EmbeddedDatabaseError || error instanceof MigrationError) {
    console.error(error.message);
  } else {
    console.error(error);
  }
  process.exit(1);
});
