import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMIT_SCOPE, signToken } from '../../src/auth/tokens.ts';
import { openDatabase } from '../../src/db/index.ts';
import { TEST_SECRET } from '../helpers/app.ts';
import { createScratchDatabase, TEST_DATABASE_URL, TEST_REDIS_URL } from '../helpers/backends.ts';
import {
  ChaosSubscriber,
  type EmitOutcome,
  emit,
  gql,
  Ledger,
  type ResumeVia,
  report,
  rotatingRecipients,
  seededRandom,
  sleep,
  tally,
  waitFor,
} from '../helpers/chaos-client.ts';
import { PrivateRedis, REDIS_SERVER_AVAILABLE } from '../helpers/chaos-redis.ts';
import { Cluster, type Instance } from '../helpers/cluster.ts';

/**
 * Chaos tests of delivery correctness: real Herald processes, real PostgreSQL and Redis (a private
 * redis-server where Redis is restarted), clients over real HTTP SSE. Each test breaks something on
 * purpose, then asserts that every subscriber received exactly the positions emitted for its user,
 * in order, with no gap and no duplicate, and prints one line of counts.
 *
 * The periodic safety net (CATCHUP_INTERVAL_MS) is set far beyond every test's duration, so a
 * position recovered here was recovered by the mechanism under test, not by the sweep.
 */

const RUN = Math.random().toString(36).slice(2, 8);
const SEED = Number(process.env.CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));
// The producers here emit to the same few users continuously (2 lanes, about a hundred emits a
// second) for tens of seconds, and subscribers reconnect at random from one address: past
// RATE_LIMIT_RECIPIENT's 1,000 a minute by design, so the emit and stream-open limits are off;
// these tests are about delivery (test/security/rate-limits.test.ts tests the limits).
const CHAOS_ENV = {
  CATCHUP_INTERVAL_MS: '600000',
  RATE_LIMIT_RECIPIENT: 'off',
  RATE_LIMIT_PRODUCER_RECIPIENTS: 'off',
  RATE_LIMIT_STREAM_OPENS_PER_USER: 'off',
  RATE_LIMIT_STREAM_OPENS_PER_IP: 'off',
};
/** How long a subscriber may take to receive what was emitted (generous: the machine is shared). */
const SETTLE_MS = 20_000;

const userToken = (sub: string) => signToken(TEST_SECRET, { sub });
const producerToken = () => signToken(TEST_SECRET, { sub: 'chaos-producer', scope: EMIT_SCOPE });

/** Waits until every subscriber has every position the ledger holds for its user. */
async function settle(subscribers: ChaosSubscriber[], ledger: Ledger, timeoutMs = SETTLE_MS) {
  await waitFor(
    () => subscribers.every((s) => s.seqs.length >= ledger.positions(s.userId).length),
    timeoutMs,
    () =>
      subscribers
        .filter((s) => s.seqs.length < ledger.positions(s.userId).length)
        .map((s) => `${s.userId}: ${s.seqs.length}/${ledger.positions(s.userId).length} (last ${s.seqs.at(-1)})`)
        .join(', '),
  );
}

/**
 * The exact-delivery check shared by every test: prints the counts line first (so a failing run
 * still shows them), then asserts that each subscriber received exactly its user's emitted
 * positions, with no gap and no duplicate, and the notifications the producers were told. A
 * notificationAdded subscriber receives them in position order. An inboxEvents subscriber
 * receives its events in position order (the chaos client checks each event's position), in
 * which an addition changed while the subscriber was away comes at its latest change's position.
 */
function verify(name: string, subscribers: ChaosSubscriber[], ledger: Ledger, extra: Record<string, number | string> = {}) {
  const received = (s: ChaosSubscriber) => (s.kind === 'added' ? s.seqs : [...s.seqs].sort((a, b) => a - b));
  report(
    name,
    subscribers.map((s) => tally(ledger.positions(s.userId), received(s))),
    extra,
  );
  for (const s of subscribers) {
    const expected = ledger.positions(s.userId);
    expect(s.errors, `${s.userId} stream errors`).toEqual([]);
    // Positions of a user are dense when only emits took them: every emit succeeded, so nothing may
    // be missing on the emit side either (an inboxEvents user's reads take positions too).
    if (s.kind === 'added') expect(expected, `${s.userId} emitted positions`).toEqual(expected.map((_, i) => i + 1));
    expect(received(s), `${s.userId} received positions`).toEqual(expected);
    const ids = ledger.byUser.get(s.userId)!;
    expect(
      s.ids.filter((id, i) => ids.get(s.seqs[i]!) !== id),
      `${s.userId} notification ids`,
    ).toEqual([]);
  }
  expect(ledger.conflicts).toEqual([]);
}

