import type { Actor, NotificationRecord, NotificationType } from './model.ts';

/** How a notification changed, as pushed on `inboxEvents`. */
export type ChangeKind = 'READ' | 'UNREAD' | 'SEEN' | 'ARCHIVED' | 'UNARCHIVED' | 'DELETED';

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
}

export interface WireChange {
  id: string;
  seq: number;
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
  added?: WireNotification[];
  changed?: { change: ChangeKind; items: WireChange[] };
  /**
   * The user was erased (eraseUser): every instance ends the user's streams with USER_ERASED. `v`
   * and `unread` are then 0, so an instance that does not know the field ignores the message.
   */
  erased?: true;
}

/** A message that adds notifications (emit's: one per recipient of a commit). */
export type AddedMessage = InboxMessage & { added: WireNotification[] };

/**
 * Adds a notification to its recipient's message of this commit, made on the first; `v` and
 * `unread` are the recipient's inbox after the commit, the same for all of its rows.
 */
export function addToMessage(messages: Map<string, AddedMessage>, n: WireNotification, v: number, unread: number, unseen: number): void {
  let message = messages.get(n.recipientId);
  if (!message) {
    message = { v, unread, unseen, added: [] };
    messages.set(n.recipientId, message);
  }
  message.added.push(n);
}

/** Puts each message's additions in position order (the order streams deliver them in). */
export function sortAdded(messages: Iterable<AddedMessage>): void {
  for (const m of messages) m.added.sort((a, b) => a.seq - b.seq);
}

/** A changed notification as a change event carries it: only what a change moves. */
export function toWireChange(n: NotificationRecord): WireChange {
  return {
    id: n.id,
    seq: n.seq,
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
  /** [title, body, type, category, data, url, actor]; url and actor absent from instances of the release before them. */
  t: [string, string, NotificationType, string | null, unknown, (string | null)?, (Actor | null)?][];
  /** [userId, v, unread, added as [template, id, seq, createdAt, readAt, archivedAt, seenAt][] or null, changed or null, unseen] (the last of each absent before seen/unseen) */
  e: [
    string,
    number,
    number,
    [number, string, number, string, string | null, string | null, (string | null)?][] | null,
    InboxMessage['changed'] | null,
    number?,
  ][];
}

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
    for (const { index, template } of candidates) {
      const [title, , type, category, data, url, actor] = template;
      if (title === n.title && type === n.type && category === n.category && data === n.data && url === n.url && actor === n.actor) {
        return index;
      }
    }
    const template: PackedFanout['t'][number] = [n.title, n.body, n.type, n.category, n.data, n.url, n.actor];
    candidates.push({ index: t.length, template });
    t.push(template);
    return t.length - 1;
  };
  const e: PackedFanout['e'] = [];
  for (const [userId, m] of messages) {
    const added: PackedFanout['e'][number][3] =
      m.added?.map((n) => [templateOf(n), n.id, n.seq, n.createdAt, n.readAt, n.archivedAt, n.seenAt ?? null]) ?? null;
    e.push(
      m.unseen === undefined
        ? [userId, m.v, m.unread, added, m.changed ?? null]
        : [userId, m.v, m.unread, added, m.changed ?? null, m.unseen],
    );
  }
  return origin === undefined ? { t, e } : { o: origin, t, e };
}

export function unpackFanout(packed: PackedFanout): [string, InboxMessage][] {
  return packed.e.map(([userId, v, unread, added, changed, unseen]) => {
    const message: InboxMessage = unseen === undefined ? { v, unread } : { v, unread, unseen };
    if (added) {
      message.added = added.map(([i, id, seq, createdAt, readAt, archivedAt, seenAt = null]) => {
        const template = packed.t[i];
        // From another instance: a message naming a template it does not hold is malformed.
        if (template === undefined) throw new Error(`fan-out names template ${i} of ${packed.t.length}`);
        const [title, body, type, category, data, url = null, actor = null] = template;
        return { id, recipientId: userId, seq, title, body, type, category, data, url, actor, readAt, seenAt, archivedAt, createdAt };
      });
    }
    if (changed) message.changed = changed;
    return [userId, message];
  });
}
