import type { Sql } from '../db/index.ts';
import { encodeCursor } from '../domain/cursor.ts';
import { type ChangeKind, fromWire, type InboxMessage } from '../domain/messages.ts';
import { fromRow, NOTIFICATION_COLUMNS, type NotificationRecord, type NotificationRow } from '../domain/model.ts';
import { ErrorCode, heraldError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { Bus } from './bus.ts';
import { inPacedChunks } from './paced.ts';

/** One event on a user's stream, in the order the client must see it. */
export type StreamEvent =
  | { type: 'added'; cursor: string; notification: NotificationRecord }
  | {
      type: 'changed';
      cursor: string;
      change: ChangeKind;
      notificationId: string;
      readAt: Date | null;
      archivedAt: Date | null;
    }
  | { type: 'unread'; unreadCount: number };

/**
 * A consumer that takes events as they happen (the SSE endpoint), instead of pulling them through
 * the async iterator: no promise per event, no per-stream queue.
 */
export interface StreamSink {
  event(event: StreamEvent): void;
  /** The stream ended (server shutdown): the client should reconnect. */
  end(): void;
  /** The stream failed with a client-facing error (expired token or cursor). */
  fail(error: unknown): void;
  /** Resolves when the consumer has room again (backpressure for long replays). */
  drained(): Promise<void>;
}

/** An open stream: pull it as an async iterator, or attach a sink to have events pushed. */
export interface HubStream extends AsyncIterableIterator<StreamEvent> {
  attach(sink: StreamSink): void;
}

/** `added`: notificationAdded (additions only). `inbox`: inboxEvents (additions, changes, counts). */
export type StreamKind = 'added' | 'inbox';

export interface OpenStreamOptions {
  userId: string;
  kind: StreamKind;
  /** Resume after this position; absent means "from now". */
  after?: number | undefined;
  /** Epoch ms when the caller's credentials expire: the stream then ends with UNAUTHENTICATED. */
  expiresAt?: number | undefined;
}

export interface HubOptions {
  sql: Sql;
  bus: Bus;
  log: Logger;
  maxStreamsPerUser: number;
  /** Safety net: re-check the database this often for anything the bus lost. */
  catchupIntervalMs: number;
  /** Events queued for one stream beyond which it is ended (its consumer is not keeping up). */
  maxQueuedEvents?: number;
}

interface InboxStateRow {
  last_seq: bigint | string;
  unread_count: number;
  version: bigint | string;
  pruned_through_seq: bigint | string;
}

const PAGE = 500;

/** Users handed a fan-out message per tick (see Hub.fanout). */
const FANOUT_CHUNK = 500;

/**
 * A live stream for one subscription. It is an async iterator of StreamEvents and guarantees,
 * per user: positions strictly increasing, no gap, no duplicate. Live messages come from the bus;
 * whenever one is missing (bus reordering, a lost publish, a Redis reconnect) the stream reads the
 * missing positions from the database, which is the source of truth.
 */
class Stream implements AsyncIterableIterator<StreamEvent> {
  lastSeq = 0;
  lastVersion = 0;
  /** Bus messages that arrived while the stream was reading the database. */
  pendingLive: InboxMessage[] | undefined;
  catchingUp = false;
  again = false;
  /** Re-read the unread count from the database on the next catch-up (after a bus outage). */
  refreshState = false;
  closed = false;
  private queue: StreamEvent[] = [];
  private sink: StreamSink | undefined;
  private waiter: ((r: IteratorResult<StreamEvent>) => void) | undefined;
  private failWaiter: ((e: unknown) => void) | undefined;
  private error: unknown;
  private drainWaiter: (() => void) | undefined;
  /** Epoch ms when the caller's credentials expire (checked by the hub's expiry timer). */
  expiresAt: number | undefined;
  retryTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly hub: Hub,
    readonly userId: string,
    readonly kind: StreamKind,
  ) {}

  [Symbol.asyncIterator]() {
    return this;
  }

  get queued() {
    return this.queue.length;
  }

  /** Switches to push mode: what is queued goes to the sink now, everything else as it happens. */
  attach(sink: StreamSink) {
    this.sink = sink;
    const queued = this.queue;
    this.queue = [];
    for (const event of queued) sink.event(event);
  }

  push(event: StreamEvent) {
    if (this.closed) return;
    if (this.sink) {
      this.sink.event(event);
      return;
    }
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      this.failWaiter = undefined;
      w({ value: event, done: false });
      return;
    }
    this.queue.push(event);
    if (this.queue.length > this.hub.maxQueuedEvents) {
      this.fail(
        heraldError(ErrorCode.SERVICE_UNAVAILABLE, 'The stream fell too far behind and was closed; resume from your last cursor', {
          retriable: true,
        }),
      );
    }
  }

  /** Resolves once the consumer has taken most of the queue (backpressure for long replays). */
  whenDrained(): Promise<void> {
    if (this.sink && !this.closed) return this.sink.drained();
    if (this.queue.length < PAGE || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.drainWaiter = resolve;
    });
  }

  next(): Promise<IteratorResult<StreamEvent>> {
    const value = this.queue.shift();
    if (this.drainWaiter && this.queue.length < PAGE / 2) {
      const d = this.drainWaiter;
      this.drainWaiter = undefined;
      d();
    }
    if (value) return Promise.resolve({ value, done: false });
    if (this.error) {
      const e = this.error;
      this.error = undefined;
      return Promise.reject(e);
    }
    if (this.closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiter = resolve;
      this.failWaiter = reject;
    });
  }

  /** Ends the stream with an error, delivered after what is already queued. */
  fail(error: unknown) {
    if (this.closed) return;
    this.release();
    if (this.sink) {
      this.sink.fail(error);
      return;
    }
    this.error = error;
    if (this.failWaiter) {
      const f = this.failWaiter;
      this.waiter = undefined;
      this.failWaiter = undefined;
      this.error = undefined;
      f(error);
    }
  }

  /** Ends the stream normally. */
  end() {
    if (this.closed) return;
    this.release();
    if (this.sink) {
      this.sink.end();
      return;
    }
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      this.failWaiter = undefined;
      w({ value: undefined, done: true });
    }
  }

  return(): Promise<IteratorResult<StreamEvent>> {
    this.queue.length = 0;
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  private release() {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.pendingLive = undefined;
    this.drainWaiter?.();
    this.hub.detach(this);
  }
}

