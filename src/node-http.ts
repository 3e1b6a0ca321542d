import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Http2ServerRequest, Http2ServerResponse } from 'node:http2';

/**
 * Node's request and response as Herald serves them: HTTP/1.1 (`node:http`) or HTTP/2 through
 * `node:http2`'s compatibility API, which mirrors most of HTTP/1's. Where they differ, the helpers
 * below say so: an HTTP/2 request has no `Host` header (its `:authority` pseudo-header instead),
 * its headers include pseudo-headers (`:path`, `:method`...), and its response has no `destroyed`.
 */
export type NodeRequest = IncomingMessage | Http2ServerRequest;
export type NodeResponse = ServerResponse | Http2ServerResponse;

/** The request's authority: `Host` on HTTP/1.1, `:authority` on HTTP/2 (which may also send `Host`). */
export function authorityOf(req: NodeRequest): string | undefined {
  const host = req.headers.host ?? req.headers[':authority'];
  return typeof host === 'string' ? host : undefined;
}

/** Whether the request came over HTTP/2 (one stream of a multiplexed connection). */
export function isHttp2(req: NodeRequest): req is Http2ServerRequest {
  return req.httpVersionMajor === 2;
}

/** Whether the response can no longer be written (the client went, or it was destroyed). */
export function isGone(res: NodeResponse): boolean {
  return res instanceof Http2ServerResponse ? res.stream.destroyed || res.stream.closed : res.destroyed;
}

/** Writes a chunk of the body (the two `write`s' overloads do not unify in TypeScript). */
export function writeChunk(res: NodeResponse, chunk: string | Buffer): boolean {
  return res instanceof Http2ServerResponse ? res.write(chunk) : res.write(chunk);
}
