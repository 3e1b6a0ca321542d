import type { Actor, NotificationRecord, NotificationType, TaskState } from './model.ts';

/** How a notification changed, as pushed on `inboxEvents`. */
export type ChangeKind = 'READ' | 'UNREAD' | 'SEEN' | 'ARCHIVED' | 'UNARCHIVED' | 'DELETED' | 'EXPIRED';

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
  url: string | null;
  actor: Actor | null;
  readAt: string | null;
  /** Absent from instances of the release before seen/unseen (read ones were seen then). */
  seenAt?: string | null;
  archivedAt: string | null;
  createdAt: string;
  /** The position of its latest change (absent from instances before the log: `seq`). */
  changeSeq?: number;
  progress?: number | null;
  taskState?: TaskState | null;
  updatedAt?: string | null;
  /** Absent from instances before expiry. */
  expiresAt?: string | null;
}

export interface WireChange {
  id: string;
  /** The notification's own position (its addition). */
  seq: number;
  /** The position this change took (absent from instances before the log). */
  pos?: number;
  readAt: string | null;
  seenAt?: string | null;
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
  /** The exact unseen count after the transaction (absent from instances before seen/unseen). */
  unseen?: number;
  /**
   * The positions the transaction took in the user's log: after `p[0]`, up to and including
   * `p[1]`. A stream at `p[0]` applies the message; at or past `p[1]` it has it already; before
   * `p[0]` it missed something and reads it from the database. Absent from a message that took
   * no position (retention's count changes) and from instances before the log.
   */
  p?: [number, number];
  /** New notifications, each at its position (`seq`). */
  added?: WireNotification[];
  /** Notifications updated in place by an emit with their key, each at its position (`changeSeq`). */
  updated?: WireNotification[];
  changed?: { change: ChangeKind; items: WireChange[] };
  /**
   * The user was erased (eraseUser): every instance ends the user's streams with USER_ERASED. `v`
   * and `unread` are then 0, so an instance that does not know the field ignores the message.
   */
  erased?: true;
}

/** A message that adds or updates notifications (emit's: one per recipient of a commit). */
export type AddedMessage = InboxMessage & { added: WireNotification[]; p: [number, number] };

/** A recipient's inbox after a statement of the commit: its version, counts and newest position. */
export interface InboxAfter {
  v: number;
  unread: number;
  unseen: number;
  lastSeq: number;
}

/**
 * Adds a new (`added`) or updated notification to its recipient's message of this commit, made on
 * the first. The message keeps the inbox as the commit's last statement left it (the highest
 * version), and its range ends at the newest position.
 */
export function addToMessage(messages: Map<string, AddedMessage>, n: WireNotification, after: InboxAfter, updated = false): void {
  let message = messages.get(n.recipientId);
  if (!message) {
    message = { v: after.v, unread: after.unread, unseen: after.unseen, p: [after.lastSeq, after.lastSeq], added: [] };
    messages.set(n.recipientId, message);
  } else if (after.v > message.v) {
    message.v = after.v;
    message.unread = after.unread;
    message.unseen = after.unseen;
    message.p[1] = after.lastSeq;
  }
  if (!updated) message.added.push(n);
  else if (message.updated) message.updated.push(n);
  else message.updated = [n];
}

/**
 * Puts each message's additions and updates in position order (the order streams deliver them in)
 * and sets the range: the commit took one position per notification it added or updated, the
 * last ones of the user's sequence (the row lock is held until commit).
 */
export function sortAdded(messages: Iterable<AddedMessage>): void {
  for (const m of messages) {
    m.added.sort((a, b) => a.seq - b.seq);
    m.updated?.sort((a, b) => (a.changeSeq ?? a.seq) - (b.changeSeq ?? b.seq));
    m.p[0] = m.p[1] - m.added.length - (m.updated?.length ?? 0);
  }
}

/** A changed notification as a change event carries it: only what a change moves. */
export function toWireChange(n: NotificationRecord): WireChange {
  return {
    id: n.id,
    seq: n.seq,
    pos: n.changeSeq,
    readAt: n.readAt?.toISOString() ?? null,
    seenAt: n.seenAt?.toISOString() ?? null,
    archivedAt: n.archivedAt?.toISOString() ?? null,
  };
}

export function fromWire(n: WireNotification): NotificationRecord {
  return {
    ...n,
    readAt: n.readAt ? new Date(n.readAt) : null,
    // An older instance's message: a notification read then was seen.
    seenAt: n.seenAt ? new Date(n.seenAt) : n.readAt ? new Date(n.readAt) : null,
    archivedAt: n.archivedAt ? new Date(n.archivedAt) : null,
    createdAt: new Date(n.createdAt),
    changeSeq: n.changeSeq ?? n.seq,
    progress: n.progress ?? null,
    taskState: n.taskState ?? null,
    updatedAt: n.updatedAt ? new Date(n.updatedAt) : null,
    expiresAt: n.expiresAt ? new Date(n.expiresAt) : null,
  };
}

/** A stored notification as the bus carries it. */
export function toWire(n: NotificationRecord): WireNotification {
  return {
    ...n,
    readAt: n.readAt?.toISOString() ?? null,
    seenAt: n.seenAt?.toISOString() ?? null,
    archivedAt: n.archivedAt?.toISOString() ?? null,
    createdAt: n.createdAt.toISOString(),
    updatedAt: n.updatedAt?.toISOString() ?? null,
    expiresAt: n.expiresAt?.toISOString() ?? null,
  };
}

