/**
 * Emit's writes: a batch of emits (a group commit, see notifications/batcher.ts) stored in one
 * transaction, by one of two strategies.
 *
 * - Without idempotency keys (the common case): one statement that reads the recipients'
 *   preferences, leaves out the recipients they exclude, allocates positions and inserts the rows
 *   (atomic on its own, one round trip).
 * - With keys: one transaction that reads the preferences, releases keys past their TTL, finds
 *   what earlier attempts stored under the batch's keys, lets the caller decide, and inserts the
 *   recipients decided delivered.
 *
 * Which recipients preferences exclude is not decided here: the caller (notifications/decide.ts)
 * names the preference facts under which a notification is stored, and the statement only
 * computes those facts per recipient.
 */
import type { Sql } from '../db/index.ts';
import {
  type Actor,
  DEFAULT_PREFERENCES,
  type NotificationRecord,
  type NotificationType,
  type Preferences,
  type TaskState,
} from '../domain/model.ts';
import { fromRow, NOTIFICATION_COLUMNS, type NotificationRow } from './notifications.ts';
import { type PreferenceRow, preferencesFromRow, readPreferences } from './preferences.ts';

/** A validated emit's content, in its stored form (data as JSON text, the key scoped to its producer). */
export interface Template {
  title: string;
  body: string;
  type: NotificationType;
  category: string | null;
  data: string | null;
  url: string | null;
  actor: Actor | null;
  /** The idempotency key. */
  key: string | null;
  /** The update key: a recipient's notification stored under it is updated in place. */
  updateKey: string | null;
  progress: number | null;
  taskState: TaskState | null;
  /** When it leaves the inbox (ISO), or null. */
  expiresAt: string | null;
  /** An update makes the notification unread and unseen again. */
  markUnread: boolean;
  /** Delivered whatever the recipient's preferences say. */
  critical: boolean;
}

/** One emit of a batch: its content, sent once, and its recipients. */
export interface BatchMember {
  readonly template: Template;
  readonly recipients: readonly string[];
}

/** What the preferences say about one recipient of one emit: the inputs of the preference rule. */
export interface PreferenceFacts {
  /** In-app delivery on (a recipient without preferences: the default). */
  enabled: boolean;
  /** The emit has a category, and the recipient muted it. */
  muted: boolean;
  /** The emit is critical (a producer's call: security alerts, legal notices). */
  critical: boolean;
}

/** A row the batch inserted. */
export interface InsertedRow {
  kind: 'n';
  id: string;
  recipient_id: string;
  seq: bigint | string;
  created_at: Date;
  /** The emit's place in the batch (1-based). */
  template: number;
  /** The row's place in the statement's recipient array (1-based). */
  ord: bigint | string;
  /** The recipient's inbox after the statement. */
  unread_count: number;
  unseen_count: number;
  version: bigint | string;
  last_seq: bigint | string;
}

/** The one-statement strategy's rows: inserted rows, and one row per recipient with preferences. */
type StoreRow = InsertedRow | (PreferenceRow & { kind: 'p' });

/** The key under which `existing` holds what an earlier attempt stored for this recipient. */
export const keyOf = (recipientId: string, key: string) => `${recipientId}\u0000${key}`;

/** What the keyed strategy read before deciding. */
export interface KeyedReads {
  preferences: ReadonlyMap<string, Preferences>;
  /** By keyOf(recipient, key): the notifications earlier attempts stored under the batch's idempotency keys. */
  existing: ReadonlyMap<string, NotificationRecord>;
  /** By keyOf(recipient, updateKey): the notifications stored under the batch's update keys. */
  targets: ReadonlyMap<string, NotificationRecord>;
}

/** A row the batch updated in place, in its new state, and the recipient's inbox after the statement. */
export type UpdatedRow = NotificationRow & Omit<InsertedRow, 'kind' | 'id' | 'recipient_id' | 'seq' | 'created_at'>;

