import { encodeCursor } from '../domain/cursor.ts';
import { type ChangeKind, fromWire, type InboxMessage } from '../domain/messages.ts';
import type { NotificationRecord } from '../domain/model.ts';
import { ErrorCode, heraldError } from '../errors.ts';
import { isNewerVersion, judgePosition } from './sequencer.ts';

/** One event on a user's stream, in the order the client must see it. */
export type StreamEvent =
  | { type: 'added'; cursor: string; notification: NotificationRecord }
  | {
      type: 'changed';
      cursor: string;
      change: ChangeKind;
      notificationId: string;
      readAt: Date | null;
      seenAt: Date | null;
      archivedAt: Date | null;
    }
  | { type: 'unread'; unreadCount: number; unseenCount: number };

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

/** What a stream needs from the hub that holds it. */
export interface StreamOwner {
  /** Events queued for one stream beyond which it is ended (its consumer is not keeping up). */
  readonly maxQueuedEvents: number;
  /** The stream ended: forget it. */
  detach(stream: Stream): void;
}

/** Rows per database read when a stream replays or fills a gap; also its backpressure mark. */
export const REPLAY_PAGE = 500;

/**
 * A live stream for one subscription. It is an async iterator of StreamEvents and guarantees,
 * per user: positions strictly increasing, no gap, no duplicate. Live messages come from the bus;
 * whenever one is missing (bus reordering, a lost publish, a Redis reconnect) the stream reads the
 * missing positions from the database, which is the source of truth.
 */
export class Stream implements HubStream {
  lastSeq = 0;
  lastVersion = 0;
  /** The last unseen count sent (kept for messages of instances that predate it, which carry none). */
  lastUnseen = 0;
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
    readonly owner: StreamOwner,
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
    if (this.queue.length > this.owner.maxQueuedEvents) {
      this.fail(
        heraldError(ErrorCode.SERVICE_UNAVAILABLE, 'The stream fell too far behind and was closed; resume from your last cursor', {
          retriable: true,
        }),
      );
    }
  }

  /**
   * Applies a live message (the sequencer judges each position and the version); returns true
   * when positions are missing, so the caller reads them from the database.
   */
  apply(message: InboxMessage): boolean {
    let gap = false;
    const added = message.added;
    if (added) {
      for (const wire of added) {
        const verdict = judgePosition(this.lastSeq, wire.seq);
        if (verdict === 'duplicate') continue;
        if (verdict === 'gap') {
          gap = true;
          break;
        }
        this.lastSeq = wire.seq;
        this.push({ type: 'added', cursor: encodeCursor(wire.seq), notification: fromWire(wire) });
      }
    }
    if (isNewerVersion(this.lastVersion, message.v)) {
      this.lastVersion = message.v;
      if (this.kind === 'inbox') {
        const changed = message.changed;
        if (changed) {
          for (const item of changed.items) {
            this.push({
              type: 'changed',
              cursor: encodeCursor(item.seq),
              change: changed.change,
              notificationId: item.id,
              readAt: item.readAt ? new Date(item.readAt) : null,
              seenAt: item.seenAt ? new Date(item.seenAt) : item.readAt ? new Date(item.readAt) : null,
              archivedAt: item.archivedAt ? new Date(item.archivedAt) : null,
            });
          }
        }
        this.pushCounts(message.unread, message.unseen ?? this.lastUnseen);
      }
    }
    return gap;
  }

  /** The exact counts after the events before them. */
  pushCounts(unreadCount: number, unseenCount: number) {
    this.lastUnseen = unseenCount;
    this.push({ type: 'unread', unreadCount, unseenCount });
  }

  /** Delivers a notification read from the database, unless this stream delivered it already. */
  deliverStored(n: NotificationRecord) {
    if (judgePosition(this.lastSeq, n.seq) === 'duplicate') return;
    this.lastSeq = n.seq;
    this.push({ type: 'added', cursor: encodeCursor(n.seq), notification: n });
  }

  /** Resolves once the consumer has taken most of the queue (backpressure for long replays). */
  whenDrained(): Promise<void> {
    if (this.sink && !this.closed) return this.sink.drained();
    if (this.queue.length < REPLAY_PAGE || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.drainWaiter = resolve;
    });
  }

  next(): Promise<IteratorResult<StreamEvent>> {
    const value = this.queue.shift();
    if (this.drainWaiter && this.queue.length < REPLAY_PAGE / 2) {
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
    this.owner.detach(this);
  }
}
