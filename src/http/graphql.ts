import { type ExecutionArgs, type ExecutionResult, type GraphQLError, getOperationAST } from 'graphql';
import { isAsyncIterable, processRegularResult, type YogaServerInstance } from 'graphql-yoga';
import type { Context } from '../context.ts';
import type { SseConnection, SseRegistry } from '../delivery/sse.ts';
import { ErrorCode } from '../errors.ts';
import { authorityOf, isGone, type NodeRequest, type NodeResponse } from '../node-http.ts';
import { type ErrorLog, isUnexpected } from '../pipeline/errors.ts';
import { endingOf } from '../pipeline/subscriptions.ts';
import { acceptsEventStream, type JsonType, jsonResponseType } from './negotiate.ts';
import { refuseLater } from './refusal.ts';
import type { Params } from './request.ts';

/**
 * GraphQL operations served on Node's own request and response, through Yoga's envelop pipeline.
 *
 * Why not Yoga's `fetch` handler: every emit is one request, and every stream lives for hours.
 * Through Yoga's handler each request built a WHATWG Request with its body stream, an
 * AbortController, a Response and its pipe to the socket (a third of the CPU at 1,000 emits/s), and
 * each open stream held them all (4.7x the memory per stream of a minimal SSE server). Here the
 * body is read once by the front door (handler.ts), the request Yoga's plugins see is a light
 * WHATWG Request without a body (the parameters are in `params`, as in Yoga), and the answer is
 * written straight to the socket.
 *
 * What is the same as Yoga: the phases are `yoga.getEnveloped()`'s parse, validate,
 * contextFactory and execute / subscribe, in Yoga's order, so every envelop plugin (Herald's: the
 * token limit, graphql-jit, masking, context release, error logging; and any passed to createApp)
 * runs on every request; results with errors become responses through Yoga's own
 * `processRegularResult`, so status codes and bodies are Yoga's (test/http/operations.test.ts
 * compares the two request by request). Hooks above envelop (onRequest, onParams,
 * onResultProcess…) are Yoga's handler's: when a plugin passed to createApp has one, the front door
 * sends every request to Yoga instead (app.ts).
 */
export interface GraphqlEndpointOptions {
  yoga: YogaServerInstance<Record<string, unknown>, Context>;
  registry: SseRegistry;
  /** Yoga's masking, for errors thrown outside execution (a plugin's hook, the context). */
  mask: (error: unknown) => GraphQLError;
  errors: ErrorLog;
  /** The context streams' events are resolved with (pipeline/subscriptions.ts). */
  eventContext: Context;
  /** Yoga's node handler, for what this endpoint leaves to Yoga (multipart and other media types). */
  fallback: (req: NodeRequest, res: NodeResponse) => void;
  /** RATE_LIMIT_REFUSAL_DELAY_MS: a RATE_LIMITED answer is written after this long (refusal.ts). */
  refusalDelayMs: number;
}

export interface EndpointStats {
  /** Operations answered here. */
  served: number;
  /** Operations handed to Yoga's handler. */
  yoga: number;
}

export interface GraphqlEndpoint {
  /**
   * Serves one operation whose parameters were read (`body`: the bytes, for a hand-over to Yoga;
   * `headers`: the front door's, for every response: written with the status line, never stored
   * on the response, which a stream would keep for hours).
   */
  serve(req: NodeRequest, res: NodeResponse, params: Params, ticket: string | null, body: Buffer | null, headers: Headers): void;
  stats(): EndpointStats;
}

