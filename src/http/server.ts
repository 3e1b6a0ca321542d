import { createServer as createHttp1Server } from 'node:http';
import { createServer as createHttp2Server, type Http2Server, type Http2Session, constants as http2Constants } from 'node:http2';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { ErrorCode } from '../errors.ts';
import { isHttp2, type NodeRequest, type NodeResponse } from '../node-http.ts';
import { refuseLater } from './refusal.ts';

/**
 * The node server Herald listens with, and its connection bounds (README, Security,
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
 *   proxy limit clients. A socket beyond the cap gets 429 with `Retry-After` to its first request
 *   and the connection is closed after it (HTTP/1.1: `Connection: close`; HTTP/2: GOAWAY) (a client
 *   understands a status; a bare reset looks like a network fault and is retried at once), and is
 *   closed if it sends none within the header timeout.
 *
 * Transports (`transport`):
 * - `http1`: HTTP/1.1 only (node:http), the default.
 * - `tls`: TLS with HTTP/2 and HTTP/1.1 beside it, chosen by ALPN (browsers take HTTP/2, so one
 *   connection carries every stream and request of an origin instead of 6 per origin).
 * - `h2c`: cleartext, HTTP/1.1 and HTTP/2 with prior knowledge on the same port, told apart by
 *   the connection's first bytes (HTTP/2's preface); for a proxy that speaks HTTP/2 to its upstream.
 *
 * With HTTP/2, each connection goes to one of two inner servers, one per protocol (node:http for
 * HTTP/1.1, node:http2 for HTTP/2, through its compatibility API: the same request listener). An
 * HTTP/2 connection is counted once per address, however many streams it carries (at most
 * `http2MaxConcurrentStreams` at a time). An HTTP/2 request with a body must be received within
 * `requestTimeoutMs` too (408, then the stream is cancelled, not the connection); its headers come
 * in one frame, and a connection with no stream open closes after `idleTimeoutMs` without traffic
 * (a stream's SSE heartbeats are traffic).
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
  /** HTTP2_MAX_CONCURRENT_STREAMS: streams one HTTP/2 connection may have open at once. */
  http2MaxConcurrentStreams?: number;
  /** An HTTP/2 connection without traffic this long is closed (longer than the SSE heartbeat). */
  http2IdleTimeoutMs?: number;
}

export type Transport = { kind: 'http1' } | { kind: 'tls'; cert: Buffer | string; key: Buffer | string } | { kind: 'h2c' };

/** How often Node checks the header and request clocks (its default, 30 s, adds up to 30 s to each). */
const CHECK_INTERVAL_MS = 1_000;
/** What a refused client is told to wait before trying again. */
const RETRY_AFTER_SECONDS = 5;
/** The first bytes of every HTTP/2 connection (RFC 9113, 3.4): what tells h2c from HTTP/1.1. */
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

export interface BoundedServer extends Server {
  /** Open sockets per remote address (for tests and /stats). */
  connectionsByIp(): ReadonlyMap<string, number>;
  /** Closes every connection at once (after `close()`: the end of a graceful stop). */
  closeAllConnections(): void;
}

export function createHttpServer(
  handler: (req: NodeRequest, res: NodeResponse) => void,
  bounds: ConnectionBounds,
  transport: Transport = { kind: 'http1' },
): BoundedServer {
  const perIp = new Map<string, number>();
  /** Sockets beyond the cap, by remote address and port (the same for a TLS socket, its TCP socket and HTTP/2's view of it). */
  const refused = new Set<string>();
  const cap = bounds.maxConnectionsPerIp;

  const listener = (req: NodeRequest, res: NodeResponse) => {
    if (refused.has(socketKey(req.socket))) {
      refuseLater(res, bounds.refusalDelayMs ?? 0, RETRY_AFTER_SECONDS, () => tooManyConnections(req, res, cap));
      return;
    }
    if (isHttp2(req)) timeHttp2Request(req, res, bounds.requestTimeoutMs);
    handler(req, res);
  };

  const http1 = createHttp1Server(
    {
      // Node refuses a header timeout longer than the request's: the headers are part of the request.
      headersTimeout: Math.min(bounds.headersTimeoutMs, bounds.requestTimeoutMs),
      requestTimeout: bounds.requestTimeoutMs,
      connectionsCheckingInterval: CHECK_INTERVAL_MS,
      keepAliveTimeout: bounds.keepAliveTimeoutMs ?? 65_000,
    },
    listener,
  );

  let server: Server;
  let closeHttp2: () => void = () => {};
  if (transport.kind === 'http1') {
    server = http1;
  } else {
    const http2 = createHttp2Server({ settings: { maxConcurrentStreams: bounds.http2MaxConcurrentStreams ?? 1000 } }, listener);
    http2.setTimeout(bounds.http2IdleTimeoutMs ?? bounds.keepAliveTimeoutMs ?? 65_000);
    const sessions = trackSessions(http2);
    closeHttp2 = () => {
      for (const session of sessions) session.destroy();
    };
    // The HTTP/1.1 server never listens itself: 'listening' starts its header and request clocks,
    // and closing it stops them.
    http1.emit('listening');
    if (transport.kind === 'tls') {
      const tls = createTlsServer({
        cert: transport.cert,
        key: transport.key,
        ALPNProtocols: ['h2', 'http/1.1'],
        // A handshake that never completes holds its socket no longer than headers may take.
        handshakeTimeout: bounds.headersTimeoutMs,
      });
      tls.on('secureConnection', (socket: TLSSocket) => (socket.alpnProtocol === 'h2' ? http2 : http1).emit('connection', socket));
      server = tls;
    } else {
      server = createNetServer((socket) => sniff(socket, bounds.headersTimeoutMs, (h2) => (h2 ? http2 : http1).emit('connection', socket)));
    }
  }

  if (server !== http1) server.once('close', () => http1.close());
  const closeHttp1 = http1.closeAllConnections.bind(http1);
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    if (cap <= 0) return;
    const ip = socket.remoteAddress ?? 'unknown';
    const key = socketKey(socket);
    const open = (perIp.get(ip) ?? 0) + 1;
    perIp.set(ip, open);
    socket.once('close', () => {
      refused.delete(key);
      const left = (perIp.get(ip) ?? 1) - 1;
      if (left <= 0) perIp.delete(ip);
      else perIp.set(ip, left);
    });
    if (open > cap) {
      refused.add(key);
      // A refused socket that never sends a request must not hold its place.
      setTimeout(() => socket.destroy(), bounds.headersTimeoutMs).unref();
    }
  });

  return Object.assign(server, {
    connectionsByIp: (): ReadonlyMap<string, number> => perIp,
    closeAllConnections: () => {
      closeHttp1();
      closeHttp2();
      for (const socket of sockets) socket.destroy();
    },
  });
}

