import type { Sql } from '../db/index.ts';
import type { Bus } from '../delivery/bus.ts';
import type { Hub } from '../delivery/hub.ts';
import { isRetriableTransactionError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { deleteUserRows, type ErasedRows } from '../store/erase.ts';
import * as v from './validate.ts';

export interface EraseDeps {
  sql: Sql;
  bus: Bus;
  hub: Hub;
  log: Logger;
}

export type EraseResult = ErasedRows & { userId: string };

/** Deadlocks and serialisation failures are retried this many times. */
const ATTEMPTS = 3;

/**
 * Erases a user (GDPR, right to erasure): every row that holds the user's id, in one transaction,
 * then the user's open streams end on every instance. Idempotent: erasing a user with no rows
 * (again, or never seen) deletes nothing and answers zeros.
 *
 * The streams end through a bus message on the user's channel (every instance with a stream of
 * the user subscribes to it) and directly on this instance, so they end here even when Redis is
 * down; an instance that misses the message (Redis down there) keeps its streams open until they
 * reconnect, but they deliver nothing of the erased data: it is gone from the database, the only
 * source streams read from.
 */
export async function eraseUser(deps: EraseDeps, rawUserId: string): Promise<EraseResult> {
  const userId = v.userId(rawUserId, 'userId');
  let rows: ErasedRows | undefined;
  for (let attempt = 1; rows === undefined; attempt++) {
    try {
      rows = await deps.sql.transaction((tx) => deleteUserRows(tx, userId));
    } catch (error) {
      if (attempt >= ATTEMPTS || !isRetriableTransactionError(error)) throw error;
    }
  }
  deps.hub.closeUser(userId);
  await deps.bus.publish(userId, { v: 0, unread: 0, erased: true }).catch((error: Error) => {
    deps.log.warn({ err: error.message, userId }, "publish of an erasure failed; other instances' streams of the user stay open");
  });
  deps.log.info({ userId, ...rows }, 'user erased');
  return { userId, ...rows };
}