export function createGraphqlEndpoint(options: GraphqlEndpointOptions): GraphqlEndpoint {
  const { yoga, registry, errors: errorLog } = options;
  const { Request } = yoga.fetchAPI;
  const stats: EndpointStats = { served: 0, yoga: 0 };

  async function run(req: NodeRequest, res: NodeResponse, params: Params, ticket: string | null, json: JsonType | null, headers: Headers) {
    const requestId = header(req, 'x-request-id');
    const request = new Request(`http://${authorityOf(req) ?? 'localhost'}${req.url ?? '/'}`, {
      method: req.method ?? 'GET',
      headers: headersOf(req),
    });
    // `req` as in Yoga's node adapter: plugins reach Node's request the same way on both paths.
    const enveloped = yoga.getEnveloped({ request, params, req });
    // A client asking for an event stream only gets its single result as one event, as from Yoga;
    // but a rate-limit refusal is answered 429 with Retry-After before any stream starts, so that
    // an EventSource or graphql-sse client sees the status rather than a stream that ends at once.
    const single = async (result: ExecutionResult) => {
      const limited = rateLimitOf(result);
      if (limited)
        return refuseLater(res, options.refusalDelayMs, limited.retryAfter, () => sendRateLimited(res, result, limited, headers));
      if (json) return sendResult(res, result, json, yoga.fetchAPI, headers);
      registry.open(req, res, headers).only(JSON.stringify(result));
    };
    const fail = (error: unknown) => {
      if (isUnexpected(error)) errorLog.thrown(error, requestId ?? null);
      return single({ errors: [options.mask(error)] });
    };
    let document: ReturnType<typeof enveloped.parse>;
    try {
      document = enveloped.parse(params.query);
    } catch (error) {
      return fail(error);
    }
    let errors: ReturnType<typeof enveloped.validate>;
    try {
      // A rule may throw instead of reporting (graphql-armor's, with propagateOnRejection).
      errors = enveloped.validate(enveloped.schema, document);
    } catch (error) {
      return fail(error);
    }
    if (errors.length > 0) return single({ errors });
    const operation = getOperationAST(document, params.operationName);
    const subscription = operation?.operation === 'subscription';
    const stream = acceptsEventStream(req.headers.accept);
    if (subscription && !stream) {
      // What Yoga answers: no result processor for a stream in the accepted media types.
      res.writeHead(406, { ...headers, accept: 'text/event-stream' }).end();
      return;
    }
    let context: Context;
    try {
      const built = await enveloped.contextFactory();
      if (!isContext(built)) throw new Error('the context factory did not build a Herald context');
      context = built;
    } catch (error) {
      return fail(error);
    }
    if (isGone(res)) return; // the client left while we authenticated
    // A refused ticket answers 401, not a 200 stream with UNAUTHENTICATED and `complete`, so that
    // EventSource stops reconnecting with it and the client mints a new ticket (herald/client).
    if (ticket !== null && header(req, 'authorization') === undefined && !context.auth) {
      const body = JSON.stringify({
        errors: [{ message: context.authError ?? 'Invalid stream ticket', extensions: { code: 'UNAUTHENTICATED' } }],
      });
      res.writeHead(401, { ...headers, 'content-type': 'application/json; charset=utf-8' }).end(body);
      return;
    }
    const args: ExecutionArgs = {
      schema: enveloped.schema,
      document,
      contextValue: context,
      variableValues: params.variables ?? null,
      operationName: params.operationName ?? null,
    };
    if (!subscription) {
      let result: ExecutionResult;
      try {
        const r = await enveloped.execute(args);
        if (isAsyncIterable(r)) throw new Error('execute returned a stream (@defer/@stream are not enabled)');
        result = r;
      } catch (error) {
        return fail(error);
      }
      return single(result);
    }
    let result: Awaited<ReturnType<typeof enveloped.subscribe>>;
    try {
      result = await enveloped.subscribe(args);
    } catch (error) {
      const connection = registry.open(req, res, headers);
      writeFinalError(connection, error, requestId);
      return;
    }
    if (!isAsyncIterable(result)) {
      if (!isGone(res)) single(result);
      return;
    }
    const iterator = result[Symbol.asyncIterator]();
    if (isGone(res)) {
      void iterator.return?.();
      return;
    }
    const ending = endingOf(context);
    // The stream lives for hours and its events are resolved with the shared event context: the
    // arguments that the pipeline's per-event hooks keep say so, and let go of the opening
    // request (its headers, its variables). Halves what an idle stream holds beyond Node's own.
    args.contextValue = options.eventContext;
    Reflect.set(context, 'request', undefined);
    Reflect.set(context, 'params', undefined);
    new StreamPump(registry.open(req, res, headers), iterator, ending, requestId ?? null, errorLog, options.mask).step();
  }

  function writeFinalError(connection: SseConnection, error: unknown, requestId: string | undefined) {
    finalError(connection, error, requestId ?? null, errorLog, options.mask);
  }

  return {
    serve(req, res, params, ticket, body, headers) {
      const accept = req.headers.accept;
      const json = jsonResponseType(accept);
      if (!json && !acceptsEventStream(accept)) {
        // multipart/mixed, or nothing Herald serves (406): Yoga's result processors answer.
        stats.yoga++;
        if (body) Object.assign(req, { body });
        for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
        options.fallback(req, res);
        return;
      }
      stats.served++;
      run(req, res, params, ticket, json, headers).catch((error: unknown) => {
        errorLog.thrown(error, header(req, 'x-request-id') ?? null);
        if (!res.headersSent) res.writeHead(500, headers).end();
        else res.destroy();
      });
    },
    stats: () => ({ ...stats }),
  };
}

/**
 * Writes a stream's results as they come: each `next` event carries its result's resume cursor as
 * the SSE `id:`; the next result is taken once the socket has room (backpressure reaches the hub's
 * replay through the results' queue).
 *
 * A class, not closures: it lives as long as the stream, and under tsx (esbuild's keepNames) every
 * named closure carries its own `name` property (about 250 bytes each, measured), which an idle
 * stream would hold four times over.
 */
