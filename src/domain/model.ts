/** Notification types, as in seed 000. */
export const NOTIFICATION_TYPES = ['ALERT', 'REMINDER', 'UPDATE', 'SYSTEM_NOTICE', 'PROMOTION'] as const;
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

/** Where a long-running task stands (seed 002), for notifications updated in place. */
export const TASK_STATES = ['PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'] as const;
export type TaskState = (typeof TASK_STATES)[number];

/** Who did what a notification tells about, as a UI shows it (a name and an avatar beside the text). */
export interface Actor {
  /** The actor's id in the host app, when it has one (a user id, a bot's name). */
  id: string | null;
  name: string;
  /** An absolute http(s) URL of an image. */
  avatarUrl: string | null;
}

/** A stored notification as the domain and the GraphQL layer see it. */
export interface NotificationRecord {
  id: string;
  recipientId: string;
  /** The position of its addition in the recipient's log (per-user sequence). */
  seq: number;
  /** The position of its latest change (its addition, an update, read, seen, archived...). */
  changeSeq: number;
  title: string;
  body: string;
  type: NotificationType;
  category: string | null;
  data: unknown;
  /** Where a click on the notification goes: an absolute http(s) URL or a path of the app ("/invoices/42"). */
  url: string | null;
  actor: Actor | null;
  readAt: Date | null;
  /** When the user first saw it in a list (the bell badge); reading it sees it too. */
  seenAt: Date | null;
  archivedAt: Date | null;
  createdAt: Date;
  /** A task's progress, 0 to 1 (seed 002). */
  progress: number | null;
  taskState: TaskState | null;
  /** When an emit with its update key last changed its content. */
  updatedAt: Date | null;
  /** When it leaves the inbox (expiry), or null. */
  expiresAt: Date | null;
}

/** A user's delivery preferences (seed 000). */
export interface Preferences {
  userId: string;
  /** In-app delivery: when false, notifications for this user are not stored at all. */
  enabled: boolean;
  email: boolean;
  sms: boolean;
  push: boolean;
  /** Categories the user muted: notifications in them are not stored. */
  mutedCategories: string[];
}

/** The preferences of a user who never set any (no row). */
export const DEFAULT_PREFERENCES: Omit<Preferences, 'userId'> = {
  enabled: true,
  email: true,
  sms: false,
  push: true,
  mutedCategories: [],
};

/** Limits on input, enforced before anything is written. */
export const LIMITS = {
  maxRecipients: 10_000,
  maxIds: 1_000,
  maxTitle: 200,
  maxBody: 10_000,
  /** `url` and `actor.avatarUrl`: what browsers accept in practice. */
  maxUrl: 2_048,
  maxActorName: 200,
  maxCategory: 100,
  maxDataBytes: 16_384,
  /** `data` as PostgreSQL stores it (jsonb, estimated): twice the text limit, which text-heavy data never reaches. */
  maxDataStoredBytes: 32_768,
  /** Levels of objects and arrays in `data`, the object itself included. */
  maxDataDepth: 64,
  maxUserId: 255,
  maxIdempotencyKey: 200,
  maxUpdateKey: 200,
  maxPageSize: 100,
  defaultPageSize: 20,
  maxMutedCategories: 200,
  /** How far ahead `expiresAt` may be (RETENTION_DAYS' own maximum). */
  maxExpiryMs: 3_650 * 86_400_000,
} as const;