interface UserEntry {
  streams: Set<Stream>;
  subscribed: Promise<() => void>;
}

/**
 * The instance's delivery hub: which users have open streams here, one bus subscription per such
 * user (shared by all their tabs), each bus message parsed once and fanned out to the streams.
 */
export class Hub {
  private readonly users = new Map<string, UserEntry>();
  private readonly sql: Sql;
  private readonly bus: Bus;
  private readonly log: Logger;
  private readonly maxStreamsPerUser: number;
  readonly maxQueuedEvents: number;
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly catchupIntervalMs: number;
  private sweeping = false;
  /** Bus messages that arrived while a fan-out is handed out in chunks (see fanout). */
  private held: (() => void)[] | undefined;
  /** One timer for all streams' credential expiry (a timer per stream cost memory per stream). */
  private readonly expiryTimer: NodeJS.Timeout;
  private closing = false;
  /** Counters for /stats and tests. */
  readonly counters = { opened: 0, closed: 0, catchUps: 0, gapFills: 0 };

  constructor(options: HubOptions) {
    this.sql = options.sql;
    this.bus = options.bus;
    this.log = options.log;
    this.maxStreamsPerUser = options.maxStreamsPerUser;
    this.maxQueuedEvents = options.maxQueuedEvents ?? 10_000;
    this.bus.onReconnect(() => this.catchUpAll('reconnect'));
    this.bus.onFanout((entries) => this.receive(() => this.fanout(entries, 0)));
    this.catchupIntervalMs = options.catchupIntervalMs;
    this.sweepTimer = setInterval(() => void this.sweep(), options.catchupIntervalMs);
    this.sweepTimer.unref();
    this.expiryTimer = setInterval(() => this.expireDue(), 1_000);
    this.expiryTimer.unref();
  }

