import { decodeCursor, encodeCursor } from '../../src/domain/cursor.ts';
import { SseReader } from './sse.ts';

/** The position before a new user's first notification (what a fresh inbox's streamCursor holds). */
export const START_CURSOR = encodeCursor(0);

export interface GqlResult<T> {
  /** HTTP status of the answer. */
  status: number;
  /** Milliseconds from sending the request to reading the whole answer. */
  ms: number;
  data?: T | null;
  errors?: { message: string; extensions?: { code?: string; retriable?: boolean; [k: string]: unknown } }[];
}

/**
 * One GraphQL request over real HTTP. Network failures reject (callers decide whether to retry);
 * an answer that is not JSON comes back as one error holding its text.
 */
export async function gql<T = Record<string, unknown>>(
  url: string,
  token: string,
  query: string,
  variables: Record<string, unknown> = {},
  timeoutMs = 30_000,
): Promise<GqlResult<T>> {
  const started = performance.now();
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await response.text();
  const ms = performance.now() - started;
  try {
    return { status: response.status, ms, ...(JSON.parse(text) as object) };
  } catch {
    return { status: response.status, ms, errors: [{ message: text }] };
  }
}

/** Recipients for a stream of emits: `perEmit` of the users each time, rotating, so every user gets a steady share. */
export function rotatingRecipients(users: readonly string[], perEmit: number): () => string[] {
  let turn = 0;
  return () => {
    const base = turn++;
    return Array.from({ length: perEmit }, (_, k) => users[(base + k * 3) % users.length]!);
  };
}

export interface EmitDelivery {
  recipientId: string;
  status: 'DELIVERED' | 'SUPPRESSED' | 'DUPLICATE';
  notification: { id: string; cursor: string } | null;
}

export interface EmitOutcome {
  deliveredCount: number;
  duplicateCount: number;
  deliveries: EmitDelivery[];
}

const EMIT = `mutation($input: EmitNotificationInput!) {
  emitNotification(input: $input) { deliveredCount duplicateCount deliveries { recipientId status notification { id cursor } } }
}`;

/** Thrown by `emit` when the server answered with GraphQL errors (`code` is extensions.code). */
export class EmitError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

/** emitNotification over HTTP; rejects with EmitError on GraphQL errors, or with the network error. */
export async function emit(
  url: string,
  producerToken: string,
  input: { recipientIds: string[]; title: string; idempotencyKey?: string },
): Promise<EmitOutcome> {
  const r = await gql<{ emitNotification: EmitOutcome }>(url, producerToken, EMIT, {
    input: { body: 'chaos', type: 'UPDATE', ...input },
  });
  if (r.errors?.length || !r.data) {
    throw new EmitError(`emit failed: ${JSON.stringify(r.errors)}`, r.errors?.[0]?.extensions?.code);
  }
  return r.data.emitNotification;
}

/**
 * What producers were told was stored, per recipient: position -> notification id. A DUPLICATE
 * must name the notification an earlier attempt stored; anything else is recorded as a conflict.
 */
export class Ledger {
  readonly byUser = new Map<string, Map<number, string>>();
  readonly conflicts: string[] = [];
  /** `user\0position` of every DELIVERED status (a DUPLICATE's answer may arrive before it). */
  private readonly delivered = new Set<string>();

  record(outcome: EmitOutcome) {
    for (const d of outcome.deliveries) {
      if (d.status === 'SUPPRESSED') continue;
      if (!d.notification) {
        this.conflicts.push(`${d.status} for ${d.recipientId} without its notification`);
        continue;
      }
      const seq = decodeCursor(d.notification.cursor);
      let positions = this.byUser.get(d.recipientId);
      if (!positions) {
        positions = new Map();
        this.byUser.set(d.recipientId, positions);
      }
      const known = positions.get(seq);
      if (known !== undefined && known !== d.notification.id) {
        this.conflicts.push(`position ${seq} of ${d.recipientId} is ${known} and ${d.notification.id}`);
      }
      if (d.status === 'DELIVERED') {
        const k = `${d.recipientId}\u0000${seq}`;
        if (this.delivered.has(k)) this.conflicts.push(`position ${seq} of ${d.recipientId} delivered twice`);
        this.delivered.add(k);
      }
      positions.set(seq, d.notification.id);
    }
  }

  /** The positions stored for a user, ascending. */
  positions(userId: string): number[] {
    return [...(this.byUser.get(userId)?.keys() ?? [])].sort((a, b) => a - b);
  }

  total() {
    let n = 0;
    for (const p of this.byUser.values()) n += p.size;
    return n;
  }
}