/**
 * A fan-out (one commit's messages for many users, one Redis message) as it travels: each distinct
 * notification content (title, body, type, category, data, url, actor) once, and per recipient only what is
 * its own (id, position, times). A bulk emit to 10,000 users sent its content 10,000 times, which
 * every instance then parsed back into 10,000 copies.
 */
export interface PackedFanout {
  /** The publishing instance (it delivers to its own streams without waiting for the echo). */
  o?: string;
  /**
   * [title, body, type, category, data, url, actor, progress, taskState, expiresAt]; url and actor
   * absent from instances of the release before them, progress and taskState from those before the
   * log, expiresAt from those before expiry.
   */
  t: [
    string,
    string,
    NotificationType,
    string | null,
    unknown,
    (string | null)?,
    (Actor | null)?,
    (number | null)?,
    (TaskState | null)?,
    (string | null)?,
  ][];
  /**
   * [userId, v, unread, added or null, changed or null, unseen, positions, updated]; each notification
   * as [template, id, seq, createdAt, readAt, archivedAt, seenAt, changeSeq, updatedAt]. The
   * elements after each release's own are absent from instances of that release.
   */
  e: [
    string,
    number,
    number,
    PackedNotification[] | null,
    InboxMessage['changed'] | null,
    number?,
    ([number, number] | null)?,
    PackedNotification[]?,
  ][];
}

type PackedNotification = [number, string, number, string, string | null, string | null, (string | null)?, number?, (string | null)?];

export function packFanout(messages: Iterable<readonly [string, InboxMessage]>, origin?: string): PackedFanout {
  const t: PackedFanout['t'] = [];
  // Candidates by body (most often one): the same content is the same strings and the same data
  // object. Each with its place in `t`.
  const byBody = new Map<string, { index: number; template: PackedFanout['t'][number] }[]>();
  const templateOf = (n: WireNotification) => {
    let candidates = byBody.get(n.body);
    if (!candidates) {
      candidates = [];
      byBody.set(n.body, candidates);
    }
    const progress = n.progress ?? null;
    const taskState = n.taskState ?? null;
    const expiresAt = n.expiresAt ?? null;
    for (const { index, template } of candidates) {
      const [title, , type, category, data, url, actor, p = null, s = null, e = null] = template;
      if (
        title === n.title &&
        type === n.type &&
        category === n.category &&
        data === n.data &&
        url === n.url &&
        actor === n.actor &&
        p === progress &&
        s === taskState &&
        e === expiresAt
      ) {
        return index;
      }
    }
    const template: PackedFanout['t'][number] =
      progress === null && taskState === null && expiresAt === null
        ? [n.title, n.body, n.type, n.category, n.data, n.url, n.actor]
        : expiresAt === null
          ? [n.title, n.body, n.type, n.category, n.data, n.url, n.actor, progress, taskState]
          : [n.title, n.body, n.type, n.category, n.data, n.url, n.actor, progress, taskState, expiresAt];
    candidates.push({ index: t.length, template });
    t.push(template);
    return t.length - 1;
  };
  const pack = (n: WireNotification): PackedNotification => {
    const base: PackedNotification = [templateOf(n), n.id, n.seq, n.createdAt, n.readAt, n.archivedAt, n.seenAt ?? null];
    if (n.changeSeq !== undefined) base.push(n.changeSeq, n.updatedAt ?? null);
    return base;
  };
  const e: PackedFanout['e'] = [];
  for (const [userId, m] of messages) {
    const added = m.added?.map(pack) ?? null;
    const entry: PackedFanout['e'][number] = [userId, m.v, m.unread, added, m.changed ?? null];
    if (m.unseen !== undefined || m.p !== undefined || m.updated !== undefined) entry.push(m.unseen ?? 0);
    if (m.p !== undefined || m.updated !== undefined) entry.push(m.p ?? null);
    if (m.updated !== undefined) entry.push(m.updated.map(pack));
    e.push(entry);
  }
  return origin === undefined ? { t, e } : { o: origin, t, e };
}

export function unpackFanout(packed: PackedFanout): [string, InboxMessage][] {
  return packed.e.map(([userId, v, unread, added, changed, unseen, p, updated]) => {
    const unpack = ([i, id, seq, createdAt, readAt, archivedAt, seenAt = null, changeSeq, updatedAt = null]: PackedNotification) => {
      const template = packed.t[i];
      // From another instance: a message naming a template it does not hold is malformed.
      if (template === undefined) throw new Error(`fan-out names template ${i} of ${packed.t.length}`);
      const [title, body, type, category, data, url = null, actor = null, progress = null, taskState = null, expiresAt = null] = template;
      const n: WireNotification = {
        id,
        recipientId: userId,
        seq,
        title,
        body,
        type,
        category,
        data,
        url,
        actor,
        readAt,
        seenAt,
        archivedAt,
        createdAt,
      };
      if (changeSeq !== undefined) Object.assign(n, { changeSeq, progress, taskState, updatedAt, expiresAt });
      return n;
    };
    const message: InboxMessage = unseen === undefined ? { v, unread } : { v, unread, unseen };
    if (p) message.p = p;
    if (added) message.added = added.map(unpack);
    if (updated) message.updated = updated.map(unpack);
    if (changed) message.changed = changed;
    return [userId, message];
  });
}
