/**
 * The repository of `inbox_count`: how many of a user's notifications are in each state a view can
 * select (category, type, archived, read, seen). Triggers on `notification` keep it in the same
 * statement as every write (migration 20261204100000_view_counts), so nothing here writes it but
 * the erasure.
 */
import type { Sql } from '../db/index.ts';
import type { NotificationType } from '../domain/model.ts';
import type { CountRow } from '../domain/views.ts';

/** A user's count rows and the head of their log, one snapshot: the counts are exact at `lastSeq`. */
export interface CountSnapshot {
  lastSeq: number;
  rows: CountRow[];
}

interface Row {
  last_seq: bigint | string | null;
  category: string | null;
  type: NotificationType | null;
  archived: boolean | null;
  read: boolean | null;
  seen: boolean | null;
  n: number | null;
}

/** One statement (one snapshot): the user's position and their non-empty count rows (an index range of the primary key). */
export async function readCountRows(sql: Sql, userId: string): Promise<CountSnapshot> {
  const rows = await sql.query<Row>(
    `SELECT s.last_seq, c.category, c.type, c.archived, c.read, c.seen, c.n
       FROM (SELECT $1::text AS u) q
       LEFT JOIN inbox_state s ON s.user_id = q.u
       LEFT JOIN inbox_count c ON c.user_id = q.u AND c.n <> 0`,
    [userId],
  );
  const counted: CountRow[] = [];
  for (const r of rows) {
    if (r.type === null || r.n === null) continue;
    counted.push({
      category: r.category === '' ? null : r.category,
      type: r.type,
      archived: r.archived === true,
      read: r.read === true,
      seen: r.seen === true,
      n: r.n,
    });
  }
  return { lastSeq: Number(rows[0]?.last_seq ?? 0), rows: counted };
}

/** Deletes the user's count rows (eraseUser), after their notifications. */
export async function deleteCountRows(tx: Sql, userId: string): Promise<void> {
  await tx.query('DELETE FROM inbox_count WHERE user_id = $1', [userId]);
}