/** Resolves when an instance's /ready answers (its database and Redis are reachable). */
async function ready(instance: Instance, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await fetch(`${instance.url}/ready`, { signal: AbortSignal.timeout(2_000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${instance.url} not ready after ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** A producer emitting continuously (one emit after another per lane) until stopped. */
class Producer {
  emits = 0;
  readonly errors: string[] = [];
  /** Slowest emit (ms) since the test last set this to 0. */
  slowest = 0;
  private running = false;
  private lanes: Promise<void>[] = [];

  constructor(
    private readonly target: () => string,
    private readonly token: string,
    private readonly ledger: Ledger,
    private readonly recipients: () => string[],
  ) {}

  start(lanes = 2) {
    this.running = true;
    this.lanes = Array.from({ length: lanes }, async () => {
      while (this.running) {
        const started = performance.now();
        try {
          this.ledger.record(await emit(this.target(), this.token, { recipientIds: this.recipients(), title: `p${this.emits}` }));
          this.emits++;
        } catch (error) {
          this.errors.push((error as Error).message);
          await sleep(50);
        }
        this.slowest = Math.max(this.slowest, performance.now() - started);
        await sleep(5);
      }
    });
  }

  async stop() {
    this.running = false;
    await Promise.all(this.lanes);
  }
}

/**
 * The embedded instance's first start (creating the database, migrating) is the slowest step of the
 * file, and mostly waits on one core: it begins in the background before the other tests, and the
 * embedded test awaits it.
 */
const embedded = { cluster: new Cluster(CHAOS_ENV), dir: '', first: undefined as Promise<Instance> | undefined };
beforeAll(async () => {
  embedded.dir = await mkdtemp(join(tmpdir(), 'herald-chaos-'));
  embedded.first = embedded.cluster.start({ HERALD_DATA_DIR: embedded.dir });
  embedded.first.catch(() => {}); // the embedded test awaits it and reports a failure
});
afterAll(async () => {
  await embedded.cluster.cleanup();
  if (embedded.dir) await rm(embedded.dir, { recursive: true, force: true });
});

describe.runIf(TEST_DATABASE_URL && TEST_REDIS_URL)('chaos: delivery correctness (PostgreSQL + Redis)', () => {
  let databaseUrl: string;
  let drop: () => Promise<void>;
  let producer: string;
  const clusters: Cluster[] = [];
  const redis = new PrivateRedis();
  let shared: Promise<[Instance, Instance]> | undefined;
  const random = seededRandom(SEED);

  /** Two instances on the shared Redis, started once for the tests that do not restart Redis. */
  const sharedPair = () => {
    if (!shared) {
      const cluster = new Cluster({ DATABASE_URL: databaseUrl, REDIS_URL: TEST_REDIS_URL!, ...CHAOS_ENV });
      clusters.push(cluster);
      shared = Promise.all([cluster.start(), cluster.start()]);
    }
    return shared;
  };

  beforeAll(async () => {
    console.log(`[chaos] run ${RUN}, CHAOS_SEED=${SEED}`);
    const scratch = await createScratchDatabase('herald_chaos');
    databaseUrl = scratch.url;
    drop = scratch.drop;
    const db = await openDatabase({ url: scratch.url });
    await db.migrate();
    await db.close();
    producer = await producerToken();
  });

  afterAll(async () => {
    for (const c of clusters) await c.cleanup();
    await redis.stop();
    await drop?.();
  });

  it.runIf(REDIS_SERVER_AVAILABLE)(
    'a private Redis killed and restarted mid-stream: emits keep succeeding, every subscriber ends with every position',
    async () => {
      await redis.start();
      const cluster = new Cluster({ DATABASE_URL: databaseUrl, REDIS_URL: redis.url, ...CHAOS_ENV });
      clusters.push(cluster);
      const [a, b] = await Promise.all([cluster.start(), cluster.start()]);
      const users = Array.from({ length: 8 }, (_, i) => `redis-${RUN}-${i}`);
      const subscribers = await Promise.all(users.map(async (u) => new ChaosSubscriber(u, await userToken(u))));
      await Promise.all(subscribers.map((s) => s.connect(a.url, 'after')));
      const ledger = new Ledger();
      // Each emit goes to three of the users, rotating, so every user gets a steady stream.
      const recipients = rotatingRecipients(users, 3);
      const p = new Producer(() => b.url, producer, ledger, recipients);

      // Phase 1: Redis up, delivery live.
      p.start();
      await waitFor(
        () => ledger.total() >= 60,
        20_000,
        () => `emitted ${ledger.total()}, errors ${p.errors.slice(0, 3)}`,
      );
      const beforeKill = ledger.total();

      // Phase 2: Redis gone. Emits still succeed (rows committed, publish fails fast) and the streams stay open.
      await redis.kill();
      p.slowest = 0;
      // A client connecting during the outage (a second tab of the first user, on B, where that user
      // has no stream yet, so B must subscribe to the user's channel): it is served once Redis is back.
      const lateTab = new ChaosSubscriber(users[0]!, subscribers[0]!.token);
      const lateTabConnect = lateTab.connect(b.url, 'after');
      await waitFor(
        () => ledger.total() >= beforeKill + 60,
        20_000,
        () => `emitted ${ledger.total()} while Redis is down, errors ${p.errors.slice(0, 3)}`,
      );
      await p.stop();
      const slowestWhileDown = p.slowest;
      const emittedWhileDown = ledger.total() - beforeKill;
      expect(p.errors, 'emits while Redis is down').toEqual([]);
      expect(subscribers.every((s) => s.live)).toBe(true);
      // The outage is real for the instances: readiness reports Redis unreachable.
      expect((await fetch(`${b.url}/ready`)).ok, 'B is not ready while Redis is down').toBe(false);

      // Phase 3: Redis back on the same port, empty. Nothing else is emitted, so only the instances'
      // reconnect catch-up (the sweep is off) can bring the positions emitted while it was down.
      await redis.start();
      await lateTabConnect;
      await settle([...subscribers, lateTab], ledger);

      // Phase 4: live delivery through the restarted Redis (the channels were subscribed again).
      // Both instances must have reconnected first: with the sweep off, a publish B loses while it
      // is still reconnecting would only be recovered by a later message for that user.
      await Promise.all([ready(a), ready(b)]);
      const afterRestart = ledger.total();
      p.start();
      await waitFor(
        () => ledger.total() >= afterRestart + 60,
        20_000,
        () => `emitted ${ledger.total()} after the restart, errors ${p.errors.slice(0, 3)}`,
      );
      await p.stop();
      await settle([...subscribers, lateTab], ledger);
      await sleep(200); // absence check: nothing more (no duplicate) arrives
      await Promise.all([...subscribers, lateTab].map((s) => s.disconnect()));

      verify('redis restart', [...subscribers, lateTab], ledger, {
        subscribers: subscribers.length + 1,
        emittedWhileRedisDown: emittedWhileDown,
        slowestEmitWhileDownMs: Math.round(slowestWhileDown),
      });
      expect(p.errors).toEqual([]);
      expect(
        subscribers.map((s) => s.connects),
        'streams stayed open through the outage',
      ).toEqual(subscribers.map(() => 1));
      expect(slowestWhileDown, 'an emit while Redis is down does not wait for it').toBeLessThan(5_000);
      await cluster.cleanup();
      await redis.stop();
    },
    90_000,
  );

  it('concurrent emitters on two instances while subscribers disconnect and resume at random moments', async () => {
    const instances = await sharedPair();
    const urls = instances.map((i) => i.url);
    const users = Array.from({ length: 20 }, (_, i) => `mix-${RUN}-${i}`);
    const perUser = 30;
    // Half the users hold notificationAdded, half inboxEvents (whose additions carry the same guarantee).
    const subscribers = await Promise.all(
      users.map(async (u, i) => new ChaosSubscriber(u, await userToken(u), i % 2 === 0 ? 'added' : 'inbox')),
    );
    await Promise.all(subscribers.map((s) => s.connect(random.pick(urls), 'after')));

    // The emits: groups of 1 to 3 users until each user has `perUser` notifications, in random order.
    const remaining = new Map(users.map((u) => [u, perUser]));
    const plan: string[][] = [];
    while ([...remaining.values()].some((n) => n > 0)) {
      const open = users.filter((u) => remaining.get(u)! > 0);
      const group = new Set<string>();
      const size = Math.min(open.length, random.int(1, 3));
      while (group.size < size) group.add(random.pick(open));
      for (const u of group) remaining.set(u, remaining.get(u)! - 1);
      plan.push([...group]);
    }

    const ledger = new Ledger();
    let emitting = true;
    let next = 0;
    const emitErrors: string[] = [];
    const emitters = Array.from({ length: 8 }, async () => {
      while (next < plan.length) {
        const recipientIds = plan[next++]!;
        try {
          ledger.record(await emit(random.pick(urls), producer, { recipientIds, title: `mix ${next}` }));
        } catch (error) {
          emitErrors.push((error as Error).message);
        }
        await sleep(random.int(0, 10));
      }
    });

    // Each subscriber hangs up after a random time, sometimes stays away a little, and resumes on a
    // random instance with its last cursor, via Last-Event-ID or via `after`.
    let reconnects = 0;
    const resumed: Record<ResumeVia, number> = { header: 0, after: 0 };
    let switchedInstance = 0;
    const chaos = subscribers.map(async (s) => {
      while (emitting) {
        await sleep(random.int(30, 300));
        const previous = s.url;
        const url = random.pick(urls);
        const via: ResumeVia = random.chance(0.5) ? 'header' : 'after';
        await s.disconnect();
        if (random.chance(0.3)) await sleep(random.int(0, 150));
        if (url !== previous) switchedInstance++;
        await s.connect(url, via);
        reconnects++;
        resumed[via]++;
      }
    });
    // inboxEvents users read notifications meanwhile (from any instance): change events interleave
    // with additions on their streams, and must not disturb where a reconnect resumes.
    let marked = 0;
    const readers = subscribers
      .filter((s) => s.kind === 'inbox')
      .map(async (s) => {
        while (emitting) {
          await sleep(random.int(100, 400));
          if (s.ids.length === 0) continue;
          const r = await gql(random.pick(urls), s.token, 'mutation($ids: [ID!]!) { markNotificationsRead(ids: $ids) { changedCount } }', {
            ids: [random.pick(s.ids)],
          });
          if (r.errors) emitErrors.push(`markNotificationsRead: ${JSON.stringify(r.errors)}`);
          else marked++;
        }
      });
    const emitStarted = performance.now();
    await Promise.all(emitters);
    const emitPhaseMs = Math.round(performance.now() - emitStarted);
    emitting = false;
    await Promise.all([...chaos, ...readers]);
    expect(emitErrors).toEqual([]);

    await settle(subscribers, ledger);
    await sleep(300); // absence check: no late duplicate
    await Promise.all(subscribers.map((s) => s.disconnect()));
    verify('concurrent emitters + random reconnects', subscribers, ledger, {
      users: users.length,
      emits: plan.length,
      reconnects,
      viaLastEventId: resumed.header,
      viaAfter: resumed.after,
      toOtherInstance: switchedInstance,
      markedRead: marked,
      changeEventsSeen: subscribers.reduce((n, s) => n + s.changes, 0),
      emitPhaseMs,
    });
    expect(ledger.total()).toBe(users.length * perUser);
  }, 90_000);

  it('producer retries with idempotency keys, concurrent and sequential, on both instances: each recipient gets one notification', async () => {
    const [a, b] = await sharedPair();
    const users = Array.from({ length: 4 }, (_, i) => `idem-${RUN}-${i}`);
    // Two tabs per user, one on each instance.
    const subscribers = await Promise.all([...users, ...users].map(async (u) => new ChaosSubscriber(u, await userToken(u))));
    await Promise.all(subscribers.map((s, i) => s.connect(i < users.length ? a.url : b.url, 'after')));

    const ledger = new Ledger();
    const keys = 18;
    let attempts = 0;
    const perKey: { key: string; recipients: string[]; outcomes: EmitOutcome[] }[] = [];
    const send = async (url: string, key: string, recipientIds: string[]) => {
      attempts++;
      const outcome = await emit(url, producer, { recipientIds, title: key, idempotencyKey: key });
      ledger.record(outcome);
      return outcome;
    };
    await Promise.all(
      Array.from({ length: keys }, async (_, i) => {
        const key = `idem-${RUN}-${i}`;
        const recipients = users.filter(() => random.chance(0.6));
        if (recipients.length === 0) recipients.push(random.pick(users));
        const outcomes: EmitOutcome[] = [];
        switch (i % 3) {
          case 0: // three concurrent attempts, two of them on the same instance (same group commit)
            outcomes.push(
              ...(await Promise.all([send(a.url, key, recipients), send(b.url, key, recipients), send(a.url, key, recipients)])),
            );
            break;
          case 1: // two concurrent attempts on different instances, then a late retry
            outcomes.push(...(await Promise.all([send(a.url, key, recipients), send(b.url, key, recipients)])));
            outcomes.push(await send(b.url, key, recipients));
            break;
          default: // sequential retries, alternating instances
            outcomes.push(await send(b.url, key, recipients));
            outcomes.push(await send(a.url, key, recipients));
            outcomes.push(await send(b.url, key, recipients));
        }
        perKey.push({ key, recipients, outcomes });
      }),
    );

    let duplicates = 0;
    for (const { key, recipients, outcomes } of perKey) {
      expect(
        outcomes.reduce((n, o) => n + o.deliveredCount, 0),
        `${key}: delivered once per recipient`,
      ).toBe(recipients.length);
      for (const r of recipients) {
        const statuses = outcomes.map((o) => o.deliveries.find((d) => d.recipientId === r)!);
        expect(statuses.filter((d) => d.status === 'DELIVERED').length, `${key} -> ${r}`).toBe(1);
        expect(statuses.filter((d) => d.status === 'DUPLICATE').length, `${key} -> ${r}`).toBe(outcomes.length - 1);
        // Every attempt names the same stored notification.
        expect(new Set(statuses.map((d) => d.notification?.id)).size, `${key} -> ${r}: one notification ${JSON.stringify(statuses)}`).toBe(
          1,
        );
        duplicates += outcomes.length - 1;
      }
    }

    await settle(subscribers, ledger);
    await sleep(300);
    await Promise.all(subscribers.map((s) => s.disconnect()));
    verify('idempotent retries', subscribers, ledger, { keys, attempts, duplicateStatuses: duplicates, tabs: subscribers.length });
  }, 90_000);

  it('SIGTERM under load: streams end without complete, every client resumes on another instance with nothing lost', async () => {
    const [, b] = await sharedPair();
    const cluster = new Cluster({ DATABASE_URL: databaseUrl, REDIS_URL: TEST_REDIS_URL!, ...CHAOS_ENV });
    clusters.push(cluster);
    const shutdownTimeoutMs = 8_000;
    const a = await cluster.start({ SHUTDOWN_TIMEOUT_MS: String(shutdownTimeoutMs) });
    const users = Array.from({ length: 12 }, (_, i) => `term-${RUN}-${i}`);
    const subscribers = await Promise.all(users.map(async (u) => new ChaosSubscriber(u, await userToken(u))));
    await Promise.all(subscribers.map((s) => s.connect(a.url, 'after')));

    const ledger = new Ledger();
    const recipients = rotatingRecipients(users, 4);
    const p = new Producer(() => b.url, producer, ledger, recipients);
    p.start();

    // A second producer sends through A with idempotency keys; when A goes away mid-request it
    // retries on B with the same key, as a well-behaved producer does.
    let onA = true;
    let keyed = 0;
    let retriedOnB = 0;
    let finishedOnAAfterSigterm = 0;
    let sigtermAt: number | undefined;
    let stopKeyed = false;
    const keyedErrors: string[] = [];
    const keyedProducer = (async () => {
      while (!stopKeyed) {
        const key = `term-${RUN}-${keyed++}`;
        const input = { recipientIds: recipients(), title: key, idempotencyKey: key };
        let outcome: EmitOutcome | undefined;
        if (onA) {
          // Any failure (refused, reset mid-request, SHUTTING_DOWN...) means: retry elsewhere.
          outcome = await emit(a.url, producer, input).catch(() => undefined);
          if (outcome && sigtermAt !== undefined) finishedOnAAfterSigterm++;
          if (!outcome) {
            onA = false;
            retriedOnB++;
          }
        }
        outcome ??= await emit(b.url, producer, input);
        ledger.record(outcome);
        await sleep(10);
      }
    })().catch((error: Error) => {
      keyedErrors.push(error.message);
    });

    await waitFor(
      () => subscribers.every((s) => s.seqs.length >= 4),
      SETTLE_MS,
      () => 'every subscriber received some notifications from A',
    );
    const sent = performance.now();
    sigtermAt = sent;
    const stopped = a.stop();
    const endings = await Promise.all(subscribers.map((s) => s.ended(shutdownTimeoutMs)));
    // Every client reconnects to B at once with its last cursor (half as EventSource would, half via `after`).
    await Promise.all(subscribers.map((s, i) => s.connect(b.url, i % 2 === 0 ? 'header' : 'after')));
    const exitCode = await stopped;
    const shutdownMs = performance.now() - sent;

    const atShutdown = ledger.total();
    await waitFor(
      () => ledger.total() >= atShutdown + 80,
      20_000,
      () => `emitted ${ledger.total()} after the shutdown`,
    );
    stopKeyed = true;
    await Promise.all([p.stop(), keyedProducer]);
    await settle(subscribers, ledger);
    await sleep(300);
    await Promise.all(subscribers.map((s) => s.disconnect()));

    verify('SIGTERM under load', subscribers, ledger, {
      subscribers: subscribers.length,
      shutdownMs: Math.round(shutdownMs),
      exitCode: String(exitCode),
      emitsOnAFinishedAfterSigterm: finishedOnAAfterSigterm,
      keyedEmitsRetriedOnB: retriedOnB,
    });
    expect(endings, 'streams end without event: complete').toEqual(subscribers.map(() => 'eof'));
    expect(exitCode, `A exits with 0:\n${a.output()}`).toBe(0);
    expect(shutdownMs).toBeLessThan(shutdownTimeoutMs);
    expect(p.errors).toEqual([]);
    expect(keyedErrors).toEqual([]);
  }, 90_000);
});

describe('chaos: embedded mode resume', () => {
  it('clients resume with their last cursor across SIGKILL and SIGTERM restarts on the same data dir', async () => {
    const { cluster, dir } = embedded;
    const env = { HERALD_DATA_DIR: dir };
    let instance = await embedded.first!;
    const { port } = instance;
    // Restarted in place, as a supervisor would: clients come back to the same URL.
    const restart = async () => {
      instance = await cluster.start(env, { port });
    };
    const producer = await producerToken();
    // `away` hangs up before the crash and misses what is emitted meanwhile; `tab` (another user)
    // stays connected, so its stream dies with the process each time.
    const [away, tab] = await Promise.all(
      [`emb-${RUN}-away`, `emb-${RUN}-tab`].map(async (u) => new ChaosSubscriber(u, await userToken(u))),
    );
    const subscribers = [away!, tab!];
    const ledger = new Ledger();
    const emitN = async (n: number) => {
      for (let i = 0; i < n; i++) {
        ledger.record(await emit(instance.url, producer, { recipientIds: [away!.userId, tab!.userId], title: `e${i}` }));
      }
    };
    const received = () => settle(subscribers, ledger);

    await Promise.all(subscribers.map((s) => s.connect(instance.url, 'after')));
    await emitN(5);
    await received();

    // `away` goes; notifications keep coming (committed, never seen by it); then a crash (kill -9).
    await away!.disconnect();
    await emitN(3);
    await instance.kill();
    expect(await tab!.ended(10_000)).toBe('eof');
    await restart();
    await emitN(3); // after the restart, before the clients are back
    await away!.connect(instance.url, 'header'); // as EventSource: original URL + Last-Event-ID
    await tab!.connect(instance.url, 'after');
    await received();
    await emitN(2); // live again
    await received();

    // Graceful stop with both connected: streams end without complete, exit code 0; the clients come
    // back to the restarted server with their cursors.
    const code = await instance.stop();
    expect(await Promise.all(subscribers.map((s) => s.ended(10_000)))).toEqual(['eof', 'eof']);
    expect(code, instance.output()).toBe(0);
    await restart();
    await emitN(2);
    await away!.connect(instance.url, 'after');
    await tab!.connect(instance.url, 'header');
    await emitN(2);
    await received();
    await sleep(200);
    await Promise.all(subscribers.map((s) => s.disconnect()));

    verify('embedded restarts', subscribers, ledger, { restarts: 2, connects: away!.connects + tab!.connects });
  }, 90_000);
});