/**
 * The recipients to insert (each with its emit's place in the batch, 1-based), the notifications
 * to update (with their recipient and emit), and what to make of the rows. `finish` runs before
 * COMMIT: should it throw, nothing is stored.
 */
export interface KeyedInsert<R> {
  users: string[];
  templates: number[];
  updates: { users: string[]; ids: string[]; templates: number[] };
  finish(rows: readonly InsertedRow[], updated: readonly UpdatedRow[]): R;
}

export interface BatchStore {
  /**
   * Stores a batch without idempotency keys in one statement. Returns the inserted rows and the
   * preferences of the recipients that have some (the facts the statement decided on).
   */
  storeUnkeyed(sql: Sql, batch: readonly BatchMember[]): Promise<{ rows: readonly StoreRow[]; preferences: Map<string, Preferences> }>;
  /** Stores a batch with idempotency keys in one transaction; `decide` picks the recipients to insert. */
  storeKeyed<R>(sql: Sql, batch: readonly BatchMember[], ttlHours: number, decide: (reads: KeyedReads) => KeyedInsert<R>): Promise<R>;
}

/**
 * The statements for a rule that stores a notification exactly when a recipient's facts are one
 * of `storedWhen` (made once, at start: fixed texts, named prepared statements).
 */
export function batchStore(storedWhen: readonly PreferenceFacts[]): BatchStore {
  const storeSql = STORE_SQL(storedWhen);
  return {
    async storeUnkeyed(sql, batch) {
      const users: string[] = [];
      const templates: number[] = [];
      batch.forEach((m, t) => {
        for (const r of m.recipients) {
          users.push(r);
          templates.push(t + 1);
        }
      });
      const rows = await sql.query<StoreRow>(storeSql, [users, templates, ...templateParams(batch), batch.map((m) => m.template.critical)]);
      const preferences = new Map<string, Preferences>();
      for (const r of rows) if (r.kind === 'p') preferences.set(r.recipient_id, preferencesFromRow(r));
      return { rows, preferences };
    },

    storeKeyed(sql, batch, ttlHours, decide) {
      return sql.transaction(async (tx) => {
        const recipients = [...new Set(batch.flatMap((m) => m.recipients))];
        // The recipients' inboxes first (in one order, like every writer): what is stored under
        // their keys cannot change until commit, and the updates' and inserts' positions follow.
        await tx.query('SELECT 1 FROM inbox_state WHERE user_id = ANY($1::text[]) ORDER BY user_id FOR UPDATE', [recipients]);
        const preferences = await readPreferences(tx, recipients);
        const existing = await findStoredUnderKeys(tx, batch, ttlHours);
        const targets = await findUpdateTargets(tx, batch);
        const plan = decide({ preferences, existing, targets });
        const { updates } = plan;
        const updated =
          updates.users.length > 0
            ? await tx.query<UpdatedRow>(UPDATE_SQL, [
                updates.users,
                updates.ids,
                updates.templates,
                ...templateParams(batch),
                batch.map((m) => m.template.markUnread),
              ])
            : [];
        const rows =
          plan.users.length > 0 ? await tx.query<InsertedRow>(INSERT_SQL, [plan.users, plan.templates, ...templateParams(batch)]) : [];
        return plan.finish(rows, updated);
      });
    },
  };
}

/**
 * Idempotency: what earlier attempts stored under the batch's keys, for its keyed recipients.
 * Keys past their TTL (from the emit that stored them: the addition, or the latest update) are
 * released first (so a retry after the TTL stores again).
 */
