import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  createSourceEventStream,
  type ExecutionArgs,
  type ExecutionResult,
  execute,
  type FieldNode,
  GraphQLError,
  type GraphQLSchema,
  getArgumentValues,
  getVariableValues,
  locatedError,
} from 'graphql';
import type { CompiledQuery } from 'graphql-jit';
import type { Plugin } from 'graphql-yoga';
import { type Context, type Credentials, unauthenticated } from '../context.ts';
import type { HubStream, StreamEvent, StreamSink } from '../delivery/hub.ts';
import type { SseConnection, SseRegistry } from '../delivery/sse.ts';
import { openStream, STREAM_FIELDS, type StreamField } from '../schema/subscriptions.ts';
import type { Plan, PlanCache } from './plans.ts';
import { credentialsOf, maskResult, type Params, paramsFromSearch, parseParams, readBody, splitUrl, withBody } from './request.ts';

/**
 * GraphQL subscriptions over SSE ("distinct connections" mode of GraphQL over SSE: GET or POST on
 * the GraphQL endpoint with `Accept: text/event-stream`), served without Yoga.
 *
 * Why this bypasses Yoga: a stream lives for hours and receives every event of its user. Through
 * Yoga each open stream held a WHATWG Request, Headers, AbortSignal, a ReadableStream body and its
 * pipe to the socket, and the plugin chain's per-request state, and each event ran graphql-js
 * `execute` for each subscriber. Measured (bench/, 10,000 idle streams) that was 4.7x the memory per
 * stream of a minimal Node SSE server. Here a stream is Node's own request/response plus one hub
 * stream pushing straight into the response; each distinct subscription document is parsed,
 * validated and compiled once (graphql-jit), and each event runs the compiled plan. The schema and
 * its resolvers are the ones Yoga uses. `notificationAdded` and `inboxEvents` are opened here with
 * the same function and the same authentication rule as the schema's `subscribe` (openStream,
 * unauthenticated); events are resolved with a context that holds no per-request state, so nothing
 * of the opening request outlives it. Any other subscription goes through graphql-js
 * `createSourceEventStream` and the async iterator it returns.
 *
 * Everything else goes to `fallback`: POSTed queries and mutations to the operations endpoint
 * (operations.ts), the rest (documents that do not validate, graphql-sse's single-connection mode
 * at /graphql/stream, GraphiQL) to Yoga unchanged.
 */
export interface SseEndpointOptions {
  schema: GraphQLSchema;
  /** Parsed, validated and compiled documents (shared with the operations endpoint). */
  plans: PlanCache;
  /** The GraphQL endpoint's path. */
  path: string;
  registry: SseRegistry;
  context: (credentials: Credentials) => Promise<Context>;
  /** The same error masking Yoga applies. */
  maskError: (error: unknown) => GraphQLError;
  /** Where requests this endpoint does not serve go (Yoga's node handler). */
  fallback: (req: IncomingMessage, res: ServerResponse) => void;
  /** The context events are resolved with (shared by all streams). */
  eventContext: Context;
}

interface SubscriptionPlan extends Plan {
  /** Set when the operation is one of Herald's stream fields: opened directly on the hub. */
  field: { name: StreamField; node: FieldNode } | undefined;
}

