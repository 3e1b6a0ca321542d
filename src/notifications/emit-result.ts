/**
 * What an emit answers (per recipient: delivered, suppressed or duplicate, and the channels they
 * accept) and, once a batch's rows are stored, the notifications as published and the bus
 * messages of the batch.
 */
import { type AddedMessage, addToMessage, fromWire, sortAdded, toWire, type WireNotification } from '../domain/messages.ts';
import type { NotificationRecord } from '../domain/model.ts';
import { type BatchMember, type InsertedRow, keyOf, type UpdatedRow } from '../store/emit-batch.ts';
import { fromRow } from '../store/notifications.ts';

export type DeliveryStatus = 'DELIVERED' | 'UPDATED' | 'SUPPRESSED' | 'DUPLICATE';
export type SuppressionReason = 'DISABLED' | 'CATEGORY_MUTED';

export interface Channels {
  email: boolean;
  sms: boolean;
  push: boolean;
}

/** What happened for one recipient, and which other channels they accept (for producers to route). */
export class Delivery {
  status: DeliveryStatus = 'DELIVERED';
  reason: SuppressionReason | null = null;
  /** Delivered although the preferences exclude it (a critical emit): what they exclude it for. */
  bypassed: SuppressionReason | null = null;
  /** Set when this emit stored the notification: it as published. */
  published: WireNotification | undefined = undefined;
  /** For UPDATED: the notification the update key names, as it was before. */
  target: NotificationRecord | undefined = undefined;
  private record: NotificationRecord | null = null;

  constructor(
    readonly recipientId: string,
    readonly channels: Channels,
  ) {}

  /**
   * The stored notification (for DUPLICATE: the one stored by the first attempt). Made from the
   * published form when first read: most producers of large emits ask only for counts, and 10,000
   * records nobody reads were 10,000 more objects for the garbage collector during delivery.
   */
  get notification(): NotificationRecord | null {
    if (this.record === null && this.published !== undefined) this.record = fromWire(this.published);
    return this.record;
  }

  set notification(record: NotificationRecord | null) {
    this.record = record;
  }
}

export interface EmitResult {
  deliveries: Delivery[];
  deliveredCount: number;
  suppressedCount: number;
  duplicateCount: number;
  /** Recipients whose notification under the emit's key was updated in place. */
  updatedCount: number;
}

/** One emit of a batch and its answer, decided before storing (decide.ts), completed by `complete`. */
export interface Plan<M extends BatchMember> {
  member: M;
  result: EmitResult;
}

/** The stored row of each delivered recipient. */
export type Inserted = Map<Delivery, InsertedRow>;

/** The row of each recipient whose notification was updated in place. */
export type Updated = Map<Delivery, UpdatedRow>;

/**
 * Pairs stored rows with their deliveries by the input's position (`ord`: the row's place in the
 * statement's recipient array, 1-based), never by comparing recipient ids: a string that went
 * through the database may not come back identical.
 */
export function matchRows<R extends { ord: bigint | string }>(
  rows: readonly R[],
  deliveries: readonly Delivery[],
  into: Map<Delivery, R>,
): void {
  for (const r of rows) {
    const delivery = deliveries[Number(r.ord) - 1];
    if (delivery !== undefined) into.set(delivery, r);
  }
}

/**
 * Completes the plans' deliveries with what was stored (the published form of each new
 * notification; for a retry grouped with its first attempt, that attempt's notification) and
 * makes one bus message per user: all of that user's additions, in position order.
 */
export function complete<M extends BatchMember>(
  plans: readonly Plan<M>[],
  inserted: Inserted,
  updated: Updated = NO_UPDATES,
): Map<string, AddedMessage> {
  const messages = new Map<string, AddedMessage>();
  // Notifications stored by this batch under an idempotency key, for retries in the same batch.
  const stored = new Map<string, Delivery>();
  // The rows of one statement share its transaction's time: its ISO text is made once.
  let lastTime = Number.NaN;
  let lastIso = '';
  const isoOf = (d: Date) => {
    if (d.getTime() !== lastTime) {
      lastTime = d.getTime();
      lastIso = d.toISOString();
    }
    return lastIso;
  };
  for (const { member, result } of plans) {
    const tpl = member.template;
    // One object for all recipients of this emit (read-only; a fan-out sends it once).
    const data = tpl.data === null ? null : JSON.parse(tpl.data);
    for (const delivery of result.deliveries) {
      if (delivery.status === 'DELIVERED') {
        // Every recipient decided DELIVERED was inserted by the same statement; should one not
        // be, it is answered without a record rather than failing emits that were committed.
        const row = inserted.get(delivery);
        if (!row) continue;
        const wire: WireNotification = {
          id: row.id,
          recipientId: row.recipient_id,
          seq: Number(row.seq),
          title: tpl.title,
          body: tpl.body,
          type: tpl.type,
          category: tpl.category,
          data,
          url: tpl.url,
          actor: tpl.actor,
          readAt: null,
          seenAt: null,
          archivedAt: null,
          createdAt: isoOf(row.created_at),
          changeSeq: Number(row.seq),
          progress: tpl.progress,
          taskState: tpl.taskState,
          updatedAt: null,
          expiresAt: tpl.expiresAt,
        };
        delivery.published = wire;
        if (tpl.key !== null) stored.set(keyOf(wire.recipientId, tpl.key), delivery);
        addToMessage(messages, wire, {
          v: Number(row.version),
          unread: row.unread_count,
          unseen: row.unseen_count,
          lastSeq: Number(row.last_seq),
        });
      } else if (delivery.status === 'UPDATED') {
        const row = updated.get(delivery);
        if (!row) continue;
        const wire = toWire(fromRow(row));
        delivery.published = wire;
        addToMessage(
          messages,
          wire,
          { v: Number(row.version), unread: row.unread_count, unseen: row.unseen_count, lastSeq: Number(row.last_seq) },
          true,
        );
      } else if (delivery.status === 'DUPLICATE' && tpl.key !== null) {
        // A retry grouped into the same transaction as its first attempt: name what that attempt stored.
        delivery.notification ??= stored.get(keyOf(delivery.recipientId, tpl.key))?.notification ?? null;
      }
    }
  }
  sortAdded(messages.values());
  return messages;
}

const NO_UPDATES: Updated = new Map();