class StreamPump {
  constructor(
    private readonly connection: SseConnection,
    private readonly iterator: AsyncIterator<unknown>,
    private readonly ending: { readonly failed: boolean },
    private readonly requestId: string | null,
    private readonly errors: ErrorLog,
    private readonly mask: (error: unknown) => GraphQLError,
  ) {
    connection.onClose = this;
  }

  connectionClosed() {
    void this.iterator.return?.();
  }

  step() {
    this.iterator.next().then(
      (item) => this.write(item),
      (error: unknown) => finalError(this.connection, error, this.requestId, this.errors, this.mask),
    );
  }

  private write(item: IteratorResult<unknown>) {
    const connection = this.connection;
    if (connection.closed) return;
    if (item.done) {
      // Ended by an error (expired token or cursor): `complete`, the client must not retry as is.
      // Ended by the server (shutdown): no `complete`, the client reconnects.
      if (this.ending.failed) connection.complete();
      else connection.end();
      return;
    }
    const result = item.value;
    if (!isResult(result)) {
      finalError(connection, new Error('a subscription yielded something that is not a result'), this.requestId, this.errors, this.mask);
      return;
    }
    this.errors.result(result, this.requestId);
    const cursor = result.extensions?.cursor;
    connection.next(JSON.stringify(result), typeof cursor === 'string' ? cursor : undefined);
    const waiting = connection.drained();
    if (connection.res.writableLength === 0) this.step();
    else void waiting.then(() => this.step());
  }
}

/** The error a stream ends with, as its last event, then `complete`. */
function finalError(
  connection: SseConnection,
  error: unknown,
  requestId: string | null,
  errors: ErrorLog,
  mask: (error: unknown) => GraphQLError,
) {
  if (connection.closed) return;
  if (isUnexpected(error)) errors.thrown(error, requestId);
  connection.next(JSON.stringify({ errors: [mask(error)] }));
  connection.complete();
}

/** Writes a single result: 200 JSON when it has no errors, otherwise Yoga's response for it. */
async function sendResult(res: NodeResponse, result: ExecutionResult, type: JsonType, fetchAPI: FetchAPI, extra: Headers) {
  if (!result.errors?.length) {
    const text = JSON.stringify(result);
    res.writeHead(200, { ...extra, 'content-type': `${type}; charset=utf-8`, 'content-length': Buffer.byteLength(text) });
    res.end(text);
    return;
  }
  const response = await processRegularResult(result, fetchAPI, type);
  const text = await response.text();
  const headers: Record<string, string> = { ...extra };
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  headers['content-length'] = String(Buffer.byteLength(text));
  res.writeHead(response.status, headers);
  res.end(text);
}

/** Response headers as name -> value. */
export type Headers = Record<string, string>;

type FetchAPI = YogaServerInstance<Record<string, unknown>, Context>['fetchAPI'];

function isContext(value: unknown): value is Context {
  return typeof value === 'object' && value !== null && 'services' in value && 'auth' in value;
}

/** The refusal of a result refused by a rate limit (pipeline/rate-limits.ts, an emit's charge), or undefined. */
function rateLimitOf(result: ExecutionResult): { retryAfter: number } | undefined {
  for (const error of result.errors ?? []) {
    const { code, retryAfter } = error.extensions ?? {};
    if (code === ErrorCode.RATE_LIMITED) return { retryAfter: typeof retryAfter === 'number' ? retryAfter : 1 };
  }
  return undefined;
}

/**
 * 429 with Retry-After and the errors as JSON, written here: a refusal must cost less than the
 * request it refuses, and Yoga's result processing was most of its cost. `extensions.http` is how
 * Yoga would have learnt the status; it never reaches the client.
 */
function sendRateLimited(res: NodeResponse, result: ExecutionResult, limited: { retryAfter: number }, extra: Headers) {
  const errors = (result.errors ?? []).map((error) => {
    const { http: _http, ...extensions } = error.extensions ?? {};
    return { ...error.toJSON(), extensions };
  });
  const text = JSON.stringify(result.data === undefined ? { errors } : { errors, data: result.data });
  res.writeHead(429, {
    ...extra,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'retry-after': String(limited.retryAfter),
  });
  res.end(text);
}

function isResult(value: unknown): value is ExecutionResult {
  return typeof value === 'object' && value !== null;
}

function header(req: NodeRequest, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' ? v : undefined;
}

/**
 * Node's headers as a WHATWG HeadersInit (repeated headers joined, as Headers would). HTTP/2's
 * pseudo-headers (`:path`, `:authority`...) are not headers (Headers refuses their names); the
 * authority is the URL's host.
 */
function headersOf(req: NodeRequest): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined && !name.startsWith(':')) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}