  /** Open streams and users with a bus subscription on this instance. */
  stats() {
    let streams = 0;
    let queued = 0;
    for (const entry of this.users.values()) {
      streams += entry.streams.size;
      for (const s of entry.streams) queued += s.queued;
    }
    return { streams, users: this.users.size, queuedEvents: queued, ...this.counters };
  }

  /** Whether the user has at least one open stream here. */
  isOnline(userId: string): boolean {
    return this.users.has(userId);
  }

  /** User ids with at least one open stream here. */
  onlineUsers(): string[] {
    return [...this.users.keys()];
  }

  /**
   * Opens a stream: subscribes to the user's channel, then (with `after`) replays what the
   * database holds after that position, then goes live, with no gap and no duplicate.
   * Throws CURSOR_EXPIRED when `after` is unknown or older than retention.
   */
  async open(options: OpenStreamOptions): Promise<HubStream> {
    if (this.closing) throw heraldError(ErrorCode.SHUTTING_DOWN, 'The server is shutting down; reconnect', { retriable: true });
    const { userId } = options;
    let entry = this.users.get(userId);
    if (entry && entry.streams.size >= this.maxStreamsPerUser) {
      throw heraldError(
        ErrorCode.TOO_MANY_STREAMS,
        `At most ${this.maxStreamsPerUser} open streams per user; close another tab's stream first`,
        { limit: this.maxStreamsPerUser },
      );
    }
    const stream = new Stream(this, userId, options.kind);
    stream.catchingUp = true; // buffer live messages until the replay is done
    if (!entry) {
      const created: UserEntry = { streams: new Set(), subscribed: Promise.resolve(() => {}) };
      created.subscribed = this.bus.subscribe(userId, (m) => this.receive(() => this.dispatch(created, m)));
      entry = created;
      this.users.set(userId, entry);
    }
    entry.streams.add(stream);
    this.counters.opened++;
    try {
      await entry.subscribed;
      const state = await this.readState(userId);
      if (options.after !== undefined) {
        if (options.after > state.lastSeq || options.after < state.prunedThroughSeq) {
          throw heraldError(
            ErrorCode.CURSOR_EXPIRED,
            options.after > state.lastSeq
              ? 'Unknown cursor: refetch the inbox and subscribe with its streamCursor'
              : 'The cursor is older than the retention window: refetch the inbox and subscribe with its streamCursor',
          );
        }
        stream.lastSeq = options.after;
      } else {
        stream.lastSeq = state.lastSeq;
      }
      stream.lastVersion = state.version;
      if (options.kind === 'inbox') stream.push({ type: 'unread', unreadCount: state.unreadCount });
    } catch (error) {
      stream.return();
      throw error;
    }
    if (options.expiresAt !== undefined) {
      const ms = Math.max(0, options.expiresAt - Date.now());
      stream.expiresAt = options.expiresAt;
      if (ms === 0) this.expire(stream);
    }
    stream.catchingUp = false;
    void this.catchUp(stream);
    return stream;
  }

  /** Called by a stream when it ends: drops it, and the user's bus subscription with the last one. */
  detach(stream: Stream) {
    const entry = this.users.get(stream.userId);
    if (!entry?.streams.delete(stream)) return;
    this.counters.closed++;
    if (entry.streams.size === 0) {
      this.users.delete(stream.userId);
      entry.subscribed.then(
        (unsubscribe) => unsubscribe(),
        () => {},
      );
    }
  }

