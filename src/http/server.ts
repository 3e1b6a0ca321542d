import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { ErrorCode } from '../errors.ts';
import { refuseLater } from './refusal.ts';

/**
 * The node HTTP server Herald listens with, and its connection bounds (README, Security,
 * "Connections").
 *
 * - Headers must arrive within `headersTimeoutMs` and the whole request (headers and body) within
 *   `requestTimeoutMs`; Node answers 408 and closes otherwise. Node's defaults (60 s and 300 s,
 *   checked every 30 s) held a client that trickled its headers 70 s and a body that never ended
 *   314 s. These clocks stop once the request is received, so an SSE response (a stream lives for
 *   hours) is never cut by them: only the request is timed, never the answer.
 * - At most `maxConnectionsPerIp` open sockets per remote address. The address is the socket's own,
 *   never a forwarded header: behind a reverse proxy or load balancer every connection comes from
 *   the proxy, so set the cap to 0 there (or above the proxy's own connection count) and let the
 *   proxy limit clients. A socket beyond the cap gets 429 with `Retry-After` and `Connection: close`
 *   to its first request (a client understands a status; a bare reset looks like a network fault
 *   and is retried at once), and is closed if it sends none within the header timeout.
 */
export interface ConnectionBounds {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  /** Open sockets allowed per remote address; 0: no cap. */
  maxConnectionsPerIp: number;
  /** Idle time of a kept-alive connection between requests. */
  keepAliveTimeoutMs?: number;
  /** RATE_LIMIT_REFUSAL_DELAY_MS: the 429 of a socket beyond the cap is answered after this long. */
  refusalDelayMs?: number;
}

/** How often Node checks the header and request clocks (its default, 30 s, adds up to 30 s to each). */
const CHECK_INTERVAL_MS = 1_000;
/** What a refused client is told to wait before trying again. */
const RETRY_AFTER_SECONDS = 5;

export interface BoundedServer extends Server {
  /** Open sockets per remote address (for tests and /stats). */
  connectionsByIp(): ReadonlyMap<string, number>;
}

export function createHttpServer(handler: (req: IncomingMessage, res: ServerResponse) => void, bounds: ConnectionBounds): BoundedServer {
  const perIp = new Map<string, number>();
  const refused = new WeakSet<Socket>();
  const cap = bounds.maxConnectionsPerIp;

  const server = createServer(
    {
      // Node refuses a header timeout longer than the request's: the headers are part of the request.
      headersTimeout: Math.min(bounds.headersTimeoutMs, bounds.requestTimeoutMs),
      requestTimeout: bounds.requestTimeoutMs,
      connectionsCheckingInterval: CHECK_INTERVAL_MS,
      keepAliveTimeout: bounds.keepAliveTimeoutMs ?? 65_000,
    },
    (req, res) => {
      if (refused.has(req.socket)) {
        refuseLater(res, bounds.refusalDelayMs ?? 0, RETRY_AFTER_SECONDS, () => tooManyConnections(res, cap));
        return;
      }
      handler(req, res);
    },
  );

  if (cap > 0) {
    server.on('connection', (socket: Socket) => {
      const ip = socket.remoteAddress ?? 'unknown';
      const open = (perIp.get(ip) ?? 0) + 1;
      perIp.set(ip, open);
      socket.once('close', () => {
        const left = (perIp.get(ip) ?? 1) - 1;
        if (left <= 0) perIp.delete(ip);
        else perIp.set(ip, left);
      });
      if (open > cap) {
        refused.add(socket);
        // A refused socket that never sends a request must not hold its place.
        setTimeout(() => socket.destroy(), bounds.headersTimeoutMs).unref();
      }
    });
  }

  return Object.assign(server, { connectionsByIp: (): ReadonlyMap<string, number> => perIp });
}

function tooManyConnections(res: ServerResponse, cap: number) {
  const body = JSON.stringify({
    errors: [
      {
        message: `At most ${cap} open connections per address (MAX_CONNECTIONS_PER_IP); close one and retry`,
        extensions: { code: ErrorCode.TOO_MANY_CONNECTIONS, limit: cap },
      },
    ],
  });
  res.shouldKeepAlive = false;
  res.writeHead(429, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'retry-after': String(RETRY_AFTER_SECONDS),
    connection: 'close',
  });
  res.end(body);
  // Whatever body the client still sends is read and dropped, so it reads the 429 rather than a reset.
  res.req.resume();
}
