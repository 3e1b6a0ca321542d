import type { Sql } from '../db/index.ts';
import type { Logger } from '../logger.ts';
import type { InboxState } from '../store/inbox-state.ts';
import { readLastSeqs } from '../store/inbox-state.ts';
import { additionsAfter, changesAfter } from '../store/notifications.ts';
import { inPacedChunks } from './paced.ts';
import { isNewerVersion } from './sequencer.ts';
import { REPLAY_PAGE, type Stream } from './stream.ts';

export interface CatchUpOptions {
  sql: Sql;
  log: Logger;
  /** CATCHUP_INTERVAL_MS: the sweep spreads its reads over half of it. */
  intervalMs: number;
  /** The hub's counters, for /stats and tests. */
  counters: { catchUps: number; gapFills: number };
  hasUsers(): boolean;
  /** Users with open streams here. */
  userIds(): string[];
  streamsOf(userId: string): Iterable<Stream> | undefined;
  /** The hub is shutting down: the sweep stops. */
  closing(): boolean;
}

/**
 * Reads from the database what a stream missed: after it opens (the replay from its cursor), after
 * a gap the sequencer found, after a bus reconnect, and for the periodic safety net (the sweep).
 * Live messages that arrive meanwhile wait in the stream and are applied after the read, so the
 * stream sees every position once, in order.
 */
export class CatchUp {
  private sweeping = false;

  constructor(private readonly options: CatchUpOptions) {}

  /** Reads everything after the stream's position from the database, then drains buffered live messages. */
  async run(stream: Stream, attempt = 0): Promise<void> {
    if (stream.closed) return;
    if (stream.catchingUp) {
      stream.again = true;
      return;
    }
    stream.catchingUp = true;
    this.options.counters.catchUps++;
    try {
      for (;;) {
        stream.again = false;
        await this.readMissing(stream);
        let gap = false;
        while (!gap && stream.pendingLive?.length && !stream.closed) {
          const next = stream.pendingLive.shift();
          if (next) gap = stream.apply(next);
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
      this.options.log.warn({ err: (error as Error).message, userId: stream.userId, delay }, 'catch-up failed; retrying');
      stream.catchingUp = true; // keep buffering live messages until the retry
      stream.retryTimer = setTimeout(() => {
        stream.catchingUp = false;
        void this.run(stream, attempt + 1);
      }, delay);
      stream.retryTimer.unref();
    }
  }

  /**
   * Reads what the stream misses, up to the head of the log in the snapshot of the first read,
   * and moves the stream there. inboxEvents: every change after the stream's position, coalesced
   * (each notification once, in its latest state; deletions), then the counts of that snapshot.
   * notificationAdded: the additions after it. Live messages up to the head are then duplicates.
   */
  private async readMissing(stream: Stream) {
    const since = stream.lastSeq;
    let after = since;
    let head: InboxState | undefined;
    for (;;) {
      const q = { after, bound: head?.lastSeq, limit: REPLAY_PAGE };
      if (stream.kind === 'inbox') {
        const page = await changesAfter(this.options.sql, stream.userId, { ...q, since });
        head ??= page.head;
        if (page.items.length > 0) this.options.counters.gapFills++;
        for (const entry of page.items) {
          if (stream.closed) return;
          if (entry.kind === 'notification') stream.deliverLatest(entry.notification, entry.pos, since);
          else stream.deliverDeleted(entry.id, entry.pos);
          after = entry.pos;
        }
        if (!page.more) break;
      } else {
        const page = await additionsAfter(this.options.sql, stream.userId, q);
        head ??= page.head;
        if (page.items.length > 0) this.options.counters.gapFills++;
        for (const n of page.items) {
          if (stream.closed) return;
          stream.deliverStored(n);
          after = n.seq;
        }
        if (!page.more) break;
      }
      await stream.whenDrained();
    }
    if (stream.closed) return;
    // A stream never moves back (a database behind the bus cannot happen: messages are published after commit).
    if (head.lastSeq > stream.lastSeq) stream.lastSeq = head.lastSeq;
    const newer = isNewerVersion(stream.lastVersion, head.version);
    if (newer) stream.lastVersion = head.version;
    if (stream.kind === 'inbox' && (newer || stream.countsDue)) {
      stream.countsDue = false;
      stream.pushCounts(head.unreadCount, head.unseenCount);
    }
    stream.viewsMoved();
  }

  /** The safety net: one query for all local users; streams behind the database catch up. */
  async sweep() {
    if (!this.options.hasUsers() || this.sweeping) return;
    this.sweeping = true;
    try {
      // In small chunks spread over half the interval (see inPacedChunks).
      await inPacedChunks(this.options.userIds(), { size: 250, spreadMs: this.options.intervalMs / 2 }, async (ids) => {
        if (this.options.closing()) return;
        for (const { userId, lastSeq } of await readLastSeqs(this.options.sql, ids)) {
          for (const s of this.options.streamsOf(userId) ?? []) {
            if (lastSeq > s.lastSeq && !s.catchingUp) void this.run(s);
          }
        }
      });
    } catch (error) {
      this.options.log.warn({ err: (error as Error).message }, 'catch-up sweep failed');
    } finally {
      this.sweeping = false;
    }
  }
}
