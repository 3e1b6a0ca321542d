/**
 * The preference rule, and per recipient of a batch what an emit does: suppress (preferences),
 * answer as a duplicate (idempotency) or deliver.
 *
 * The rule is written once, here, in TypeScript. The one-statement store (store/emit-batch.ts)
 * must apply it inside PostgreSQL to keep one round trip, so it is handed STORED_WHEN, the facts
 * under which `suppression` stores a notification, and only computes those facts per recipient.
 */
import { DEFAULT_PREFERENCES, type NotificationRecord, type Preferences } from '../domain/model.ts';
import { type BatchMember, keyOf, type PreferenceFacts } from '../store/emit-batch.ts';
import { type Channels, Delivery, type Plan, type SuppressionReason } from './emit-result.ts';

/** Why a recipient's preferences exclude a notification, or null when they accept it. */
export function exclusion(enabled: boolean, muted: boolean): SuppressionReason | null {
  if (!enabled) return 'DISABLED';
  if (muted) return 'CATEGORY_MUTED';
  return null;
}

/** Why a notification is not stored for a recipient, or null when it is: a critical emit always is. */
export function suppression(facts: PreferenceFacts): SuppressionReason | null {
  return facts.critical ? null : exclusion(facts.enabled, facts.muted);
}

/** The rule's first fact: in-app delivery on (without preferences: the default). */
export const isEnabled = (pref: Preferences | undefined): boolean => (pref === undefined ? DEFAULT_PREFERENCES.enabled : pref.enabled);

/** The rule's second fact: the emit has a category and the recipient muted it. */
export const isMuted = (pref: Preferences | undefined, category: string | null): boolean =>
  category !== null && pref?.mutedCategories.includes(category) === true;

/** Every combination of facts under which `suppression` stores the notification. */
export const STORED_WHEN: readonly PreferenceFacts[] = [true, false]
  .flatMap((enabled) => [true, false].flatMap((muted) => [true, false].map((critical) => ({ enabled, muted, critical }))))
  .filter((f) => suppression(f) === null);

/** Channels of recipients without preferences, and of muted ones: shared, read-only. */
const DEFAULT_CHANNELS: Channels = Object.freeze({
  email: DEFAULT_PREFERENCES.email,
  sms: DEFAULT_PREFERENCES.sms,
  push: DEFAULT_PREFERENCES.push,
});
const NO_CHANNELS: Channels = Object.freeze({ email: false, sms: false, push: false });

/** The other channels a recipient accepts for this notification: none for a muted category. */
export function channelsFor(pref: Preferences | undefined, muted: boolean): Channels {
  if (muted) return NO_CHANNELS;
  if (!pref) return DEFAULT_CHANNELS;
  return { email: pref.email, sms: pref.sms, push: pref.push };
}

/**
 * Decides per recipient, in each emit's order: suppressed by preferences, duplicate of an earlier
 * attempt (`existing`, by keyOf) or of an earlier emit of the same batch with the same key,
 * updated in place (`targets`: a notification stored under the emit's update key), or
 * delivered. Preferences come first for a new notification: a suppressed recipient neither is a
 * duplicate nor claims the key for a later emit of the batch. An update of a notification the
 * recipient has is applied whatever the preferences (they decide what is stored, and it is).
 */
export function decide<M extends BatchMember>(
  batch: readonly M[],
  prefs: ReadonlyMap<string, Preferences>,
  existing: ReadonlyMap<string, NotificationRecord>,
  targets: ReadonlyMap<string, NotificationRecord> = NO_TARGETS,
): Plan<M>[] {
  const claimed = new Set<string>();
  return batch.map((member) => {
    const { category, key, critical, updateKey } = member.template;
    let suppressed = 0;
    let duplicates = 0;
    let updated = 0;
    const deliveries = member.recipients.map((recipientId) => {
      const pref = prefs.get(recipientId);
      const muted = isMuted(pref, category);
      const delivery = new Delivery(recipientId, channelsFor(pref, muted && !critical));
      const facts = { enabled: isEnabled(pref), muted, critical };
      const reason = suppression(facts);
      if (critical) delivery.bypassed = exclusion(facts.enabled, facts.muted);
      const target = updateKey === null ? undefined : targets.get(keyOf(recipientId, updateKey));
      const k = key === null ? null : keyOf(recipientId, key);
      const found = k === null ? undefined : existing.get(k);
      if (k !== null && (found || claimed.has(k)) && (reason === null || target !== undefined)) {
        // A retry (of an addition or of an update).
        delivery.status = 'DUPLICATE';
        delivery.notification = found ?? null;
        duplicates++;
      } else if (target !== undefined) {
        delivery.status = 'UPDATED';
        delivery.target = target;
        if (k !== null) claimed.add(k);
        updated++;
      } else if (reason !== null) {
        delivery.status = 'SUPPRESSED';
        delivery.reason = reason;
        suppressed++;
      } else if (k !== null) {
        claimed.add(k);
      }
      return delivery;
    });
    return {
      member,
      result: {
        deliveries,
        deliveredCount: deliveries.length - suppressed - duplicates - updated,
        suppressedCount: suppressed,
        duplicateCount: duplicates,
        updatedCount: updated,
      },
    };
  });
}

const NO_TARGETS: ReadonlyMap<string, NotificationRecord> = new Map();
