import type { NotificationRecord, NotificationType } from '../notifications/model.ts';

/** How a notification changed, as pushed on `inboxEvents`. */
export type ChangeKind = 'READ' | 'UNREAD' | 'ARCHIVED' | 'UNARCHIVED' | 'DELETED';

/** A notification as it travels on the bus: dates as ISO strings. */
export interface WireNotification {
  id: string;
  recipientId: string;
  seq: number;
  title: string;
  body: string;
  type: NotificationType;
  category: string | null;
  data: unknown;
  readAt: string | null;
  archivedAt: string | null;
  createdAt: string;
}

export interface WireChange {
  id: string;
  seq: number;
  readAt: string | null;
  archivedAt: string | null;
}

/**
 * One message on a user's channel: everything one committed transaction changed in that user's
 * inbox. Published once after commit; serialised once, whatever the number of subscribers.
 */
export interface InboxMessage {
  /** The inbox version after the transaction (orders count and change events). */
  v: number;
  /** The exact unread count after the transaction. */
  unread: number;
  added?: WireNotification[];
  changed?: { change: ChangeKind; items: WireChange[] };
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function toWire(n: NotificationRecord): WireNotification {
  return { ...n, readAt: iso(n.readAt), archivedAt: iso(n.archivedAt), createdAt: n.createdAt.toISOString() };
}

export function fromWire(n: WireNotification): NotificationRecord {
  return {
    ...n,
    readAt: n.readAt ? new Date(n.readAt) : null,
    archivedAt: n.archivedAt ? new Date(n.archivedAt) : null,
    createdAt: new Date(n.createdAt),
  };
}