export type ResumeVia = 'header' | 'after';

/** Which subscription a client holds: `notificationAdded`, or `inboxEvents` (additions, changes, counts). */
export type StreamKind = 'added' | 'inbox';

const SUBSCRIPTIONS: Record<StreamKind, string> = {
  added: 'subscription($after: String) { notificationAdded(after: $after) { id cursor } }',
  inbox: `subscription($after: String) { inboxEvents(after: $after) {
    __typename
    ... on NotificationAddedEvent { cursor notification { id cursor } }
    ... on NotificationChangedEvent { cursor notificationId change }
    ... on NotificationUpdatedEvent { cursor }
    ... on UnreadCountChangedEvent { cursor unreadCount }
  } }`,
};

interface InboxEvent {
  __typename: 'NotificationAddedEvent' | 'NotificationUpdatedEvent' | 'NotificationChangedEvent' | 'UnreadCountChangedEvent';
  cursor?: string;
  notification?: { id: string; cursor: string };
}

interface Connection {
  reader: SseReader;
  url: string;
  /** Set by the client when it hangs up: anything read afterwards was never "seen". */
  stopped: boolean;
  ended: boolean;
  sawComplete: boolean;
  done: Promise<void>;
}

/**
 * A client of `notificationAdded` or `inboxEvents` over real HTTP SSE that disconnects and resumes
 * like a real one. Its last cursor is what an EventSource keeps: the `id:` of the last event that
 * had one. It resumes from it either as a reconnecting EventSource does (original URL, whose
 * `after` is the first cursor, plus `Last-Event-ID`) or by passing it as `after`. Every addition it
 * sees is kept in order, across all its connections.
 */
export class ChaosSubscriber {
  readonly seqs: number[] = [];
  readonly ids: string[] = [];
  readonly errors: string[] = [];
  lastCursor: string;
  connects = 0;
  /** inboxEvents only: the position of the last event seen. */
  private position = 0;
  /** inboxEvents only: change and unread-count events seen. */
  changes = 0;
  counts = 0;
  /** How connections ended by the server's doing: 'complete' or 'eof' (ended without complete). */
  readonly serverEndings: ('complete' | 'eof')[] = [];
  private current: Connection | undefined;

  constructor(
    readonly userId: string,
    readonly token: string,
    readonly kind: StreamKind = 'added',
    readonly firstCursor = START_CURSOR,
  ) {
    this.lastCursor = firstCursor;
  }

  get url() {
    return this.current?.url;
  }

  /** Connected and the server has not ended the stream. */
  get live() {
    return this.current !== undefined && !this.current.ended;
  }

