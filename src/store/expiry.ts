/** The expiry scan's reads: the lease, and what is due, by the partial index on `expires_at`. */
import type { Sql } from '../db/index.ts';

/** The advisory lock of the expiry scan (any fixed key of Herald's own: "hera"). */
const EXPIRY_LEASE = 0x68657261;

/**
 * Takes the expiry lease until the transaction ends; false when another instance holds it (it is
 * scanning now). A transaction-scoped lock: a crashed holder's lease ends with its connection.
 */
export async function takeExpiryLease(tx: Sql): Promise<boolean> {
  const [row] = await tx.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1::bigint) AS ok', [EXPIRY_LEASE]);
  return row?.ok === true;
}

/**
 * Up to `limit` notifications whose time has come, the longest due first, by recipient in the
 * database's order (the order every writer locks inbox states in).
 */
export async function dueNotifications(tx: Sql, limit: number): Promise<{ userId: string; ids: string[] }[]> {
  const rows = await tx.query<{ recipient_id: string; ids: string[] }>(
    `SELECT recipient_id, array_agg(id::text) AS ids FROM (
       SELECT id, recipient_id FROM notification WHERE expires_at <= now() ORDER BY expires_at LIMIT ${Math.trunc(limit)}
     ) d GROUP BY recipient_id ORDER BY recipient_id`,
    [],
  );
  return rows.map((r) => ({ userId: r.recipient_id, ids: r.ids }));
}
