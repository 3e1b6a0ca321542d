import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { createSourceEventStream, type ExecutionArgs, type ExecutionResult, execute, GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Logger } from '../logger.ts';

/**
 * Herald's own SSE transport for GraphQL-over-SSE "distinct connections" mode (GET or POST with
 * `Accept: text/event-stream`). It replaces Yoga's built-in result processor because that one
 * writes no `id:` lines, runs one timer per stream and has no bound on a stream's unsent data.
 *
 * - Each event that has a position is written with `id: <cursor>`, so a reconnecting EventSource
 *   sends `Last-Event-ID` and resumes exactly after it.
 * - One heartbeat timer for all streams.
 * - Unsent bytes per stream are counted; past the limit the stream is dropped (slow reader).
 * - TCP keepalive on every stream socket, so a peer gone without FIN is detected.
 * - On shutdown streams end without `event: complete`, so clients reconnect elsewhere.
 */
export interface SseOptions {
  heartbeatMs: number;
  bufferLimitBytes: number;
  tcpKeepAliveMs: number;
  log: Logger;
}

const encoder = new TextEncoder();

class SseConnection {
  private queue: Uint8Array[] = [];
  queuedBytes = 0;
  private controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  /** The reader asked for data that has not been given yet. */
  private demand = false;
  private ending = false;
  private droppedError: Error | undefined;
  released = false;
  iterator: AsyncIterator<ExecutionResult> | undefined;
  /** The client's socket (absent in process, e.g. `yoga.fetch`): destroyed when the stream is dropped. */
  socket: Socket | undefined;

  constructor(
    private readonly registry: SseRegistry,
    private readonly limit: number,
  ) {}

  /**
   * The response body. Pull-based with no internal buffer (highWaterMark 0): data is handed over
   * only when the socket side asks for it, so `queuedBytes` is exactly what is waiting for a slow
   * reader. `pull` never blocks, so a cancelled stream is released at once.
   */
  body(ReadableStreamCtor: typeof ReadableStream) {
    return new ReadableStreamCtor<Uint8Array>(
      {
        pull: (controller) => {
          this.controller = controller;
          this.demand = true;
          this.flush();
        },
        cancel: () => {
          this.release();
        },
      },
      { highWaterMark: 0 },
    );
  }

  write(text: string) {
    if (this.released || this.ending) return;
    const chunk = encoder.encode(text);
    this.queue.push(chunk);
    this.queuedBytes += chunk.byteLength;
    if (this.queuedBytes > this.limit) {
      this.registry.counters.droppedSlow++;
      this.drop(new Error(`slow reader: more than ${this.limit} bytes unsent`));
      return;
    }
    this.flush();
  }

  private flush() {
    const controller = this.controller;
    if (!this.demand || !controller || this.released) return;
    try {
      if (this.queue.length > 0) {
        const chunks = this.queue;
        const size = this.queuedBytes;
        this.queue = [];
        this.queuedBytes = 0;
        this.demand = false;
        controller.enqueue(chunks.length === 1 ? chunks[0]! : concat(chunks, size));
      } else if (this.ending) {
        this.demand = false;
        this.released = true;
        if (this.droppedError) controller.error(this.droppedError);
        else controller.close();
      }
    } catch {
      this.release();
    }
  }

  /** Ends the response after what is queued. */
  end() {
    this.ending = true;
    this.releaseIterator();
    this.registry.delete(this);
    this.flush();
  }

  /**
   * Drops the connection now, discarding what is queued, and destroys its socket: the body's error
   * alone never closed it (a reader that stopped reading never asks for more, so the error is not
   * even seen; when it is, the HTTP layer only logs it), so a dropped slow reader's connection stayed
   * open, with what the kernel buffered for it, for as long as the client kept it.
   */
  drop(error: Error) {
    this.queue = [];
    this.queuedBytes = 0;
    this.droppedError = error;
    this.ending = true;
    this.releaseIterator();
    this.registry.delete(this);
    this.flush();
    this.socket?.destroy();
  }

  release() {
    if (this.released) return;
    this.released = true;
    this.queue = [];
    this.queuedBytes = 0;
    this.releaseIterator();
    this.registry.delete(this);
  }

  private releaseIterator() {
    const it = this.iterator;
    this.iterator = undefined;
    void it?.return?.();
  }
}

