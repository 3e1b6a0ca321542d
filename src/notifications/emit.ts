/**
 * The emit pipeline: validate (emit-input.ts), group into commits (batcher.ts), decide per
 * recipient (decide.ts), store (store/emit-batch.ts), complete the answers and bus messages
 * (emit-result.ts), publish. This module only wires them together.
 */
import type { Database } from '../db/index.ts';
import type { Bus } from '../delivery/bus.ts';
import type { AddedMessage } from '../domain/messages.ts';
import type { NotificationRecord } from '../domain/model.ts';
import { isDatabaseUnavailable, isRetriableTransactionError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { batchStore, type InsertedRow, type KeyedInsert, type Template } from '../store/emit-batch.ts';
import { GroupCommit } from './batcher.ts';
import { decide, STORED_WHEN } from './decide.ts';
import { type EmitInput, validateEmit } from './emit-input.ts';
import { complete, type Delivery, type EmitResult, type Inserted, matchRows, type Plan, type Updated } from './emit-result.ts';

export { type EmitInput, scopedKey, validateEmit } from './emit-input.ts';
export { type Channels, Delivery, type DeliveryStatus, type EmitResult, type SuppressionReason } from './emit-result.ts';

export interface EmitterOptions {
  db: Database;
  bus: Bus;
  log: Logger;
  idempotencyTtlHours: number;
  /** Rows per grouped transaction. */
  maxBatchRows?: number;
  /** Grouped transactions in flight at once (each on its own connection). */
  maxConcurrentBatches?: number;
  /** Told of each committed batch and each failed publish (metrics). */
  observer?: EmitObserver;
  /**
   * Charges a valid emit to the rate limits before it is queued (ratelimit/limits.ts `admitEmit`):
   * throws RATE_LIMITED, and then nothing is stored. Unset: no limits.
   */
  admit?: (producerId: string, recipients: readonly string[]) => Promise<void>;
}

/** What the emitter reports as it works (observability/metrics.ts counts it). */
export interface EmitObserver {
  /** A grouped commit: how many emits it held and their deliveries by status. */
  committed(emits: number, deliveries: { delivered: number; suppressed: number; duplicate: number; updated: number }): void;
  /** A publish after commit failed (subscribers catch up from the database). */
  publishFailed(): void;
}

/** An emit waiting for its grouped commit. */
interface Pending {
  template: Template;
  recipients: string[];
  resolve: (r: EmitResult) => void;
  reject: (e: unknown) => void;
}

/** A stored batch: each emit's answer, and one bus message per recipient. */
interface Outcome {
  plans: Plan<Pending>[];
  messages: Map<string, AddedMessage>;
}

/** The statements, made once for the preference rule of decide.ts. */
const store = batchStore(STORED_WHEN);

/** A batch without idempotency keys has no earlier attempts to find. */
const NO_EXISTING: ReadonlyMap<string, NotificationRecord> = new Map();

/**
 * Stores and publishes notifications. Concurrent emits are grouped into one transaction (group
 * commit, see batcher.ts): the first emit starts at once, emits arriving while a transaction runs
 * go together in the next one. Every notification is committed before it is published; a failed
 * publish loses nothing (streams fill gaps from the database). Positions stay in commit order
 * across concurrent commits because each recipient's inbox_state row is locked until its
 * transaction commits.
 */
export class Emitter {
  private readonly batcher: GroupCommit<Pending, Outcome>;
  /** Per update key (scoped to its producer): the end of the last emit with it still in flight. */
  private readonly keyChains = new Map<string, Promise<void>>();

  constructor(private readonly options: EmitterOptions) {
    this.batcher = new GroupCommit<Pending, Outcome>({
      weight: (p) => p.recipients.length,
      maxBatchWeight: options.maxBatchRows ?? 10_000,
      maxConcurrent: options.maxConcurrentBatches ?? 4,
      store: (batch) => this.storeWithRetries(batch),
      stored: (_batch, outcome) => this.publish(outcome),
      failed: (p, error) => p.reject(error),
      // An unreachable database fails the whole batch at once (and a commit whose connection
      // broke may have been stored: a retry must say so).
      failsWhole: isDatabaseUnavailable,
    });
  }

  /**
   * Emits one notification to its recipients. Validated first (a bad emit costs no rate limit),
   * then charged to the producer's and the recipients' limits, all or nothing, then queued.
   */
  async emit(input: EmitInput): Promise<EmitResult> {
    const { template, recipients } = validateEmit(input);
    await this.options.admit?.(input.producerId, recipients);
    const key = template.updateKey;
    if (key === null) return this.enqueue(template, recipients);
    // Updates of one key are applied in the order they were called: each waits for the one
    // before it to commit, so they never share a grouped commit nor overtake each other here
    // (between instances, the recipients' row locks order them).
    const previous = this.keyChains.get(key);
    const run = previous === undefined ? this.enqueue(template, recipients) : previous.then(() => this.enqueue(template, recipients));
    const settled = run.then(
      () => {},
      () => {},
    );
    this.keyChains.set(key, settled);
    try {
      return await run;
    } finally {
      if (this.keyChains.get(key) === settled) this.keyChains.delete(key);
    }
  }

  private enqueue(template: Template, recipients: string[]): Promise<EmitResult> {
    return new Promise<EmitResult>((resolve, reject) => {
      this.batcher.add({ template, recipients, resolve, reject });
    });
  }

  /** Emits waiting for a grouped commit, commits running, batches split after a failure. */
  stats(): { queued: number; running: number; isolations: number } {
    return this.batcher.stats();
  }

  /** Resolves when every emit accepted so far has finished (graceful shutdown). */
  settle(): Promise<void> {
    return this.batcher.settle();
  }

  /**
   * Nothing after the commit may throw into here: an error thrown from here is reported to
   * producers as a failure, so it must mean "not stored".
   */
  private async storeWithRetries(batch: readonly Pending[]): Promise<Outcome> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.store(batch);
      } catch (error) {
        const text = String((error as Error).message) + JSON.stringify((error as { meta?: unknown }).meta ?? '');
        // A key's unique index: another instance stored under the same key meanwhile; the retry finds it.
        if (attempt < 4 && (isRetriableTransactionError(error) || /idempotency_key|update_key/.test(text))) continue;
        throw error;
      }
    }
  }

  /**
   * Published right after commit, in commit order (issued synchronously; Redis keeps one
   * connection's order), and the producers are answered at once: the rows are committed, so a
   * failed publish loses nothing (subscribers recover from the database); it is only logged.
   */
  private publish(outcome: Outcome) {
    const { observer } = this.options;
    if (observer) {
      const counts = { delivered: 0, suppressed: 0, duplicate: 0, updated: 0 };
      for (const { result } of outcome.plans) {
        counts.delivered += result.deliveredCount;
        counts.suppressed += result.suppressedCount;
        counts.duplicate += result.duplicateCount;
        counts.updated += result.updatedCount;
      }
      observer.committed(outcome.plans.length, counts);
    }
    this.options.bus.publishMany(outcome.messages).catch((error: Error) => {
      observer?.publishFailed();
      this.options.log.warn(
        { err: error.message, users: outcome.messages.size },
        'publish failed; subscribers will catch up from the database',
      );
    });
    for (const { member, result } of outcome.plans) member.resolve(result);
  }

  /**
   * Stores a batch atomically. Without idempotency keys (the common case) that is one SQL
   * statement that also applies the preferences; with keys, one transaction that first looks up
   * what earlier attempts stored, then inserts what decide() delivers.
   */
  private async store(batch: readonly Pending[]): Promise<Outcome> {
    const { db, idempotencyTtlHours } = this.options;
    if (batch.every((p) => p.template.key === null && p.template.updateKey === null)) {
      const { rows, preferences } = await store.storeUnkeyed(db.sql, batch);
      // The statement has committed: from here on nothing may fail (see storeWithRetries). The
      // decision is the statement's (same rule), made again from the preferences it returned.
      const plans = decide(batch, preferences, NO_EXISTING);
      const inserted: Inserted = new Map();
      matchRows(
        rows.filter((r): r is InsertedRow => r.kind === 'n'),
        plans.flatMap((p) => p.result.deliveries),
        inserted,
      );
      return { plans, messages: complete(plans, inserted) };
    }
    return store.storeKeyed(db.sql, batch, idempotencyTtlHours, ({ preferences, existing, targets }) => {
      const plans = decide(batch, preferences, existing, targets);
      // The recipients to store: those decided DELIVERED, with their emit's place in the batch;
      // and those decided UPDATED, with the notification to update.
      const users: string[] = [];
      const templates: number[] = [];
      const deliveries: Delivery[] = [];
      const updates: KeyedInsert<Outcome>['updates'] = { users: [], ids: [], templates: [] };
      const updateDeliveries: Delivery[] = [];
      plans.forEach((plan, t) => {
        for (const d of plan.result.deliveries) {
          if (d.status === 'DELIVERED') {
            users.push(d.recipientId);
            templates.push(t + 1);
            deliveries.push(d);
          } else if (d.status === 'UPDATED' && d.target !== undefined) {
            updates.users.push(d.recipientId);
            updates.ids.push(d.target.id);
            updates.templates.push(t + 1);
            updateDeliveries.push(d);
          }
        }
      });
      return {
        users,
        templates,
        updates,
        // Before COMMIT: should completing fail, nothing is stored.
        finish: (rows, updatedRows) => {
          const inserted: Inserted = new Map();
          matchRows(rows, deliveries, inserted);
          const updated: Updated = new Map();
          matchRows(updatedRows, updateDeliveries, updated);
          return { plans, messages: complete(plans, inserted, updated) };
        },
      };
    });
  }
}
