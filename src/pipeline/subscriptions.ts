import { createSourceEventStream, type DocumentNode, type ExecutionArgs, type ExecutionResult, execute, type GraphQLError } from 'graphql';
import { type CompiledQuery, compileQuery, isCompiledQuery } from 'graphql-jit';
import type { Plugin } from 'graphql-yoga';
import { type Context, releaseContext } from '../context.ts';
import type { HubStream, StreamEvent, StreamSink } from '../delivery/hub.ts';
import { ResultQueue } from './result-queue.ts';

/**
 * Herald's subscribe step, the last `setSubscribeFn` of the pipeline: every subscription, on
 * every transport, is opened by the schema's own `subscribe` resolver (graphql-js
 * `createSourceEventStream`), and each event is resolved into a result carrying its resume cursor
 * in `extensions.cursor`.
 *
 * A hub stream (notificationAdded, inboxEvents) pushes its events: each is resolved the moment it
 * arrives, with the document compiled once by graphql-jit, and queued as a result for whoever
 * iterates (the SSE writer, or Yoga's graphql-sse handler, through whatever the other plugins
 * wrapped around it). Events are resolved with a context shared by all streams, so nothing of the
 * opening request (its headers, its variables) lives as long as the stream.
 *
 * An error the stream ends with (expired token or cursor, fell behind) is its last result; the
 * consumer then sends `complete` (see `endedWithError`), while a stream the server ends (shutdown)
 * just ends, and the client reconnects.
 */
export interface SubscriptionObserver {
  /** A notification resolved for a stream, `lagMs` after it was committed. */
  delivered(lagMs: number): void;
}

export interface SubscribeStepOptions {
  /** The context events are resolved with, shared by all streams. */
  eventContext: Context;
  /** Yoga's error masking, applied to every result of a stream (see below); logs what it hides. */
  mask: Mask;
  observer?: SubscriptionObserver | undefined;
}

/**
 * Must be the last of the plugins given to Yoga. Its `onSubscribe` opens the stream and stops
 * there (`setResultAndStopExecution`): the plugins before it have run their `onSubscribe` and
 * their result and event hooks still apply (envelop wraps the stream for them), while Yoga's own
 * two after it are not reached: its error masking, whose per-event hook made envelop wrap every
 * stream twice (3.3 KiB per idle stream, a third of what an idle stream costs, measured with a heap
 * snapshot), and its re-throw of aborts, which a stream never raises here. This step masks
 * with the same `maskError` instead, every result and the error a stream ends with.
 */
export function useHubSubscriptions(options: SubscribeStepOptions): Plugin {
  const { eventContext, mask, observer } = options;
  return {
    onSubscribe({ args, setResultAndStopExecution }) {
      return subscribe(args).then(setResultAndStopExecution);
    },
  };

  async function subscribe(args: ExecutionArgs): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
    let source: Awaited<ReturnType<typeof createSourceEventStream>>;
    try {
      source = await createSourceEventStream(args);
    } finally {
      // Events are resolved with the shared event context: the opening one is done with.
      if (isContext(args.contextValue)) releaseContext(args.contextValue);
    }
    const requestId = isContext(args.contextValue) ? args.contextValue.requestId : null;
    // Not a closure over requestId: streams keep it for hours, and tsx names every closure (a
    // property of its own, about 250 bytes).
    const masking = new Masking(mask, requestId);
    if (!(Symbol.asyncIterator in source)) return masking.result(source);
    const results = isHubStream(source)
      ? new HubResults(source, planFor(args), eventArgs(args), eventContext, masking, observer)
      : new MappedResults(source[Symbol.asyncIterator](), args, masking);
    if (isObject(args.contextValue)) endings.set(args.contextValue, results);
    return results;
  }
}

/** Masks an error for the client (`requestId`: the opening request's, for the log). */
export type Mask = (error: unknown, requestId: string | null) => GraphQLError;

/** A stream's masking: its opening request's id goes to the log with what is hidden. */
class Masking {
  constructor(
    private readonly mask: Mask,
    private readonly requestId: string | null,
  ) {}

  error(error: unknown): GraphQLError {
    return this.mask(error, this.requestId);
  }

  /** The result with its errors masked (an expected error, a GraphQLError with a code, passes as it is). */
  result(result: ExecutionResult): ExecutionResult {
    if (!result.errors?.length) return result;
    return { ...result, errors: result.errors.map((error) => this.error(error)) };
  }
}

/**
 * How the subscription opened with this context ends: `failed` once it ended with an error
 * result (the consumer sends `complete`). Taken once after subscribing, so that the consumer does
 * not keep the opening request's context.
 */
export function endingOf(context: object): { readonly failed: boolean } {
  return endings.get(context) ?? { failed: false };
}

/** What resolving events needs of the subscription's arguments: not the opening request's context. */
function eventArgs(args: ExecutionArgs): ExecutionArgs {
  return {
    schema: args.schema,
    document: args.document,
    variableValues: args.variableValues ?? null,
    operationName: args.operationName ?? null,
  };
}

const endings = new WeakMap<object, { failed: boolean }>();

/** Compiled documents for resolving events, per parsed document (Yoga's cache keeps the same DocumentNode). */
const compiled = new WeakMap<DocumentNode, CompiledQuery | null>();

function planFor(args: ExecutionArgs): CompiledQuery | null {
  let plan = compiled.get(args.document);
  if (plan === undefined) {
    const c = compileQuery(args.schema, args.document, args.operationName ?? undefined);
    plan = isCompiledQuery(c) ? c : null;
    compiled.set(args.document, plan);
  }
  return plan;
}