function socketKey(socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }): string {
  return `${socket.remoteAddress ?? 'unknown'}|${socket.remotePort ?? 0}`;
}

/**
 * Reads a cleartext connection's first bytes: HTTP/2's preface (h2c with prior knowledge) or
 * anything else (HTTP/1.1). The bytes are put back for the server that takes the connection. A
 * connection that sends nothing decisive within `timeoutMs` is closed.
 */
function sniff(socket: Socket, timeoutMs: number, dispatch: (http2: boolean) => void) {
  let seen = Buffer.alloc(0);
  const timer = setTimeout(() => socket.destroy(), timeoutMs);
  timer.unref();
  const onData = (chunk: Buffer) => {
    seen = Buffer.concat([seen, chunk]);
    const length = Math.min(seen.length, PREFACE.length);
    const h2 = seen.subarray(0, length).equals(PREFACE.subarray(0, length));
    if (h2 && seen.length < PREFACE.length) return; // could still be the preface
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('close', onClose);
    socket.off('error', onError);
    socket.pause();
    socket.unshift(seen);
    dispatch(h2);
    // The bytes read here wait in the socket's buffer. node:http2 takes them from there itself;
    // node:http reads them once the socket flows again.
    if (!h2) socket.resume();
  };
  const onClose = () => clearTimeout(timer);
  // Until a server takes it, a reset connection's error is this function's to handle.
  const onError = () => socket.destroy();
  socket.on('data', onData);
  socket.once('close', onClose);
  socket.on('error', onError);
}

function trackSessions(server: Http2Server): Set<Http2Session> {
  const sessions = new Set<Http2Session>();
  server.on('session', (session: Http2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  return sessions;
}

/**
 * HTTP/2's counterpart of Node's request timeout for HTTP/1.1: a request whose body has not
 * arrived whole within `ms` is answered 408 and its stream cancelled (the connection's other
 * streams go on). A request without a body (every GET, an SSE stream) is complete with its headers.
 */
function timeHttp2Request(req: NodeRequest, res: NodeResponse, ms: number) {
  if (!isHttp2(req) || req.stream.endAfterHeaders) return;
  const stream = req.stream;
  const timer = setTimeout(() => {
    if (stream.destroyed) return;
    if (!res.headersSent) res.writeHead(408, { 'content-type': 'text/plain; charset=utf-8' }).end('Request Timeout');
    stream.close(http2Constants.NGHTTP2_CANCEL);
  }, ms);
  timer.unref();
  const done = () => clearTimeout(timer);
  // The body has all arrived once the stream's readable side has ended (whether or not it was read).
  stream.once('end', done);
  stream.once('close', done);
  res.once('finish', done);
  if (stream.readableEnded) done();
}

function tooManyConnections(req: NodeRequest, res: NodeResponse, cap: number) {
  const body = JSON.stringify({
    errors: [
      {
        message: `At most ${cap} open connections per address (MAX_CONNECTIONS_PER_IP); close one and retry`,
        extensions: { code: ErrorCode.TOO_MANY_CONNECTIONS, limit: cap },
      },
    ],
  });
  const headers = {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'retry-after': String(RETRY_AFTER_SECONDS),
  };
  if (isHttp2(req)) {
    // HTTP/2 has no Connection header: the 429 goes out, then GOAWAY closes the connection.
    res.writeHead(429, headers).end(body);
    req.stream.session?.close();
  } else {
    if ('shouldKeepAlive' in res) res.shouldKeepAlive = false;
    res.writeHead(429, { ...headers, connection: 'close' }).end(body);
  }
  // Whatever body the client still sends is read and dropped, so it reads the 429 rather than a reset.
  req.resume();
}