  /** Ends every stream (graceful shutdown): clients see the stream end without `complete`. */
  closeAll(error?: unknown) {
    this.closing = true;
    clearInterval(this.sweepTimer);
    clearInterval(this.expiryTimer);
    for (const entry of [...this.users.values()]) {
      for (const s of [...entry.streams]) error ? s.fail(error) : s.end();
    }
  }

  private expire(stream: Stream) {
    stream.fail(heraldError(ErrorCode.UNAUTHENTICATED, 'Token expired: reconnect with a fresh token and your last cursor'));
  }

  private expireDue() {
    const now = Date.now();
    for (const entry of this.users.values()) {
      for (const s of entry.streams) if (s.expiresAt !== undefined && s.expiresAt <= now) this.expire(s);
    }
  }

  /** Runs a bus message's delivery now, or after the fan-out being handed out (bus order is kept). */
  private receive(deliver: () => void) {
    if (this.held) this.held.push(deliver);
    else deliver();
  }

  /**
   * Hands a fan-out's messages to the local streams, FANOUT_CHUNK users at a time. Each chunk's
   * SSE writes are flushed (Node uncorks every response in the next tick) before the next chunk
   * is written, so no more than a chunk of frames waits in memory: written all at once, 10,000
   * frames were still referenced at every young GC of the fan-out, and copying them cost more
   * than the writes. The next chunk is a `process.nextTick` queued behind those flushes; bus
   * messages that arrive meanwhile (several can come in one read from Redis) are held until the
   * fan-out is done, so every stream still sees its messages in bus order.
   */
  private fanout(entries: readonly (readonly [string, InboxMessage])[], from: number) {
    const end = Math.min(from + FANOUT_CHUNK, entries.length);
    for (let i = from; i < end; i++) {
      const [userId, message] = entries[i]!;
      const entry = this.users.get(userId);
      if (entry) this.dispatch(entry, message);
    }
    if (end < entries.length) {
      this.held ??= [];
      process.nextTick(() => this.fanout(entries, end));
      return;
    }
    // Done: what waited is received in order (behind another chunked fan-out among it, the rest waits again).
    const held = this.held ?? [];
    this.held = undefined;
    for (const deliver of held) this.receive(deliver);
  }

  private dispatch(entry: UserEntry, message: InboxMessage) {
    for (const stream of entry.streams) {
      if (stream.catchingUp) {
        stream.pendingLive ??= [];
        stream.pendingLive.push(message);
      } else if (this.apply(stream, message)) void this.catchUp(stream);
    }
  }

  /** Applies a live message to a stream; returns true when positions are missing (read the database). */
  private apply(stream: Stream, message: InboxMessage): boolean {
    let gap = false;
    for (const wire of message.added ?? []) {
      if (wire.seq <= stream.lastSeq) continue;
      if (wire.seq !== stream.lastSeq + 1) {
        gap = true;
        break;
      }
      stream.lastSeq = wire.seq;
      stream.push({ type: 'added', cursor: encodeCursor(wire.seq), notification: fromWire(wire) });
    }
    if (message.v > stream.lastVersion) {
      stream.lastVersion = message.v;
      if (stream.kind === 'inbox') {
        for (const item of message.changed?.items ?? []) {
          stream.push({
            type: 'changed',
            cursor: encodeCursor(item.seq),
            change: message.changed!.change,
            notificationId: item.id,
            readAt: item.readAt ? new Date(item.readAt) : null,
            archivedAt: item.archivedAt ? new Date(item.archivedAt) : null,
          });
        }
        stream.push({ type: 'unread', unreadCount: message.unread });
      }
    }
    return gap;
  }