async function findStoredUnderKeys(tx: Sql, batch: readonly BatchMember[], ttlHours: number): Promise<Map<string, NotificationRecord>> {
  const users: string[] = [];
  const keys: string[] = [];
  for (const m of batch) {
    const key = m.template.key;
    if (key === null) continue;
    for (const r of m.recipients) {
      users.push(r);
      keys.push(key);
    }
  }
  const existing = new Map<string, NotificationRecord>();
  if (users.length === 0) return existing;
  await tx.query(
    `UPDATE notification n SET idempotency_key = NULL FROM unnest($1::text[], $2::text[]) AS k(u, key)
       WHERE n.recipient_id = k.u AND n.idempotency_key = k.key AND COALESCE(n.updated_at, n.created_at) <= now() - $3::interval`,
    [users, keys, `${ttlHours} hours`],
  );
  const rows = await tx.query<NotificationRow & { idempotency_key: string }>(
    `SELECT ${prefixed('n')}, n.idempotency_key
       FROM notification n JOIN unnest($1::text[], $2::text[]) AS k(u, key) ON n.recipient_id = k.u AND n.idempotency_key = k.key`,
    [users, keys],
  );
  for (const r of rows) existing.set(keyOf(r.recipient_id, r.idempotency_key), fromRow(r));
  return existing;
}

/** The notifications stored under the batch's update keys, for its recipients, by keyOf(recipient, updateKey). */
async function findUpdateTargets(tx: Sql, batch: readonly BatchMember[]): Promise<Map<string, NotificationRecord>> {
  const users: string[] = [];
  const keys: string[] = [];
  for (const m of batch) {
    const key = m.template.updateKey;
    if (key === null) continue;
    for (const r of m.recipients) {
      users.push(r);
      keys.push(key);
    }
  }
  const targets = new Map<string, NotificationRecord>();
  if (users.length === 0) return targets;
  const rows = await tx.query<NotificationRow & { update_key: string }>(
    `SELECT ${prefixed('n')}, n.update_key
       FROM notification n JOIN unnest($1::text[], $2::text[]) AS k(u, key) ON n.recipient_id = k.u AND n.update_key = k.key`,
    [users, keys],
  );
  for (const r of rows) targets.set(keyOf(r.recipient_id, r.update_key), fromRow(r));
  return targets;
}

const prefixed = (alias: string) =>
  NOTIFICATION_COLUMNS.split(', ')
    .map((c) => `${alias}.${c}`)
    .join(', ');

/**
 * The templates as the statements' $3..$14 (title, body, type, category, data, idempotency key,
 * url, actor, update key, progress, task state, expiry): once per emit, not once per recipient.
 */
function templateParams(batch: readonly BatchMember[]) {
  return [
    batch.map((m) => m.template.title),
    batch.map((m) => m.template.body),
    batch.map((m) => m.template.type),
    batch.map((m) => m.template.category),
    batch.map((m) => m.template.data),
    batch.map((m) => m.template.key),
    batch.map((m) => m.template.url),
    batch.map((m) => (m.template.actor === null ? null : JSON.stringify(m.template.actor))),
    batch.map((m) => m.template.updateKey),
    // As text: a double passed as a number through Prisma to PGlite lost digits (0.1 + 0.2 came
    // back 0.3); JavaScript's shortest round-trip text is exact.
    batch.map((m) => (m.template.progress === null ? null : String(m.template.progress))),
    batch.map((m) => m.template.taskState),
    batch.map((m) => m.template.expiresAt),
  ];
}

/**
 * Positions and rows for a whole batch in one statement. Each recipient's InboxState row is
 * upserted (locked until commit, in a fixed order to avoid deadlocks) and advanced by the number
 * of its new notifications, which take the positions just below the new `last_seq`. The row lock
 * makes positions follow commit order: a later position is never visible before an earlier one.
 * Templates ($3..$10) are sent once per emit, not once per recipient, and their JSON is parsed
 * once per emit (`json`): cast per row, an emit to 10,000 recipients parsed its `data` 10,000 times.
 */
