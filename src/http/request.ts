import type { NodeRequest } from '../node-http.ts';

/** The GraphQL-over-HTTP parameters of a request. */
export interface Params {
  query: string;
  operationName: string | undefined;
  variables: Record<string, unknown> | undefined;
  extensions: Record<string, unknown> | undefined;
}

/** What reading a body gave: the bytes, or that it passed the limit (the rest was not read). */
export type Body = { ok: true; bytes: Buffer } | { ok: false; reason: 'too-large' | 'aborted' };

/**
 * Reads a request body whole, up to `limit` bytes. Past it, reading stops at once (the caller
 * answers 413 and closes the connection): a client sending an endless or huge body costs at most
 * `limit` bytes of memory.
 */
export function readBody(req: NodeRequest, limit: number): Promise<Body> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.pause();
        resolve({ ok: false, reason: 'too-large' });
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => resolve({ ok: true, bytes: chunks.length === 1 && chunks[0] ? chunks[0] : Buffer.concat(chunks) }));
    req.on('error', () => resolve({ ok: false, reason: 'aborted' }));
    req.on('close', () => {
      if (!req.complete) resolve({ ok: false, reason: 'aborted' });
    });
  });
}

/** Hands a request whose body was already read to Yoga, which reads it from `req.body`. */
export function withBody(req: NodeRequest, body: Buffer): NodeRequest {
  Object.assign(req, { body });
  return req;
}

const KNOWN = new Set(['query', 'operationName', 'variables', 'extensions']);

/**
 * The parameters of a JSON body that the fast path serves: one operation, `query` a string,
 * `operationName` a string or null, `variables` and `extensions` objects or null, nothing else.
 * Anything else (batches, unknown keys, malformed JSON) returns null and goes to Yoga, which
 * answers it (or rejects it) the way it always has.
 */
export function parseParams(body: Buffer): Params | null {
  let raw: unknown;
  try {
    raw = JSON.parse(body.toString('utf8'));
  } catch {
    return null;
  }
  if (!isRecord(raw)) return null;
  for (const key in raw) if (!KNOWN.has(key)) return null;
  return paramsOf(raw.query, raw.operationName ?? null, raw.variables ?? null, raw.extensions ?? null);
}

/** The same checks for parameters read from a query string (`variables` and `extensions` JSON text). */
export function paramsFromSearch(search: URLSearchParams): Params | null {
  const json = (name: string): unknown => {
    const text = search.get(name);
    if (!text) return null;
    try {
      return JSON.parse(text);
    } catch {
      return undefined;
    }
  };
  return paramsOf(search.get('query'), search.get('operationName'), json('variables'), json('extensions'));
}

/**
 * Why a query string's `variables` or `extensions` cannot be used (not JSON, or JSON that is not
 * an object), or null when they can (or are absent). Yoga would JSON.parse them unguarded.
 */
export function searchProblem(search: URLSearchParams): string | null {
  for (const name of ['variables', 'extensions']) {
    const text = search.get(name);
    if (!text) continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return `The "${name}" parameter is not JSON: send a URL-encoded JSON object.`;
    }
    if (value !== null && !isRecord(value)) return `The "${name}" parameter must be a JSON object.`;
  }
  return null;
}

/**
 * The request as a URL (`http://<Host><target>`, as the fast path and Yoga read it), or null when
 * its target is not a path (`*`, an absolute URL) or its Host header is not a host and port (it
 * holds `/ ? # @ \` or whitespace, which would move the path, or a port URL parsing refuses).
 */
export function requestUrl(target: string | undefined, host: string | undefined): URL | null {
  if (target === undefined || !target.startsWith('/')) return null;
  if (host !== undefined && !HOST.test(host)) return null;
  try {
    return new URL(`http://${host || 'localhost'}${target}`);
  } catch {
    return null;
  }
}

const HOST = /^[^/?#@\\\s]*$/;

function paramsOf(query: unknown, operationName: unknown, variables: unknown, extensions: unknown): Params | null {
  if (typeof query !== 'string' || query.length === 0) return null;
  if (operationName !== null && typeof operationName !== 'string') return null;
  if (variables !== null && !isRecord(variables)) return null;
  if (extensions !== null && !isRecord(extensions)) return null;
  return {
    query,
    operationName: operationName || undefined,
    variables: variables ?? undefined,
    extensions: extensions ?? undefined,
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A request URL's path and its query string (without `?`; empty when there is none). */
export function splitUrl(url: string | undefined): { path: string; query: string } {
  const u = url ?? '/';
  const q = u.indexOf('?');
  return q < 0 ? { path: u, query: '' } : { path: u.slice(0, q), query: u.slice(q + 1) };
}