/** Returns the node request handler: SSE subscriptions here, the rest to `fallback`. */
export function createSseEndpoint(options: SseEndpointOptions) {
  const { schema, registry } = options;

  /** The plan of a subscription document, or null (not a valid subscription: Yoga answers it). */
  function planFor(params: Params | null): SubscriptionPlan | null {
    const plan = params ? options.plans.get(params.query, params.operationName) : null;
    if (plan?.operation.operation !== 'subscription') return null;
    const [root] = plan.operation.selectionSet.selections;
    const field =
      plan.operation.selectionSet.selections.length === 1 &&
      root?.kind === 'Field' &&
      !root.directives?.length &&
      Object.hasOwn(STREAM_FIELDS, root.name.value) &&
      plan.compiled
        ? { name: root.name.value as StreamField, node: root }
        : undefined;
    return { ...plan, field };
  }

  async function serve(
    req: IncomingMessage,
    res: ServerResponse,
    plan: SubscriptionPlan,
    variables: Record<string, unknown> | undefined,
    ticket: string | null,
  ) {
    const credentials = credentialsOf(req, ticket);
    const context = await options.context(credentials);
    if (res.destroyed) return; // the client left while we authenticated
    // Minimal version from the auth branch (the pipeline branch owns this endpoint's final one): a
    // refused ticket answers 401, not a 200 stream with UNAUTHENTICATED and `complete`, so that
    // EventSource stops reconnecting with it and the client mints a new ticket (herald/client).
    if (credentials.ticket !== null && credentials.authorization === null && !context.auth) {
      const body = JSON.stringify({
        errors: [{ message: context.authError ?? 'Invalid stream ticket', extensions: { code: 'UNAUTHENTICATED' } }],
      });
      res.writeHead(401, { 'content-type': 'application/json; charset=utf-8' }).end(body);
      return;
    }
    const connection = registry.open(req, res);
    if (plan.field) {
      await serveStream(connection, plan, plan.field, context, variables);
      return;
    }
    const args: ExecutionArgs = {
      schema,
      document: plan.document,
      contextValue: context,
      variableValues: variables ?? null,
      operationName: plan.operationName ?? null,
    };
    let source: AsyncIterable<unknown> | ExecutionResult;
    try {
      source = await createSourceEventStream(args);
    } catch (error) {
      source = { errors: [options.maskError(error)] };
    }
    if (!(Symbol.asyncIterator in source)) {
      connection.next(JSON.stringify(maskResult(source, options.maskError)));
      connection.complete();
      return;
    }
    const iterator = source[Symbol.asyncIterator]();
    if (connection.closed) {
      void iterator.return?.();
      return;
    }
    connection.onClose = { connectionClosed: () => void iterator.return?.() };
    await pump(connection, iterator, plan, args);
  }

  /** Fails the way graphql-js would: one error result, located at the field, then `complete`. */
  function failWith(connection: SseConnection, error: unknown, field?: FieldNode, path?: string) {
    if (connection.closed) return;
    const located = field && path ? locatedError(error, [field], [path]) : error;
    connection.next(JSON.stringify({ errors: [options.maskError(located)] }));
    connection.complete();
  }

  async function serveStream(
    connection: SseConnection,
    plan: SubscriptionPlan,
    field: NonNullable<SubscriptionPlan['field']>,
    context: Context,
    variables: Record<string, unknown> | undefined,
  ) {
    const path = field.node.alias?.value ?? field.name;
    const coerced = getVariableValues(schema, plan.operation.variableDefinitions ?? [], variables ?? {});
    if (coerced.errors) {
      connection.next(JSON.stringify({ errors: coerced.errors.map((e) => options.maskError(e)) }));
      connection.complete();
      return;
    }
    let stream: HubStream;
    try {
      if (!context.auth) throw unauthenticated(context);
      const def = schema.getSubscriptionType()!.getFields()[field.name]!;
      const args = getArgumentValues(def, field.node, coerced.coerced);
      stream = await openStream(context, field.name, args.after as string | null | undefined);
    } catch (error) {
      failWith(connection, error, field.node, path);
      return;
    }
    if (connection.closed) {
      // The client left while the stream was opening.
      void stream.return?.();
      return;
    }
    const writer = new StreamWriter(
      connection,
      stream,
      (plan as SubscriptionPlan & { compiled: CompiledQuery }).compiled,
      variables,
      options,
    );
    connection.onClose = writer;
    stream.attach(writer);
  }

  async function pump(connection: SseConnection, iterator: AsyncIterator<unknown>, plan: SubscriptionPlan, args: ExecutionArgs) {
    const { compiled } = plan;
    for (;;) {
      let item: IteratorResult<unknown>;
      try {
        item = await iterator.next();
      } catch (error) {
        // The stream failed (expired token, expired cursor, fell behind): a final result with its code.
        if (!connection.closed) {
          connection.next(JSON.stringify({ errors: [options.maskError(error)] }));
          connection.complete();
        }
        return;
      }
      // Ended by the server (shutdown) or by the client: no `complete`, the client reconnects.
      if (connection.closed) return;
      if (item.done) {
        connection.end();
        return;
      }
      const event = item.value as { type?: unknown; cursor?: unknown };
      const result = compiled
        ? await compiled.query(event, args.contextValue, args.variableValues)
        : ((await execute({ ...args, rootValue: event })) as ExecutionResult);
      if (connection.closed) return;
      const masked = maskResult(result, options.maskError);
      const cursor = resumeCursor(event);
      if (cursor !== undefined) {
        masked.extensions = { ...masked.extensions, cursor };
        connection.next(JSON.stringify(masked), cursor);
      } else {
        connection.next(JSON.stringify(masked));
      }
    }
  }

  async function handlePost(req: IncomingMessage, res: ServerResponse) {
    const body = await readBody(req);
    const params = parseParams(body);
    const plan = planFor(params);
    if (!plan || !params) {
      // Not ours after all: Yoga reads the body we already consumed from `req.body`.
      options.fallback(withBody(req, body), res);
      return;
    }
    await serve(req, res, plan, params.variables, null);
  }

  return function handle(req: IncomingMessage, res: ServerResponse) {
    const accept = req.headers.accept;
    const url = splitUrl(req.url);
    if (url.path !== options.path || typeof accept !== 'string' || !accept.includes('text/event-stream')) {
      options.fallback(req, res);
      return;
    }
    const done = (error: unknown) => {
      options.registry.log.error({ err: (error as Error).message }, 'sse request failed');
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    };
    if (req.method === 'POST' && (req.headers['content-type'] ?? '').includes('json')) {
      handlePost(req, res).catch(done);
      return;
    }
    if (req.method !== 'GET') {
      options.fallback(req, res);
      return;
    }
    const search = new URLSearchParams(url.query);
    const params = paramsFromSearch(search);
    const plan = planFor(params);
    if (!plan || !params) {
      options.fallback(req, res);
      return;
    }
    serve(req, res, plan, params.variables, search.get('ticket')).catch(done);
  };
}

