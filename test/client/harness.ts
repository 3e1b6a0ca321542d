import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EMIT_SCOPE, signToken } from '../../src/auth/tokens.ts';
import { openDatabase } from '../../src/db/index.ts';
import { TEST_SECRET } from '../helpers/app.ts';
import { createScratchDatabase, TEST_DATABASE_URL, TEST_REDIS_URL } from '../helpers/backends.ts';
import { Cluster, type Instance } from '../helpers/cluster.ts';

/**
 * Real Herald server processes for the client tests.
 * - `embedded`: one instance on an embedded database; an outage kills it and starts a new process
 *   on the same data (on another port).
 * - `cluster` (DATABASE_URL and REDIS_URL set): instances on one PostgreSQL and Redis; clients use
 *   one, producers emit on another; an outage kills the clients' instance and they move on to the
 *   producers' one (a fresh spare is started for the next outage).
 */
export type Mode = 'embedded' | 'cluster';
export const MODES: Mode[] = TEST_DATABASE_URL && TEST_REDIS_URL ? ['embedded', 'cluster'] : ['embedded'];

export interface Notification {
  id: string;
  title: string;
  cursor: string;
}

export class Herald {
  private serving!: Instance;
  private spare: Promise<Instance> | undefined;
  private constructor(
    readonly mode: Mode,
    private readonly cluster: Cluster,
    private readonly cleanupData: () => Promise<void>,
  ) {}

  static async start(mode: Mode): Promise<Herald> {
    if (mode === 'embedded') {
      const dir = await mkdtemp(join(tmpdir(), 'herald-client-'));
      const herald = new Herald(mode, new Cluster({ HERALD_DATA_DIR: join(dir, 'data') }), () => rm(dir, { recursive: true, force: true }));
      herald.serving = await herald.cluster.start();
      return herald;
    }
    const scratch = await createScratchDatabase('herald_client');
    const db = await openDatabase({ url: scratch.url });
    await db.migrate();
    await db.close();
    const herald = new Herald(mode, new Cluster({ DATABASE_URL: scratch.url, REDIS_URL: TEST_REDIS_URL! }), scratch.drop);
    const [serving, spare] = await Promise.all([herald.cluster.start(), herald.cluster.start()]);
    herald.serving = serving;
    herald.spare = Promise.resolve(spare);
    return herald;
  }

  /** Where clients connect right now (a url function returns this, so retries follow outages). */
  get url(): string {
    return `${this.serving.url}/graphql`;
  }

  /** Where producers emit: another instance than the clients' in cluster mode. */
  async emitBase(): Promise<string> {
    return this.spare ? (await this.spare).url : this.serving.url;
  }

  /**
   * The clients' instance goes away (`kill`: SIGKILL; `stop`: SIGTERM, streams end without
   * `complete`). Resolves once a replacement serves (embedded: a new process on the same data).
   */
  async outage(how: 'kill' | 'stop'): Promise<void> {
    const down = this.serving;
    await (how === 'kill' ? down.kill() : down.stop());
    if (this.mode === 'embedded') {
      this.serving = await this.cluster.start();
      return;
    }
    this.serving = await this.spare!;
    this.spare = this.cluster.start();
    await this.spare;
  }

  token(sub: string): Promise<string> {
    return signToken(TEST_SECRET, { sub });
  }

