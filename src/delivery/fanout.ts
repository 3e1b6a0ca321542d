import type { InboxMessage } from '../domain/messages.ts';

/** One commit's messages for many users, as the bus hands them over. */
export type FanoutEntries = readonly (readonly [string, InboxMessage])[];

/** Users handed a fan-out message per tick. */
export const FANOUT_CHUNK = 500;

/**
 * Hands bus messages to the local streams in bus order, a fan-out FANOUT_CHUNK users at a time.
 * Each chunk's SSE writes are flushed (Node uncorks every response in the next tick) before the
 * next chunk is written, so no more than a chunk of frames waits in memory: written all at once,
 * 10,000 frames were still referenced at every young GC of the fan-out, and copying them cost
 * more than the writes. The next chunk is a `process.nextTick` queued behind those flushes; bus
 * messages that arrive meanwhile (several can come in one read from Redis) are held until the
 * fan-out is done, so every stream still sees its messages in bus order. A message that is not
 * held costs no allocation here.
 */
export class FanoutScheduler<Entry> {
  /** What arrived while a fan-out is handed out, in arrival order. */
  private held: (() => void)[] | undefined;

  constructor(
    /** The local recipient of a user id, if any (a fan-out names users of every instance). */
    private readonly lookup: (userId: string) => Entry | undefined,
    private readonly dispatch: (entry: Entry, message: InboxMessage) => void,
    private readonly chunk = FANOUT_CHUNK,
  ) {}

  /** A message on one user's channel. */
  message(entry: Entry, message: InboxMessage) {
    if (this.held) this.held.push(() => this.message(entry, message));
    else this.dispatch(entry, message);
  }

  /** A fan-out: many users' messages of one commit. */
  fanout(entries: FanoutEntries) {
    if (this.held) this.held.push(() => this.fanout(entries));
    else this.handOut(entries, 0);
  }

  private handOut(entries: FanoutEntries, from: number) {
    const end = Math.min(from + this.chunk, entries.length);
    for (let i = from; i < end; i++) {
      const item = entries[i];
      if (!item) continue;
      const entry = this.lookup(item[0]);
      if (entry !== undefined) this.dispatch(entry, item[1]);
    }
    if (end < entries.length) {
      this.held ??= [];
      process.nextTick(() => this.handOut(entries, end));
      return;
    }
    // Done: what waited goes in order (behind another chunked fan-out among it, the rest waits again).
    const held = this.held ?? [];
    this.held = undefined;
    for (const deliver of held) deliver();
  }
}