/**
 * Writes one hub stream's events to its SSE connection (the hub pushes them; see StreamSink). A
 * class, not closures: one small object per open stream.
 */
class StreamWriter implements StreamSink {
  /** Set while a result is still being resolved asynchronously: later events wait for it (order). */
  private pending: Promise<void> | undefined;

  constructor(
    private readonly connection: SseConnection,
    private readonly stream: HubStream,
    private readonly compiled: CompiledQuery,
    private readonly variables: Record<string, unknown> | undefined,
    private readonly options: Pick<SseEndpointOptions, 'maskError' | 'eventContext'>,
  ) {}

  event(event: StreamEvent) {
    if (this.pending) {
      this.pending = this.pending.then(async () => this.write(event, await this.resolve(event)));
      return;
    }
    const result = this.resolve(event);
    if (result instanceof Promise) this.pending = result.then((r) => this.write(event, r));
    else this.write(event, result);
  }

  end() {
    this.connection.end();
  }

  fail(error: unknown) {
    void (this.pending ?? Promise.resolve()).then(() => {
      if (this.connection.closed) return;
      this.connection.next(JSON.stringify({ errors: [this.options.maskError(error)] }));
      this.connection.complete();
    });
  }

  drained() {
    return this.connection.drained();
  }

  /** The client went away: let go of the hub stream. */
  connectionClosed() {
    void this.stream.return?.();
  }

  private resolve(event: StreamEvent) {
    return this.compiled.query(event, this.options.eventContext, this.variables ?? null);
  }

  private write(event: StreamEvent, result: ExecutionResult) {
    if (this.connection.closed) return;
    const masked = maskResult(result, this.options.maskError);
    const cursor = resumeCursor(event);
    if (cursor === undefined) {
      this.connection.next(JSON.stringify(masked));
    } else {
      masked.extensions = { ...masked.extensions, cursor };
      this.connection.next(JSON.stringify(masked), cursor);
    }
  }
}

/**
 * The position a client resumes after once it has this event: only additions advance it (a change
 * event names an older notification's position, which must not become the SSE id).
 */
function resumeCursor(event: unknown): string | undefined {
  const e = event as { type?: unknown; cursor?: unknown } | null;
  return e?.type === 'added' && typeof e.cursor === 'string' ? e.cursor : undefined;
}

/**
 * For the subscriptions Yoga serves (graphql-sse's single-connection mode): each result carries
 * its event's cursor in `extensions.cursor`, and an error raised by a stream (expired token,
 * expired cursor) reaches the client as a final result with its code.
 */
export function useCursorSubscriptions(): Plugin {
  return {
    onSubscribe({ setSubscribeFn }) {
      setSubscribeFn(async (args: ExecutionArgs) => {
        const source = await createSourceEventStream(args);
        if (!(Symbol.asyncIterator in source)) return source;
        return mapSource(source, args);
      });
    },
  };
}

function mapSource(source: AsyncIterable<unknown>, args: ExecutionArgs): AsyncIterableIterator<ExecutionResult> {
  const it = source[Symbol.asyncIterator]();
  let finished = false;
  const iterator: AsyncIterableIterator<ExecutionResult> = {
    [Symbol.asyncIterator]: () => iterator,
    async next() {
      if (finished) return { value: undefined, done: true };
      let item: IteratorResult<unknown>;
      try {
        item = await it.next();
      } catch (error) {
        finished = true;
        const err = error instanceof GraphQLError ? error : new GraphQLError('Stream failed', { originalError: error as Error });
        return { value: { errors: [err] }, done: false };
      }
      if (item.done) {
        finished = true;
        return { value: undefined, done: true };
      }
      const payload = item.value;
      const result = (await execute({ ...args, rootValue: payload })) as ExecutionResult;
      const cursor = resumeCursor(payload);
      if (cursor !== undefined) result.extensions = { ...result.extensions, cursor };
      return { value: result, done: false };
    },
    async return() {
      finished = true;
      await it.return?.();
      return { value: undefined, done: true };
    },
  };
  return iterator;
}