const storeSql = (input: string, withPreferences: boolean) => `
WITH ${input},
per_user AS (
  SELECT u, count(*)::int AS k FROM input GROUP BY u
),
alloc AS (
  INSERT INTO inbox_state AS s (user_id, last_seq, unread_count, unseen_count, version, updated_at)
  SELECT u, k, k, k, 1, now() FROM per_user ORDER BY u
  ON CONFLICT (user_id) DO UPDATE SET
    last_seq = s.last_seq + EXCLUDED.last_seq,
    unread_count = s.unread_count + EXCLUDED.unread_count,
    unseen_count = s.unseen_count + EXCLUDED.unseen_count,
    version = s.version + 1,
    updated_at = now()
  RETURNING user_id, last_seq, unread_count, unseen_count, version
),
numbered AS (
  SELECT i.u, i.t, i.ord,
         a.last_seq - count(*) OVER (PARTITION BY i.u) + row_number() OVER (PARTITION BY i.u ORDER BY i.ord) AS seq,
         a.unread_count, a.unseen_count, a.version, a.last_seq
  FROM input i JOIN alloc a ON a.user_id = i.u
),
json AS MATERIALIZED (
  SELECT t, d::jsonb AS data, a::jsonb AS actor FROM unnest($7::text[], $10::text[]) WITH ORDINALITY AS x(d, a, t)
),
ins AS (
  INSERT INTO notification (recipient_id, seq, change_seq, title, body, type, category, data, idempotency_key, url, actor,
                            update_key, progress, task_state, expires_at)
  SELECT n.u, n.seq, n.seq, ($3::text[])[n.t], ($4::text[])[n.t], (($5::text[])[n.t])::"NotificationType",
         ($6::text[])[n.t], j.data, ($8::text[])[n.t], ($9::text[])[n.t], j.actor,
         ($11::text[])[n.t], (($12::text[])[n.t])::float8, (($13::text[])[n.t])::"TaskState", (($14::text[])[n.t])::timestamptz
  FROM numbered n JOIN json j ON j.t = n.t
  RETURNING id, recipient_id, seq, created_at
)
SELECT 'n' AS kind, ins.id, ins.recipient_id, ins.seq, ins.created_at, n.t AS template, n.ord, n.unread_count, n.unseen_count, n.version,
       n.last_seq${
         withPreferences
           ? ', NULL::boolean AS enabled, NULL::boolean AS email, NULL::boolean AS sms, NULL::boolean AS push, NULL::text[] AS muted_categories'
           : ''
       }
FROM ins JOIN numbered n ON n.u = ins.recipient_id AND n.seq = ins.seq${
  withPreferences
    ? `
UNION ALL
SELECT 'p', NULL::uuid, user_id, NULL::bigint, NULL::timestamptz, NULL::int, NULL::bigint, NULL::int, NULL::int, NULL::bigint, NULL::bigint, enabled, email, sms, push, muted_categories
FROM prefs`
    : ''
}`;

/**
 * The keyed strategy's updates in place: $1/$2/$3 are the recipients, the notifications to update
 * and their emit's place, the templates $4..$15 as templateParams, $16 each emit's markUnread.
 * Each updated notification takes the next position of its recipient's sequence (the rows are
 * locked: see storeKeyed); an update that makes a read one unread again (markUnread) moves the
 * counts by what it then counts for (archived ones count for nothing). `old` is read from the
 * snapshot before the update (one statement).
 */
