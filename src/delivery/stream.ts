import { encodeCursor } from '../domain/cursor.ts';
import { type ChangeKind, fromWire, type InboxMessage, type WireChange, type WireNotification } from '../domain/messages.ts';
import type { NotificationRecord } from '../domain/model.ts';
import { type CountView, sameViewCounts, type ViewCounts } from '../domain/views.ts';
import { ErrorCode, heraldError } from '../errors.ts';
import { isNewerVersion, judgePosition, judgeRange } from './sequencer.ts';

/**
 * One event on a user's stream, in the order the client must see it. `cursor` is the event's
 * position in the user's log (for the counts: the position they are exact at), the SSE `id:`.
 */
export type StreamEvent =
  | { type: 'added'; cursor: string; notification: NotificationRecord }
  | { type: 'updated'; cursor: string; notification: NotificationRecord }
  | {
      type: 'changed';
      cursor: string;
      change: ChangeKind;
      notificationId: string;
      readAt: Date | null;
      seenAt: Date | null;
      archivedAt: Date | null;
    }
  | { type: 'unread'; cursor: string; unreadCount: number; unseenCount: number }
  | { type: 'counts'; cursor: string; counts: ViewCounts[] };

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
  /** The stream's views may have new counts: read them (coalesced) and offer them back (offerViewCounts). */
  readViewCounts(stream: Stream): void;
}

const NONE: readonly WireNotification[] = [];
const NO_CHANGES: readonly WireChange[] = [];
const positionOf = (n: WireNotification) => n.changeSeq ?? n.seq;

/** Rows per database read when a stream replays or fills a gap; also its backpressure mark. */
export const REPLAY_PAGE = 500;

