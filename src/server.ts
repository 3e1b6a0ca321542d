import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { createApp } from './app.ts';
import { type Config, ConfigError, loadConfig } from './config.ts';
import { EmbeddedDatabaseError } from './db/index.ts';
import { MigrationError } from './db/migrate.ts';
import { createHttpServer, type Transport } from './http/server.ts';
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
  // Read before anything starts: a certificate that cannot be read stops the server at once.
  const transport = await transportOf(config);
  const app = await createApp({ config, log });
  const server = createHttpServer(
    app.handler,
    {
      headersTimeoutMs: config.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: config.HTTP_REQUEST_TIMEOUT_MS,
      maxConnectionsPerIp: config.MAX_CONNECTIONS_PER_IP,
      refusalDelayMs: config.RATE_LIMIT_REFUSAL_DELAY_MS,
      http2MaxConcurrentStreams: config.HTTP2_MAX_CONCURRENT_STREAMS,
      // Heartbeats are an SSE stream's only traffic: an HTTP/2 connection idle for two of them is gone.
      http2IdleTimeoutMs: Math.max(65_000, 2 * config.HEARTBEAT_INTERVAL_MS),
    },
    transport,
  );
  await new Promise<void>((resolve) => server.listen(config.PORT, config.HOST, resolve));
  const { port } = server.address() as AddressInfo;
  const protocols = { http1: 'HTTP/1.1', tls: 'HTTP/2 and HTTP/1.1 over TLS', h2c: 'HTTP/1.1 and cleartext HTTP/2' }[transport.kind];
  log.info({ protocols }, `serving ${protocols}`);
  const mode = `${app.services.db.kind === 'embedded' ? `embedded database in ${config.HERALD_DATA_DIR}` : 'PostgreSQL'}, ${
    app.services.bus.kind === 'redis' ? 'Redis pub/sub' : 'in-process pub/sub'
  }`;
  const scheme = transport.kind === 'tls' ? 'https' : 'http';
  log.info({ port, mode }, `Herald listening on ${scheme}://localhost:${port}/graphql (${mode})`);

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

/** How to listen: TLS with HTTP/2 (TLS_CERT_FILE, TLS_KEY_FILE), h2c beside HTTP/1.1 (HTTP2_CLEARTEXT), or HTTP/1.1. */
async function transportOf(config: Config): Promise<Transport> {
  if (config.TLS_CERT_FILE !== undefined && config.TLS_KEY_FILE !== undefined) {
    const read = (name: string, path: string) =>
      readFile(path).catch((error: unknown) => {
        throw new ConfigError(
          `Invalid configuration:\n  ${name}: cannot read ${path} (${error instanceof Error ? error.message : String(error)})`,
        );
      });
    const [cert, key] = await Promise.all([read('TLS_CERT_FILE', config.TLS_CERT_FILE), read('TLS_KEY_FILE', config.TLS_KEY_FILE)]);
    return { kind: 'tls', cert, key };
  }
  return config.HTTP2_CLEARTEXT ? { kind: 'h2c' } : { kind: 'http1' };
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof EmbeddedDatabaseError || error instanceof MigrationError) {
    console.error(error.message);
  } else {
    console.error(error);
  }
  process.exit(1);
});
