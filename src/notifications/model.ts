/** Notification types, as in seed 000. */
export const NOTIFICATION_TYPES = ['ALERT', 'REMINDER', 'UPDATE', 'SYSTEM_NOTICE', 'PROMOTION'] as const;
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

/** A stored notification as the domain and the GraphQL layer see it. */
export interface NotificationRecord {
  id: string;
  recipientId: string;
  /** The recipient's position (per-user sequence). */
  seq: number;
  title: string;
  body: string;
  type: NotificationType;
  category: string | null;
  data: unknown;
  readAt: Date | null;
  archivedAt: Date | null;
  createdAt: Date;
}

/** A raw `notification` row as returned by `SELECT *` through Prisma's raw queries. */
export interface NotificationRow {
  id: string;
  recipient_id: string;
  seq: bigint | number | string;
  title: string;
  body: string;
  type: NotificationType;
  category: string | null;
  data: unknown;
  read_at: Date | null;
  archived_at: Date | null;
  created_at: Date;
}

export const NOTIFICATION_COLUMNS = 'id, recipient_id, seq, title, body, type, category, data, read_at, archived_at, created_at';

export function fromRow(row: NotificationRow): NotificationRecord {
  return {
    id: row.id,
    recipientId: row.recipient_id,
    seq: Number(row.seq),
    title: row.title,
    body: row.body,
    type: row.type,
    category: row.category,
    data: row.data ?? null,
    readAt: row.read_at ? new Date(row.read_at) : null,
    archivedAt: row.archived_at ? new Date(row.archived_at) : null,
    createdAt: new Date(row.created_at),
  };
}

/** Limits on input, enforced before anything is written. */
export const LIMITS = {
  maxRecipients: 10_000,
  maxIds: 1_000,
  maxTitle: 200,
  maxBody: 10_000,
  maxCategory: 100,
  maxDataBytes: 16_384,
  /** Levels of objects and arrays in `data`, the object itself included. */
  maxDataDepth: 64,
  maxUserId: 255,
  maxIdempotencyKey: 200,
  maxPageSize: 100,
  defaultPageSize: 20,
  maxMutedCategories: 200,
} as const;