function concat(chunks: Uint8Array[], size: number) {
  const out = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

/** Serialises one result as an SSE `next` event, with the cursor as its id when it has one. */
export function formatNext(result: ExecutionResult): string {
  const cursor = (result.extensions as { cursor?: unknown } | undefined)?.cursor;
  const id = typeof cursor === 'string' ? `id: ${cursor}\n` : '';
  return `${id}event: next\ndata: ${JSON.stringify(result)}\n\n`;
}

/** The set of open SSE streams of this instance, with the shared heartbeat. */
export class SseRegistry {
  private readonly connections = new Set<SseConnection>();
  private readonly timer: NodeJS.Timeout;
  readonly counters = { opened: 0, droppedSlow: 0 };

  constructor(private readonly options: SseOptions) {
    this.timer = setInterval(() => this.heartbeat(), options.heartbeatMs);
    this.timer.unref();
  }

  delete(connection: SseConnection) {
    this.connections.delete(connection);
  }

  stats() {
    let bufferedBytes = 0;
    for (const c of this.connections) bufferedBytes += c.queuedBytes;
    return { sseStreams: this.connections.size, bufferedBytes, ...this.counters };
  }

  private heartbeat() {
    for (const c of this.connections) if (c.queuedBytes === 0) c.write(':\n\n');
  }

  /** Ends every stream without `complete`: clients reconnect (graceful shutdown). */
  closeAll() {
    clearInterval(this.timer);
    for (const c of [...this.connections]) c.end();
  }

  /** Builds the SSE response for a result (a stream of results for subscriptions). */
  respond(
    result: unknown,
    fetchAPI: { ReadableStream: typeof ReadableStream; Response: typeof Response },
    req?: IncomingMessage,
  ): Response {
    const connection = new SseConnection(this, this.options.bufferLimitBytes);
    this.connections.add(connection);
    this.counters.opened++;
    const socket = req?.socket;
    connection.socket = socket;
    if (socket && this.options.tcpKeepAliveMs > 0) {
      socket.setKeepAlive(true, this.options.tcpKeepAliveMs);
      socket.setTimeout(0);
    }
    connection.write(':\n\n');
    if (isAsyncIterable(result)) {
      const iterator = result[Symbol.asyncIterator]() as AsyncIterator<ExecutionResult>;
      connection.iterator = iterator;
      void (async () => {
        try {
          for (;;) {
            const next = await iterator.next();
            if (connection.released || connection.iterator === undefined) return;
            if (next.done) break;
            connection.write(formatNext(next.value));
          }
          connection.write('event: complete\ndata:\n\n');
          connection.end();
        } catch (error) {
          this.options.log.warn({ err: (error as Error).message }, 'sse stream failed');
          connection.drop(error as Error);
        }
      })();
    } else {
      for (const r of Array.isArray(result) ? result : [result]) connection.write(formatNext(r as ExecutionResult));
      connection.write('event: complete\ndata:\n\n');
      connection.end();
    }
    return new fetchAPI.Response(connection.body(fetchAPI.ReadableStream), {
      status: 200,
      headers: {
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-cache, no-transform',
        Connection: 'keep-alive',
        'X-Accel-Buffering': 'no',
      },
    });
  }
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}

/** Yoga plugin: route `text/event-stream` results through the registry. */
export function useHeraldSse(registry: SseRegistry): Plugin {
  return {
    onResultProcess({ request, acceptableMediaTypes, setResultProcessor, serverContext }) {
      // Only when the client asked for SSE explicitly (`*/*` keeps Yoga's JSON).
      if (!acceptableMediaTypes.includes('text/event-stream') || !request.headers.get('accept')?.includes('text/event-stream')) return;
      const req = (serverContext as { req?: IncomingMessage }).req;
      setResultProcessor((result, fetchAPI) => registry.respond(result, fetchAPI as never, req), 'text/event-stream');
    },
  };
}

/**
 * Runs subscriptions so that each result carries its event's cursor in `extensions.cursor` (the
 * SSE id, and what the graphql-sse client helper resumes from), and so that an error raised by a
 * stream (expired token, expired cursor) reaches the client as a final result with its code.
 */
export function useCursorSubscriptions(): Plugin {
  return {
    onSubscribe({ setSubscribeFn }) {
      setSubscribeFn(async (args: ExecutionArgs) => {
        const source = await createSourceEventStream(args);
        if (!isAsyncIterable(source)) return source as ExecutionResult;
        return mapSource(source as AsyncIterable<unknown>, args);
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
      const payload = item.value as { cursor?: string };
      const result = (await execute({ ...args, rootValue: payload })) as ExecutionResult;
      if (typeof payload?.cursor === 'string') result.extensions = { ...result.extensions, cursor: payload.cursor };
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
