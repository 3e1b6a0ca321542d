/**
 * A stream's results waiting for a consumer that is not keeping up (a slow socket), in order, with
 * updates of one notification coalesced: when an update in place of a notification is queued
 * while an earlier update of it is still waiting, the earlier one is dropped, so a slow client
 * receives the latest state instead of a backlog of stale percentages. Dropping it keeps what the
 * client ends with: an update carries the notification's whole state, and everything else
 * (additions, changes, deletions, counts) stays in order.
 */
export class ResultQueue<T extends object> {
  private items: T[] = [];
  /** The waiting update of each notification (by id), and the id of each waiting update. */
  private readonly latest = new Map<string, T>();
  private readonly updateOf = new Map<T, string>();
  private readonly dropped = new Set<T>();

  /** Results waiting, dropped ones included until they reach the head (a bound, for backpressure). */
  get length(): number {
    return this.items.length;
  }

  /** Queues a result; `updateOf` names the notification when the result is an update in place of it. */
  push(item: T, updateOf?: string): void {
    if (updateOf !== undefined) {
      const earlier = this.latest.get(updateOf);
      if (earlier !== undefined) {
        this.dropped.add(earlier);
        this.updateOf.delete(earlier);
      }
      this.latest.set(updateOf, item);
      this.updateOf.set(item, updateOf);
    }
    this.items.push(item);
  }

  /** The next result to send, or undefined. */
  shift(): T | undefined {
    for (;;) {
      const item = this.items.shift();
      if (item === undefined) return undefined;
      if (this.dropped.delete(item)) continue;
      const id = this.updateOf.get(item);
      if (id !== undefined) {
        this.updateOf.delete(item);
        this.latest.delete(id);
      }
      return item;
    }
  }

  clear(): void {
    this.items.length = 0;
    this.latest.clear();
    this.updateOf.clear();
    this.dropped.clear();
  }
}
