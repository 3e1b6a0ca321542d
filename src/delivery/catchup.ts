import type { Sql } from '../db/index.ts';
import type { Logger } from '../logger.ts';
import { readInboxState, readLastSeqs } from '../store/inbox-state.ts';
import { fromRow, notificationsAfter } from '../store/notifications.ts';
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

  private async readMissing(stream: Stream) {
    for (;;) {
      const rows = await notificationsAfter(this.options.sql, stream.userId, stream.lastSeq, REPLAY_PAGE);
      if (rows.length > 0) this.options.counters.gapFills++;
      for (const row of rows) {
        if (stream.closed) return;
        stream.deliverStored(fromRow(row));
      }
      if (rows.length < REPLAY_PAGE) break;
      await stream.whenDrained();
    }
    if (stream.kind === 'inbox' && stream.refreshState && !stream.closed) {
      stream.refreshState = false;
      const state = await readInboxState(this.options.sql, stream.userId);
      if (isNewerVersion(stream.lastVersion, state.version)) {
        stream.lastVersion = state.version;
        stream.pushCounts(state.unreadCount, state.unseenCount);
      }
    }
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
