import { GraphQLError } from 'graphql';
import { ErrorCode } from '../errors.ts';
import { notificationsUnderKey } from '../store/notifications.ts';
import { updateKeyOf } from './emit-input.ts';
import { type ChangeDeps, changeNotifications } from './inbox.ts';

/** Recipients recalled at once (each its own transaction: one inbox lock at a time). */
const CONCURRENCY = 4;

/**
 * Recalls a producer's notification by its update key: deletes it from every recipient's inbox,
 * each deletion as a user's own would be (its position in the log, a tombstone, the counts, the
 * push to open tabs). One transaction per recipient, so a recall of many recipients is not atomic:
 * should it fail midway, calling it again deletes the rest. Returns how many were deleted.
 */
export async function recallNotifications(deps: ChangeDeps, producerId: string, key: string): Promise<number> {
  const found = await notificationsUnderKey(deps.sql, updateKeyOf(key, producerId));
  let recalled = 0;
  for (let i = 0; i < found.length; i += CONCURRENCY) {
    await Promise.all(
      found.slice(i, i + CONCURRENCY).map(async ({ recipientId, id }) => {
        try {
          const { changedCount } = await changeNotifications(deps, recipientId, [id], 'DELETED');
          recalled += changedCount;
        } catch (error) {
          // Deleted meanwhile (by its recipient): nothing left to recall.
          if (!(error instanceof GraphQLError && error.extensions.code === ErrorCode.NOT_FOUND)) throw error;
        }
      }),
    );
  }
  return recalled;
}