  /**
   * Opens a stream (closing the current one first). Resolves when the response has started; the
   * server may still be opening the subscription, which the resume cursor makes harmless.
   */
  async connect(url: string, via: ResumeVia): Promise<void> {
    await this.disconnect();
    const u = new URL(`${url}/graphql`);
    u.searchParams.set('query', SUBSCRIPTIONS[this.kind]);
    u.searchParams.set('variables', JSON.stringify({ after: via === 'header' ? this.firstCursor : this.lastCursor }));
    const headers: Record<string, string> = { accept: 'text/event-stream', authorization: `Bearer ${this.token}` };
    if (via === 'header') headers['last-event-id'] = this.lastCursor;
    // A time limit on the request only: the stream itself may live for as long as the test.
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error(`subscribe on ${url}: no response within 30 s`)), 30_000);
    const response = await fetch(u, { headers, signal: controller.signal }).finally(() => clearTimeout(timer));
    if (!response.ok || !response.headers.get('content-type')?.includes('text/event-stream')) {
      throw new Error(`subscribe on ${url} failed: ${response.status} ${await response.text()}`);
    }
    const connection: Connection = {
      reader: new SseReader(response),
      url,
      stopped: false,
      ended: false,
      sawComplete: false,
      done: Promise.resolve(),
    };
    connection.done = this.pump(connection);
    this.current = connection;
    this.connects++;
  }

  /** Hangs up (the client's side), dropping whatever was not read yet. */
  async disconnect(): Promise<void> {
    const c = this.current;
    if (!c) return;
    this.current = undefined;
    c.stopped = true;
    await c.reader.close();
    await c.done;
  }

  /** Resolves when the server ends the current stream (graceful shutdown, crash). */
  async ended(timeoutMs: number): Promise<'complete' | 'eof'> {
    const c = this.current;
    if (!c) throw new Error('not connected');
    await Promise.race([
      c.done,
      new Promise((_, reject) => setTimeout(() => reject(new Error(`${this.userId}: stream still open after ${timeoutMs} ms`)), timeoutMs)),
    ]);
    return c.sawComplete ? 'complete' : 'eof';
  }

  private async pump(c: Connection) {
    for (;;) {
      let event: Awaited<ReturnType<SseReader['next']>>;
      try {
        event = await c.reader.next(2_000);
      } catch {
        if (c.stopped) break;
        continue; // nothing for a while: keep listening
      }
      if (c.stopped || event === null) break;
      if (event.event === 'complete') {
        c.sawComplete = true;
        continue;
      }
      if (event.event !== 'next') continue;
      const result = JSON.parse(event.data) as GqlResult<{ notificationAdded?: { id: string; cursor: string }; inboxEvents?: InboxEvent }>;
      if (result.errors?.length || !result.data) {
        this.errors.push(`${c.url}: ${event.data}`);
        continue;
      }
      // EventSource semantics: an event with an id sets the id sent as Last-Event-ID; one without keeps it.
      if (event.id !== undefined) this.lastCursor = event.id;
      let added: { id: string; cursor: string } | undefined = result.data.notificationAdded;
      const inbox = result.data.inboxEvents;
      if (inbox !== undefined) {
        if (event.id !== inbox.cursor) this.errors.push(`SSE id ${event.id} differs from cursor ${inbox.cursor}`);
        // Events come in position order: each change at a position of its own, the counts at the last one's.
        const position = decodeCursor(inbox.cursor ?? '');
        const counts = inbox.__typename === 'UnreadCountChangedEvent';
        if (position < this.position || (!counts && position === this.position && this.position > 0)) {
          this.errors.push(`${inbox.__typename} at ${position} after ${this.position}`);
        }
        this.position = position;
      }
      // An addition is tallied at its own position (replayed after changes to it, the event is at the latest change's).
      if (inbox?.__typename === 'NotificationAddedEvent') added = { id: inbox.notification!.id, cursor: inbox.notification!.cursor };
      else if (inbox?.__typename === 'NotificationChangedEvent') this.changes++;
      else if (inbox?.__typename === 'UnreadCountChangedEvent') this.counts++;
      if (!added) continue;
      if (inbox === undefined && event.id !== added.cursor) this.errors.push(`SSE id ${event.id} differs from cursor ${added.cursor}`);
      this.seqs.push(decodeCursor(added.cursor));
      this.ids.push(added.id);
    }
    c.ended = true;
    if (!c.stopped) this.serverEndings.push(c.sawComplete ? 'complete' : 'eof');
  }
}

export interface Tally {
  emitted: number;
  delivered: number;
  lost: number;
  duplicated: number;
  /** Positions received that no emit produced (or out of order). */
  unexpected: number;
}

/** Compares what a subscriber received with what was emitted for its user. */
export function tally(expected: readonly number[], received: readonly number[]): Tally {
  const want = new Set(expected);
  const seen = new Set<number>();
  let duplicated = 0;
  let unexpected = 0;
  let previous = 0;
  for (const seq of received) {
    if (seen.has(seq)) duplicated++;
    else if (!want.has(seq) || seq < previous) unexpected++;
    seen.add(seq);
    previous = Math.max(previous, seq);
  }
  const delivered = expected.filter((s) => seen.has(s)).length;
  return { emitted: expected.length, delivered, lost: expected.length - delivered, duplicated, unexpected };
}

/** Sums tallies and prints the one line of counts a chaos test reports. */
export function report(name: string, tallies: readonly Tally[], extra: Record<string, number | string> = {}): Tally {
  const sum: Tally = { emitted: 0, delivered: 0, lost: 0, duplicated: 0, unexpected: 0 };
  for (const t of tallies) for (const k of Object.keys(sum) as (keyof Tally)[]) sum[k] += t[k];
  const more = Object.entries(extra)
    .map(([k, v]) => ` ${k}=${v}`)
    .join('');
  console.log(
    `[chaos] ${name}: emitted=${sum.emitted} delivered=${sum.delivered} lost=${sum.lost} duplicated=${sum.duplicated} unexpected=${sum.unexpected}${more}`,
  );
  return sum;
}

/** Polls `condition` until it holds; rejects with `describe()` after `timeoutMs`. */
export async function waitFor(condition: () => boolean, timeoutMs: number, describe: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${describe()}`);
    await sleep(20);
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A small seeded PRNG (mulberry32), so a failing run can be replayed with CHAOS_SEED. */
export function seededRandom(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (min: number, max: number) => min + Math.floor(next() * (max - min + 1)),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!,
    chance: (p: number) => next() < p,
  };
}