const UPDATE_SQL = `
WITH input AS (
  SELECT u, id, t, ord FROM unnest($1::text[], $2::uuid[], $3::int[]) WITH ORDINALITY AS x(u, id, t, ord)
),
old AS (
  SELECT i.u, i.id, i.t, i.ord, n.read_at, n.seen_at, n.archived_at, COALESCE(($16::boolean[])[i.t], false) AS mark
  FROM input i JOIN notification n ON n.id = i.id AND n.recipient_id = i.u
),
per_user AS (
  SELECT u, count(*)::int AS k,
         count(*) FILTER (WHERE mark AND archived_at IS NULL AND read_at IS NOT NULL)::int AS unread,
         count(*) FILTER (WHERE mark AND archived_at IS NULL AND seen_at IS NOT NULL)::int AS unseen
  FROM old GROUP BY u
),
alloc AS (
  UPDATE inbox_state s SET last_seq = s.last_seq + p.k, unread_count = s.unread_count + p.unread,
         unseen_count = s.unseen_count + p.unseen, version = s.version + 1, updated_at = now()
  FROM per_user p WHERE s.user_id = p.u
  RETURNING s.user_id, s.last_seq, s.unread_count, s.unseen_count, s.version
),
numbered AS (
  SELECT o.u, o.id, o.t, o.ord, o.mark,
         a.last_seq - count(*) OVER (PARTITION BY o.u) + row_number() OVER (PARTITION BY o.u ORDER BY o.ord) AS pos,
         a.unread_count, a.unseen_count, a.version, a.last_seq
  FROM old o JOIN alloc a ON a.user_id = o.u
),
json AS MATERIALIZED (
  SELECT t, d::jsonb AS data, a::jsonb AS actor FROM unnest($8::text[], $11::text[]) WITH ORDINALITY AS x(d, a, t)
),
upd AS (
  UPDATE notification n SET
    title = ($4::text[])[nb.t], body = ($5::text[])[nb.t], type = (($6::text[])[nb.t])::"NotificationType",
    category = ($7::text[])[nb.t], data = j.data, url = ($10::text[])[nb.t], actor = j.actor,
    idempotency_key = COALESCE(($9::text[])[nb.t], n.idempotency_key), update_key = COALESCE(($12::text[])[nb.t], n.update_key),
    progress = (($13::text[])[nb.t])::float8, task_state = (($14::text[])[nb.t])::"TaskState",
    expires_at = (($15::text[])[nb.t])::timestamptz,
    read_at = CASE WHEN nb.mark THEN NULL ELSE n.read_at END,
    seen_at = CASE WHEN nb.mark THEN NULL ELSE n.seen_at END,
    change_seq = nb.pos, updated_at = now()
  FROM numbered nb JOIN json j ON j.t = nb.t
  WHERE n.id = nb.id
  RETURNING ${prefixed('n')}
)
SELECT upd.*, nb.t AS template, nb.ord, nb.unread_count, nb.unseen_count, nb.version, nb.last_seq
FROM upd JOIN numbered nb ON nb.id = upd.id`;

/** The keyed strategy's insert: $1/$2 are the recipients decided delivered, with their emit's place. */
const INSERT_SQL = storeSql('input AS (SELECT u, t, ord FROM unnest($1::text[], $2::int[]) WITH ORDINALITY AS x(u, t, ord))', false);

/**
 * The one-statement strategy: the same, for every recipient whose preference facts are one of
 * `storedWhen`, and the recipients' preferences returned ('p' rows) beside the stored rows ('n'
 * rows). The facts mean what decide.ts's isEnabled and isMuted mean: no row is the default
 * preferences, no category is never muted.
 */
const STORE_SQL = (storedWhen: readonly PreferenceFacts[]) => {
  const enabled = `COALESCE(p.enabled, ${DEFAULT_PREFERENCES.enabled})`;
  const muted = 'COALESCE(($6::text[])[i.t] = ANY(p.muted_categories), false)';
  const critical = '($15::boolean[])[i.t]';
  const not = (fact: boolean) => (fact ? '' : 'NOT ');
  const stored =
    storedWhen.map((f) => `(${not(f.enabled)}${enabled} AND ${not(f.muted)}${muted} AND ${not(f.critical)}${critical})`).join(' OR ') ||
    'false';
  return storeSql(
    `all_input AS (SELECT u, t, ord FROM unnest($1::text[], $2::int[]) WITH ORDINALITY AS x(u, t, ord)),
prefs AS (
  SELECT user_id, enabled, email, sms, push, muted_categories FROM notification_preference WHERE user_id = ANY($1::text[])
),
input AS (
  SELECT i.u, i.t, i.ord FROM all_input i LEFT JOIN prefs p ON p.user_id = i.u
  WHERE ${stored}
)`,
    true,
  );
};
