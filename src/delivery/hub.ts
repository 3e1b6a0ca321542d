import type { Sql } from '../db/index.ts';
import type { InboxMessage } from '../domain/messages.ts';
import { type CountView, countViews } from '../domain/views.ts';
import { ErrorCode, heraldError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { readCountRows } from '../store/inbox-count.ts';
import { readInboxState } from '../store/inbox-state.ts';
import type { Bus } from './bus.ts';
import { CatchUp } from './catchup.ts';
import { FanoutScheduler } from './fanout.ts';
import { judgeResume } from './sequencer.ts';
import { type HubStream, Stream, type StreamKind } from './stream.ts';

export type { HubStream, StreamEvent, StreamKind, StreamSink } from './stream.ts';

export interface OpenStreamOptions {
  userId: string;
  kind: StreamKind;
  /** Resume after this position; absent means "from now". */
  after?: number | undefined;
  /** Epoch ms when the caller's credentials expire: the stream then ends with UNAUTHENTICATED. */
  expiresAt?: number | undefined;
  /** inboxEvents(views): the views whose counts the stream pushes (validated). */
  views?: readonly CountView[] | undefined;
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
  private readonly catchup: CatchUp;
  /** Bus order, and fan-outs handed out in chunks. */
  private readonly scheduler = new FanoutScheduler<UserEntry>(
    (userId) => this.users.get(userId),
    (entry, message) => this.dispatch(entry, message),
  );
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
    this.bus.onFanout((entries) => this.scheduler.fanout(entries));
    this.catchup = new CatchUp({
      sql: options.sql,
      log: options.log,
      intervalMs: options.catchupIntervalMs,
      counters: this.counters,
      hasUsers: () => this.users.size > 0,
      userIds: () => [...this.users.keys()],
      streamsOf: (userId) => this.users.get(userId)?.streams,
      closing: () => this.closing,
    });
    this.sweepTimer = setInterval(() => void this.catchup.sweep(), options.catchupIntervalMs);
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
   * database holds after that position (inboxEvents: every change, coalesced; then the counts),
   * then goes live, with no gap and no duplicate.
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
    if (options.kind === 'inbox' && options.views !== undefined && options.views.length > 0) stream.views = options.views;
    stream.catchingUp = true; // buffer live messages until the replay is done
    if (!entry) {
      const created: UserEntry = { streams: new Set(), subscribed: Promise.resolve(() => {}) };
      created.subscribed = this.bus.subscribe(userId, (m) => this.scheduler.message(created, m));
      entry = created;
      this.users.set(userId, entry);
    }
    entry.streams.add(stream);
    this.counters.opened++;
    try {
      await entry.subscribed;
      const state = await readInboxState(this.sql, userId);
      if (options.after !== undefined) {
        const verdict = judgeResume(options.after, state);
        if (verdict !== 'ok') {
          throw heraldError(
            ErrorCode.CURSOR_EXPIRED,
            verdict === 'unknown'
              ? 'Unknown cursor: refetch the inbox and subscribe with its streamCursor'
              : 'The cursor is older than the retention window: refetch the inbox and subscribe with its streamCursor',
          );
        }
        stream.lastSeq = options.after;
      } else {
        stream.lastSeq = state.lastSeq;
      }
      // The first read (a replay from `after`, or nothing) ends with the counts of its snapshot.
      stream.countsDue = options.kind === 'inbox';
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
    void this.catchup.run(stream);
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

  /**
   * Reads the stream's views' counts and offers them to it at the position they were read at.
   * Bus messages carry the two badges, not every view's counts, so a stream with views reads
   * them (one primary-key range of inbox_count, whatever the number of views) after each message;
   * one read per stream at a time, and one more after it if messages came meanwhile, so a burst
   * costs two reads, not one per message.
   */
  readViewCounts(stream: Stream) {
    if (stream.views === undefined || stream.closed) return;
    if (stream.viewRead !== 'idle') {
      stream.viewRead = 'again';
      return;
    }
    stream.viewRead = 'reading';
    void this.readViews(stream, stream.views);
  }

  private async readViews(stream: Stream, views: readonly CountView[]) {
    for (let attempt = 0; ; ) {
      try {
        const snapshot = await readCountRows(this.sql, stream.userId);
        stream.offerViewCounts(snapshot.lastSeq, countViews(views, snapshot.rows));
        attempt = 0;
      } catch (error) {
        // The database is unreachable: try again shortly (the stream's own catch-up retries likewise).
        this.log.warn({ err: (error as Error).message, userId: stream.userId }, 'view counts read failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, Math.min(250 * 2 ** attempt++, 5_000)).unref());
        stream.viewRead = 'again';
      }
      if (stream.closed || stream.viewRead !== 'again') break;
      stream.viewRead = 'reading';
    }
    stream.viewRead = 'idle';
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

  /**
   * Ends every stream of the user here with USER_ERASED (eraseUser): a final error event, so a
   * client learns why instead of reconnecting to an inbox it still believes in; its cursors are
   * gone with the data (a resume gets CURSOR_EXPIRED), it refetches the now empty inbox.
   */
  closeUser(userId: string) {
    const entry = this.users.get(userId);
    if (entry) this.endErased(entry);
  }

  private endErased(entry: UserEntry) {
    const error = heraldError(ErrorCode.USER_ERASED, "The user's data was erased; refetch the inbox before subscribing again");
    for (const s of [...entry.streams]) s.fail(error);
  }

  private dispatch(entry: UserEntry, message: InboxMessage) {
    if (message.erased) {
      this.endErased(entry);
      return;
    }
    for (const stream of entry.streams) {
      if (stream.catchingUp) {
        stream.pendingLive ??= [];
        stream.pendingLive.push(message);
      } else if (stream.apply(message)) void this.catchup.run(stream);
    }
  }

  /** Re-checks every open stream against the database (after a bus reconnect). */
  catchUpAll(reason: string) {
    this.log.debug({ reason, users: this.users.size }, 'catching up all streams');
    for (const entry of this.users.values()) {
      for (const s of entry.streams) void this.catchup.run(s);
    }
  }
}