  /** Reads everything after the stream's position from the database, then drains buffered live messages. */
  private async catchUp(stream: Stream, attempt = 0): Promise<void> {
    if (stream.closed) return;
    if (stream.catchingUp) {
      stream.again = true;
      return;
    }
    stream.catchingUp = true;
    this.counters.catchUps++;
    try {
      for (;;) {
        stream.again = false;
        await this.readMissing(stream);
        let gap = false;
        while (!gap && stream.pendingLive?.length && !stream.closed) {
          gap = this.apply(stream, stream.pendingLive.shift()!);
        }
        if (stream.closed || (!gap && !stream.again)) break;
      }
      stream.catchingUp = false;
    } catch (error) {
      // The database is unreachable: keep the stream open and retry with backoff. Live messages
      // keep buffering meanwhile; nothing is skipped.
      stream.catchingUp = false;
      if (stream.closed) return;
      const delay = Math.min(250 * 2 ** attempt, 5_000);
      this.log.warn({ err: (error as Error).message, userId: stream.userId, delay }, 'catch-up failed; retrying');
      stream.catchingUp = true; // keep buffering live messages until the retry
      stream.retryTimer = setTimeout(() => {
        stream.catchingUp = false;
        void this.catchUp(stream, attempt + 1);
      }, delay);
      stream.retryTimer.unref();
    }
  }

  private async readMissing(stream: Stream) {
    for (;;) {
      const rows = await this.sql.query<NotificationRow>(
        `SELECT ${NOTIFICATION_COLUMNS} FROM notification WHERE recipient_id = $1 AND seq > $2 ORDER BY seq LIMIT ${PAGE}`,
        [stream.userId, stream.lastSeq],
      );
      if (rows.length > 0) this.counters.gapFills++;
      for (const row of rows) {
        if (stream.closed) return;
        const n = fromRow(row);
        if (n.seq <= stream.lastSeq) continue;
        stream.lastSeq = n.seq;
        stream.push({ type: 'added', cursor: encodeCursor(n.seq), notification: n });
      }
      if (rows.length < PAGE) break;
      await stream.whenDrained();
    }
    if (stream.kind === 'inbox' && stream.refreshState && !stream.closed) {
      stream.refreshState = false;
      const state = await this.readState(stream.userId);
      if (state.version > stream.lastVersion) {
        stream.lastVersion = state.version;
        stream.push({ type: 'unread', unreadCount: state.unreadCount });
      }
    }
  }

  private async readState(userId: string) {
    const rows = await this.sql.query<InboxStateRow>(
      'SELECT last_seq, unread_count, version, pruned_through_seq FROM inbox_state WHERE user_id = $1',
      [userId],
    );
    const row = rows[0];
    return {
      lastSeq: Number(row?.last_seq ?? 0),
      unreadCount: row?.unread_count ?? 0,
      version: Number(row?.version ?? 0),
      prunedThroughSeq: Number(row?.pruned_through_seq ?? 0),
    };
  }

  /** Re-checks every open stream against the database (after a bus reconnect). */
  catchUpAll(reason: string) {
    this.log.debug({ reason, users: this.users.size }, 'catching up all streams');
    for (const entry of this.users.values()) {
      for (const s of entry.streams) {
        s.refreshState = true;
        void this.catchUp(s);
      }
    }
  }

  /** The safety net: one query for all local users; streams behind the database catch up. */
  private async sweep() {
    if (this.users.size === 0 || this.sweeping) return;
    this.sweeping = true;
    try {
      // In small chunks spread over half the interval (see inPacedChunks).
      await inPacedChunks([...this.users.keys()], { size: 250, spreadMs: this.catchupIntervalMs / 2 }, async (ids) => {
        if (this.closing) return;
        const rows = await this.sql.query<{ user_id: string; last_seq: bigint | string }>(
          'SELECT user_id, last_seq FROM inbox_state WHERE user_id = ANY($1::text[])',
          [ids],
        );
        for (const row of rows) {
          const entry = this.users.get(row.user_id);
          for (const s of entry?.streams ?? []) {
            if (Number(row.last_seq) > s.lastSeq && !s.catchingUp) void this.catchUp(s);
          }
        }
      });
    } catch (error) {
      this.log.warn({ err: (error as Error).message }, 'catch-up sweep failed');
    } finally {
      this.sweeping = false;
    }
  }
}