  async gql<T>(base: string, token: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
    const response = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as { data?: T; errors?: unknown[] };
    if (body.errors) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`);
    return body.data!;
  }

  /** The inbox's streamCursor for a user (what a client subscribes `after`). */
  async streamCursor(token: string): Promise<string> {
    const data = await this.gql<{ notifications: { streamCursor: string } }>(this.serving.url, token, '{ notifications { streamCursor } }');
    return data.notifications.streamCursor;
  }

  /** Emits one notification to `userId` (as a producer, on the producers' instance). */
  async emit(userId: string, title: string): Promise<Notification> {
    const producer = await signToken(TEST_SECRET, { sub: 'producer', scope: EMIT_SCOPE });
    const data = await this.gql<{ emitNotification: { deliveries: { notification: Notification }[] } }>(
      await this.emitBase(),
      producer,
      'mutation($input: EmitNotificationInput!) { emitNotification(input: $input) { deliveries { notification { id title cursor } } } }',
      { input: { recipientIds: [userId], title, body: 'b', type: 'UPDATE' } },
    );
    return data.emitNotification.deliveries[0]!.notification;
  }

  /** Marks notifications read as their user (on the clients' instance). */
  async markRead(token: string, ids: string[]): Promise<void> {
    await this.gql(this.serving.url, token, 'mutation($ids: [ID!]!) { markNotificationsRead(ids: $ids) { changedCount } }', { ids });
  }

  async close(): Promise<void> {
    await this.cluster.cleanup();
    await this.cleanupData();
  }
}

/**
 * A retry strategy for graphql-sse's `retry` option that waits while the gate is closed, so a test
 * decides when the client reconnects (after emitting during the outage). `dropped` resolves when
 * the client starts waiting for a retry, i.e. it has noticed the connection is gone.
 */
export class RetryGate {
  private open = true;
  private waiters: (() => void)[] = [];
  private droppedResolve: (() => void) | undefined;
  dropped: Promise<void> = Promise.resolve();
  retries = 0;

  close(): void {
    this.open = false;
    this.dropped = new Promise((resolve) => {
      this.droppedResolve = resolve;
    });
  }

  release(): void {
    this.open = true;
    for (const w of this.waiters.splice(0)) w();
  }

  readonly retry = async (): Promise<void> => {
    this.retries++;
    this.droppedResolve?.();
    if (!this.open) await new Promise<void>((resolve) => this.waiters.push(resolve));
    await sleep(50);
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `check` holds (polling), failing with `what` after `ms`. */
export async function until(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** A unique user id per test. */
export const userId = (prefix: string) => `${prefix}-${Math.random().toString(36).slice(2, 8)}`;

/** One subscription under test, whatever the client library. */
export interface Subscriber {
  /** Each received notification (title, cursor from the data), in order of arrival. */
  received: Notification[];
  /** An error or completion the subscription reported (it should do neither). */
  ended: () => unknown;
  dispose(): void;
}

export interface ScenarioResult {
  emitted: Notification[];
  received: Notification[];
  retries: number;
  ended: unknown;
}

export const NOTIFICATION_ADDED = 'subscription Added($after: String) { notificationAdded(after: $after) { id title cursor } }';

/**
 * k1, k2 arrive live; the clients' instance goes away (`kill` or `stop`); k3, k4 are emitted while
 * the client waits to retry; it reconnects (embedded: to the restarted process; cluster: to another
 * instance); k5 arrives live. `open` subscribes with the user's token, from the inbox's
 * streamCursor, with `gate.retry` as graphql-sse's `retry` and `url` as its url function.
 */
export async function outageScenario(
  herald: Herald,
  how: 'kill' | 'stop',
  open: (setup: { token: string; after: string; gate: RetryGate; url: () => string }) => Subscriber,
): Promise<ScenarioResult> {
  const user = userId(`client-${how}`);
  const token = await herald.token(user);
  const after = await herald.streamCursor(token);
  const gate = new RetryGate();
  const sub = open({ token, after, gate, url: () => herald.url });
  const titles = () => sub.received.map((n) => n.title);
  try {
    const emitted = [await herald.emit(user, 'k1'), await herald.emit(user, 'k2')];
    await until(() => titles().length >= 2, 'k1 and k2');
    gate.close();
    await herald.outage(how);
    await gate.dropped;
    emitted.push(await herald.emit(user, 'k3'), await herald.emit(user, 'k4'));
    gate.release();
    await until(() => titles().includes('k4'), 'k4 after the reconnect', 30_000);
    emitted.push(await herald.emit(user, 'k5'));
    await until(() => titles().includes('k5'), 'k5 live after the reconnect');
    await sleep(300); // anything extra would have arrived by now
    return { emitted, received: [...sub.received], retries: gate.retries, ended: sub.ended() };
  } finally {
    sub.dispose();
  }
}