/**
 * A live stream for one subscription. It is an async iterator of StreamEvents and guarantees,
 * per user: positions strictly increasing, no gap, no duplicate. `lastSeq` is the position of the
 * user's log the stream has reached (every transaction up to it applied). Live messages come from
 * the bus; whenever one is missing (bus reordering, a lost publish, a Redis reconnect) the stream
 * reads the missing positions from the database, which is the source of truth.
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
  /** Send the counts after the next database read even if their version did not move (a new stream). */
  countsDue = false;
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

  /** The views whose counts the stream pushes (inboxEvents(views)); undefined: none. */
  views: readonly CountView[] | undefined;
  /** The views' counts last sent, to send only what moved. */
  private viewCounts: ViewCounts[] | undefined;
  /** Counts read at a position the stream has not reached yet (the bus message is on its way). */
  private viewsAhead: { pos: number; counts: ViewCounts[] } | undefined;
  /** A view read is under way, and whether another is wanted after it (hub's business). */
  viewRead: 'idle' | 'reading' | 'again' = 'idle';

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
   * Applies a live message (the sequencer judges its positions, and the version for the counts);
   * returns true when positions are missing, so the caller reads them from the database.
   */
  apply(message: InboxMessage): boolean {
    const range = message.p;
    if (range === undefined) return this.applyUnpositioned(message);
    const verdict = judgeRange(this.lastSeq, range[0], range[1]);
    if (verdict === 'gap') return true;
    if (verdict === 'duplicate') return false;
    this.lastSeq = range[1];
    this.pushInOrder(message);
    if (isNewerVersion(this.lastVersion, message.v)) {
      this.lastVersion = message.v;
      if (this.kind === 'inbox') this.pushCounts(message.unread, message.unseen ?? this.lastUnseen);
    }
    this.viewsMoved();
    return false;
  }

  /**
   * The stream reached a new position (or its counts may have moved): counts read ahead of it at
   * exactly this position go out now, after the events up to it; a new read is asked for, since the
   * message does not carry the views' counts.
   */
  viewsMoved() {
    if (this.views === undefined) return;
    const ahead = this.viewsAhead;
    if (ahead !== undefined && ahead.pos <= this.lastSeq) {
      this.viewsAhead = undefined;
      if (ahead.pos === this.lastSeq) this.pushViewCounts(ahead.counts);
    }
    this.owner.readViewCounts(this);
  }

  /**
   * The views' counts as read at position `pos` (one snapshot). Each goes out at its own position,
   * after every event up to it and before any after it: now if the stream is there (and not in the
   * middle of a database read, whose events run ahead of `lastSeq`), when it gets there if it is
   * behind, never if it is past (a later read follows).
   */
  offerViewCounts(pos: number, counts: ViewCounts[]) {
    if (this.closed) return;
    if (pos === this.lastSeq && !this.catchingUp) {
      this.pushViewCounts(counts);
    } else if (pos > this.lastSeq || (pos === this.lastSeq && this.catchingUp)) {
      if (this.viewsAhead === undefined || this.viewsAhead.pos <= pos) this.viewsAhead = { pos, counts };
    }
  }

  /** The views' counts at the stream's position, when they moved (always the first time). */
  private pushViewCounts(counts: ViewCounts[]) {
    if (sameViewCounts(this.viewCounts, counts)) return;
    this.viewCounts = counts;
    this.push({ type: 'counts', cursor: encodeCursor(this.lastSeq), counts });
  }

  /** A message's events in position order: additions, updates and changes of one transaction. */
  private pushInOrder(message: InboxMessage) {
    const added = message.added ?? NONE;
    if (this.kind === 'added') {
      for (const n of added) this.push({ type: 'added', cursor: encodeCursor(n.seq), notification: fromWire(n) });
      return;
    }
    const updated = message.updated ?? NONE;
    const changed = message.changed;
    const items = changed?.items ?? NO_CHANGES;
    // Usually one kind per message (an emit adds and updates, a mutation changes): a merge by position.
    let a = 0;
    let u = 0;
    let c = 0;
    for (;;) {
      const n = added[a];
      const m = updated[u];
      const item = items[c];
      const pa = n === undefined ? Number.POSITIVE_INFINITY : n.seq;
      const pu = m === undefined ? Number.POSITIVE_INFINITY : positionOf(m);
      const pc = item === undefined ? Number.POSITIVE_INFINITY : (item.pos ?? this.lastSeq);
      if (n !== undefined && pa <= pu && pa <= pc) {
        a++;
        this.push({ type: 'added', cursor: encodeCursor(pa), notification: fromWire(n) });
      } else if (m !== undefined && pu <= pc) {
        u++;
        this.push({ type: 'updated', cursor: encodeCursor(pu), notification: fromWire(m) });
      } else if (item !== undefined && changed !== undefined) {
        c++;
        this.pushChange(changed.change, item, pc);
      } else {
        return;
      }
    }
  }

  private pushChange(change: ChangeKind, item: WireChange, pos: number) {
    this.push({
      type: 'changed',
      cursor: encodeCursor(pos),
      change,
      notificationId: item.id,
      readAt: item.readAt ? new Date(item.readAt) : null,
      seenAt: item.seenAt ? new Date(item.seenAt) : item.readAt ? new Date(item.readAt) : null,
      archivedAt: item.archivedAt ? new Date(item.archivedAt) : null,
    });
  }

  /**
   * A message without positions: retention's count changes, or an instance of the release before
   * the log (a rolling upgrade), whose additions have positions of their own and whose changes
   * took none (they are live only; a replay does not know them).
   */
  private applyUnpositioned(message: InboxMessage): boolean {
    let gap = false;
    for (const wire of message.added ?? NONE) {
      const verdict = judgePosition(this.lastSeq, wire.seq);
      if (verdict === 'duplicate') continue;
      if (verdict === 'gap') {
        gap = true;
        break;
      }
      this.lastSeq = wire.seq;
      this.push({ type: 'added', cursor: encodeCursor(wire.seq), notification: fromWire(wire) });
    }
    if (isNewerVersion(this.lastVersion, message.v)) {
      this.lastVersion = message.v;
      if (this.kind === 'inbox') {
        const changed = message.changed;
        if (changed) for (const item of changed.items) this.pushChange(changed.change, item, this.lastSeq);
        this.pushCounts(message.unread, message.unseen ?? this.lastUnseen);
      }
    }
    // Retention's count changes take no position: the views' counts at this one moved.
    if (!gap) this.viewsMoved();
    return gap;
  }

  /** The exact counts after the events before them, at the stream's position. */
  pushCounts(unreadCount: number, unseenCount: number) {
    this.lastUnseen = unseenCount;
    this.push({ type: 'unread', cursor: encodeCursor(this.lastSeq), unreadCount, unseenCount });
  }

  /** An addition read from the database (notificationAdded's replay), at its own position. */
  deliverStored(n: NotificationRecord) {
    this.push({ type: 'added', cursor: encodeCursor(n.seq), notification: n });
  }

  /**
   * A notification read from the log after `since` (the stream's position when the read began),
   * in its latest state, at the position of its latest change: an addition when it was added
   * after `since` (the client never had it), else an update (whatever changed: its content, read,
   * seen, archived: the client replaces what it holds).
   */
  deliverLatest(n: NotificationRecord, pos: number, since: number) {
    this.push({ type: n.seq > since ? 'added' : 'updated', cursor: encodeCursor(pos), notification: n });
  }

  /** A deletion read from the log. */
  deliverDeleted(id: string, pos: number) {
    this.push({
      type: 'changed',
      cursor: encodeCursor(pos),
      change: 'DELETED',
      notificationId: id,
      readAt: null,
      seenAt: null,
      archivedAt: null,
    });
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
