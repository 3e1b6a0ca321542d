/** An emit as a producer sends it, and its validation into the stored form (store/emit-batch.ts's Template). */
import { type Actor, LIMITS, NOTIFICATION_TYPES, type NotificationType, TASK_STATES, type TaskState } from '../domain/model.ts';
import { badInput } from '../errors.ts';
import type { Template } from '../store/emit-batch.ts';
import * as v from './validate.ts';

export interface EmitInput {
  recipientIds: readonly string[];
  title: string;
  /** Absent: the empty string (a title-only notification is the common case). */
  body?: string | null | undefined;
  /** Absent: ALERT (seed 000's default). */
  type?: NotificationType | null | undefined;
  category?: string | null | undefined;
  data?: unknown;
  url?: string | null | undefined;
  actor?: ActorInput | null | undefined;
  /** Delivered whatever the recipients' preferences say (muted category, in-app off). */
  critical?: boolean | null | undefined;
  /** A producer's retry with the same key delivers nothing twice, per recipient. */
  idempotencyKey?: string | null | undefined;
  /**
   * Update in place: a recipient who has a notification of this producer with this key gets it
   * updated (content, progress, task state) instead of a new one.
   */
  key?: string | null | undefined;
  /** A task's progress, 0 to 1. */
  progress?: number | null | undefined;
  taskState?: TaskState | null | undefined;
  /** An update makes the notification unread (and unseen) again. */
  markUnread?: boolean | null | undefined;
  /** When it leaves the inbox: later than now, before the retention window ends. */
  expiresAt?: Date | null | undefined;
  /**
   * Who emits (the token's `sub`): idempotency keys are the producer's own, so another producer
   * using the same key for the same recipient neither sees nor suppresses this notification.
   */
  producerId: string;
}

export interface ActorInput {
  id?: string | null | undefined;
  name: string;
  avatarUrl?: string | null | undefined;
}

/** The type of an emit that names none. */
export const DEFAULT_TYPE: NotificationType = 'ALERT';

/**
 * The stored form of a producer's idempotency key: the producer's id, length-prefixed so that no
 * pair of (producer, key) can spell another's, then the key. The unique index
 * (recipient_id, idempotency_key) and the retry lookup both use this form, so keys are scoped to
 * the producer without a second column. Keys stored before this form existed match no retry.
 */
export function scopedKey(producerId: string, key: string): string {
  return `${producerId.length}:${producerId}:${key}`;
}

/** Validates an emit; throws BAD_USER_INPUT before anything is written. */
export function validateEmit(input: EmitInput): { template: Template; recipients: string[] } {
  const recipients = input.recipientIds;
  if (recipients.length === 0) throw badInput('"recipientIds" must not be empty', { field: 'recipientIds' });
  if (recipients.length > LIMITS.maxRecipients) {
    throw badInput(`"recipientIds" holds at most ${LIMITS.maxRecipients} recipients per call`, {
      field: 'recipientIds',
      max: LIMITS.maxRecipients,
    });
  }
  const seen = new Set<string>();
  for (const id of recipients) {
    v.userId(id);
    if (seen.has(id)) throw badInput(`"recipientIds" holds "${id}" more than once`, { field: 'recipientIds' });
    seen.add(id);
  }
  const type = input.type ?? DEFAULT_TYPE;
  if (!NOTIFICATION_TYPES.includes(type)) throw badInput('"type" is not a notification type', { field: 'type' });
  const data = v.jsonData(input.data);
  const key = producerKey(input.idempotencyKey, 'idempotencyKey', LIMITS.maxIdempotencyKey, input.producerId);
  const updateKey = producerKey(input.key, 'key', LIMITS.maxUpdateKey, input.producerId);
  const progress = input.progress ?? null;
  if (progress !== null && !(Number.isFinite(progress) && progress >= 0 && progress <= 1)) {
    throw badInput('"progress" must be a number from 0 to 1', { field: 'progress' });
  }
  const expiresAt = input.expiresAt ?? null;
  if (expiresAt !== null && !(expiresAt.getTime() > Date.now() && expiresAt.getTime() <= Date.now() + LIMITS.maxExpiryMs)) {
    throw badInput('"expiresAt" must be later than now and at most 3,650 days ahead', { field: 'expiresAt' });
  }
  const taskState = input.taskState ?? null;
  if (taskState !== null && !TASK_STATES.includes(taskState)) throw badInput('"taskState" is not a task state', { field: 'taskState' });
  return {
    recipients: [...recipients],
    template: {
      title: v.requiredText(input.title, 'title', LIMITS.maxTitle),
      body: v.optionalText(input.body, 'body', LIMITS.maxBody),
      type,
      category: input.category === undefined || input.category === null ? null : v.category(input.category),
      data,
      url: input.url === undefined || input.url === null ? null : v.link(input.url, 'url', true),
      actor: input.actor === undefined || input.actor === null ? null : actor(input.actor),
      critical: input.critical === true,
      key,
      updateKey,
      progress,
      taskState,
      markUnread: input.markUnread === true,
      expiresAt: expiresAt?.toISOString() ?? null,
    },
  };
}

/** A producer's update key (`key`), validated and scoped to the producer (recall names one). */
export function updateKeyOf(value: string, producerId: string): string {
  return producerKey(value, 'key', LIMITS.maxUpdateKey, producerId) ?? '';
}

/** A producer's key (idempotency or update), validated and scoped to the producer; null when absent. */
function producerKey(value: string | null | undefined, field: string, max: number, producerId: string): string | null {
  if (value === undefined || value === null) return null;
  if (value.length === 0 || value.length > max) throw badInput(`"${field}" must be 1-${max} characters`, { field });
  v.storable(value, field);
  return scopedKey(producerId, value);
}

function actor(input: ActorInput): Actor {
  return {
    id: input.id === undefined || input.id === null ? null : v.userId(input.id, 'actor.id'),
    name: v.requiredText(input.name, 'actor.name', LIMITS.maxActorName),
    avatarUrl: input.avatarUrl === undefined || input.avatarUrl === null ? null : v.link(input.avatarUrl, 'actor.avatarUrl', false),
  };
}
