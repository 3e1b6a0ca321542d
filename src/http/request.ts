import type { IncomingMessage } from 'node:http';
import type { ExecutionResult, GraphQLError } from 'graphql';
import type { Credentials } from '../context.ts';

/** Yoga's request body limit (`maxRequestBodySize`), which Herald's own endpoints share. */
export const MAX_BODY_BYTES = 25_000_000;

/** The GraphQL-over-HTTP parameters of a request. */
export interface Params {
  query: string;
  operationName: string | undefined;
  variables: Record<string, unknown> | undefined;
}

/**
 * Reads a request body whole. Past MAX_BODY_BYTES the rest is discarded; the truncated body is
 * still returned so Yoga can answer 413 for it.
 */
export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
      size += chunk.length;
    });
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    // A client gone mid-body: whatever was read (it fails to parse; the response goes nowhere).
    req.on('error', () => resolve(Buffer.concat(chunks)));
    req.on('close', () => {
      if (!req.complete) resolve(Buffer.concat(chunks));
    });
  });
}

/** Hands a request whose body was already read to Yoga, which reads it from `req.body`. */
export function withBody(req: IncomingMessage, body: Buffer): IncomingMessage {
  (req as IncomingMessage & { body?: unknown }).body = body;
  return req;
}

const KNOWN = new Set(['query', 'operationName', 'variables', 'extensions']);

/**
 * The parameters of a JSON body that Herald's endpoints serve themselves: one operation, `query`
 * a string, `operationName` a string or null, `variables` and `extensions` objects or null (no
 * extension is used), and nothing else. Anything else (batches, unknown keys, malformed JSON)
 * returns null and goes to Yoga, which answers it (or rejects it) the way it always has.
 */
export function parseParams(body: Buffer): Params | null {
  let raw: unknown;
  try {
    raw = JSON.parse(body.toString('utf8'));
  } catch {
    return null;
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return null;
  for (const key in raw) if (!KNOWN.has(key)) return null;
  const { query, operationName, variables, extensions } = raw as Record<string, unknown>;
  if (extensions != null && (typeof extensions !== 'object' || Array.isArray(extensions))) return null;
  return paramsOf(query, operationName ?? null, variables ?? null);
}

/** The same checks for parameters read from a query string (`variables` still JSON text). */
export function paramsFromSearch(search: URLSearchParams): Params | null {
  let variables: unknown = null;
  const text = search.get('variables');
  if (text) {
    try {
      variables = JSON.parse(text);
    } catch {
      return null;
    }
  }
  return paramsOf(search.get('query'), search.get('operationName'), variables);
}

function paramsOf(query: unknown, operationName: unknown, variables: unknown): Params | null {
  if (typeof query !== 'string' || query.length === 0) return null;
  if (operationName !== null && typeof operationName !== 'string') return null;
  if (variables !== null && (typeof variables !== 'object' || Array.isArray(variables))) return null;
  return {
    query,
    operationName: operationName || undefined,
    variables: (variables as Record<string, unknown> | null) ?? undefined,
  };
}

/** A request URL's path and its query string (without `?`; empty when there is none). */
export function splitUrl(url: string | undefined): { path: string; query: string } {
  const u = url ?? '/';
  const q = u.indexOf('?');
  return q < 0 ? { path: u, query: '' } : { path: u.slice(0, q), query: u.slice(q + 1) };
}

/** What the request presents to authenticate (a stream ticket only comes in a GET's query string). */
export function credentialsOf(req: IncomingMessage, ticket: string | null): Credentials {
  const header = (name: string) => {
    const v = req.headers[name];
    return typeof v === 'string' ? v : null;
  };
  return { authorization: header('authorization'), ticket, lastEventId: header('last-event-id') };
}

/** A result with its errors masked the way Yoga masks them. */
export function maskResult(result: ExecutionResult, maskError: (error: unknown) => GraphQLError): ExecutionResult {
  if (!result.errors?.length) return result;
  return { ...result, errors: result.errors.map((e) => maskError(e)) };
}