function isHubStream(source: AsyncIterable<unknown>): source is HubStream {
  return 'attach' in source && typeof source.attach === 'function';
}

function isContext(value: unknown): value is Context {
  return isObject(value) && 'services' in value && 'auth' in value;
}

function isObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null;
}

/**
 * The position a client resumes after once it has this event: every hub event has its own
 * position in the user's log (a change takes a position of its own, later than everything before it).
 */
function resumeCursor(event: unknown): string | undefined {
  if (!isObject(event)) return undefined;
  return 'cursor' in event && typeof event.cursor === 'string' ? event.cursor : undefined;
}

function withCursor(result: ExecutionResult, event: unknown): ExecutionResult {
  const cursor = resumeCursor(event);
  if (cursor !== undefined) result.extensions = { ...result.extensions, cursor };
  return result;
}

/** Results queued beyond this hold the hub's replay until the consumer takes them (backpressure). */
const ROOM = 64;

/** A hub stream's events as results, resolved as they are pushed. */
class HubResults implements StreamSink, AsyncIterableIterator<ExecutionResult> {
  failed = false;
  private readonly queue = new ResultQueue<ExecutionResult>();
  private finished = false;
  private waiter: ((item: IteratorResult<ExecutionResult>) => void) | undefined;
  private roomWaiter: (() => void) | undefined;
  /** Set while a result is still being resolved asynchronously: later events wait for it (order). */
  private pending: Promise<void> | undefined;

  constructor(
    private readonly stream: HubStream,
    private readonly plan: CompiledQuery | null,
    private readonly args: ExecutionArgs,
    private readonly context: Context,
    private readonly masking: Masking,
    private readonly observer: SubscriptionObserver | undefined,
  ) {
    stream.attach(this);
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  event(event: StreamEvent) {
    if (this.observer && event.type === 'added') this.observer.delivered(Date.now() - event.notification.createdAt.getTime());
    const update = event.type === 'updated' ? event.notification.id : undefined;
    if (this.pending) {
      this.pending = this.pending.then(async () => this.deliver(withCursor(await this.resolve(event), event), update));
      return;
    }
    const result = this.resolve(event);
    if (result instanceof Promise) this.pending = result.then((r) => this.deliver(withCursor(r, event), update));
    else this.deliver(withCursor(result, event), update);
  }

  end() {
    void this.after(() => this.finish());
  }

  fail(error: unknown) {
    void this.after(() => {
      if (this.finished) return;
      this.deliver({ errors: [this.masking.error(error)] });
      this.failed = true;
      this.finish();
    });
  }

  drained(): Promise<void> {
    if (this.queue.length < ROOM || this.finished) return Promise.resolve();
    return new Promise((resolve) => {
      this.roomWaiter = resolve;
    });
  }

  next(): Promise<IteratorResult<ExecutionResult>> {
    const value = this.queue.shift();
    if (this.roomWaiter && this.queue.length < ROOM / 2) {
      const room = this.roomWaiter;
      this.roomWaiter = undefined;
      room();
    }
    if (value) return Promise.resolve({ value, done: false });
    if (this.finished) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  return(): Promise<IteratorResult<ExecutionResult>> {
    this.queue.clear();
    this.finish();
    void this.stream.return?.();
    return Promise.resolve({ value: undefined, done: true });
  }

  private resolve(event: StreamEvent): ExecutionResult | Promise<ExecutionResult> {
    if (this.plan) return this.plan.query(event, this.context, this.args.variableValues ?? null);
    return execute({ ...this.args, rootValue: event, contextValue: this.context }) as ExecutionResult | Promise<ExecutionResult>;
  }

  private after(fn: () => void) {
    return this.pending ? this.pending.then(fn) : fn();
  }

  /** `update`: the notification an update in place is of (coalesced while waiting, see ResultQueue). */
  private deliver(unmasked: ExecutionResult, update?: string) {
    if (this.finished) return;
    const result = this.masking.result(unmasked);
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = undefined;
      waiter({ value: result, done: false });
    } else {
      this.queue.push(result, update);
    }
  }

  private finish() {
    if (this.finished) return;
    this.finished = true;
    this.roomWaiter?.();
    this.roomWaiter = undefined;
    const waiter = this.waiter;
    this.waiter = undefined;
    if (waiter && this.queue.length === 0) waiter({ value: undefined, done: true });
  }
}

/** Any other source's events, each executed with graphql-js as `subscribe` would. */
class MappedResults implements AsyncIterableIterator<ExecutionResult> {
  failed = false;
  private finished = false;

  constructor(
    private readonly source: AsyncIterator<unknown>,
    private readonly args: ExecutionArgs,
    private readonly masking: Masking,
  ) {}

  [Symbol.asyncIterator]() {
    return this;
  }

  async next(): Promise<IteratorResult<ExecutionResult>> {
    if (this.finished) return { value: undefined, done: true };
    let item: IteratorResult<unknown>;
    try {
      item = await this.source.next();
    } catch (error) {
      // An error raised by the stream reaches the client as a final result with its code.
      this.finished = true;
      this.failed = true;
      return { value: { errors: [this.masking.error(error)] }, done: false };
    }
    if (item.done) {
      this.finished = true;
      return { value: undefined, done: true };
    }
    const result = await execute({ ...this.args, rootValue: item.value });
    return { value: withCursor(this.masking.result(result), item.value), done: false };
  }

  async return(): Promise<IteratorResult<ExecutionResult>> {
    this.finished = true;
    await this.source.return?.();
    return { value: undefined, done: true };
  }
}
