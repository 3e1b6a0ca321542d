// Scenario 6, attack (Herald only; issue #13's benchmark): does a well-behaved client keep its
// latency while someone attacks the server? Per attack kind (load/attacker.ts), on a fresh server
// running with Herald's *default* limits: victims (well-behaved users) run a normal inbox query at
// a fixed interval; their p99 over a baseline window without the attack, then over the attack
// window, and the ratio (target <= --attack-ratio-limit, 3x). The attacker's answers are counted
// (accepted / refused / dropped, per status and code) and reported per second.
import { Pool } from 'undici';
import { ATTACK_DESCRIPTIONS, ATTACK_KINDS, type AttackKind, type AttackResult } from '../lib/attacks.ts';
import { nowMs, sleep } from '../lib/clock.ts';
import { BENCH_DB } from '../lib/db.ts';
import { type LatencySummary, newHistogram, recordMs, summarize } from '../lib/hist.ts';
import { spawnChild } from '../lib/loadgen.ts';
import { CpuMeter, type CpuWindow, findInfraPids } from '../lib/proc.ts';
import type { RpcClient } from '../lib/rpc.ts';
import { type RunningServer, startServer } from '../lib/server.ts';
import type { TargetClient } from '../targets/types.ts';
import type { ScenarioContext, ScenarioResult } from './context.ts';
import { pinRunner, round3, userAuthorization, withServerEnv } from './hooks.ts';

/** The attacker's source address; the victims connect from 127.0.0.1 (any 127/8 address reaches loopback). */
const ATTACKER_ADDRESS = '127.0.0.2';
const VICTIM_ADDRESS = '127.0.0.1';
/** Victims are many users, so each one asks at a human rate (100 users at 10 ms: one query per user per second). */
const VICTIM_USERS = 100;
/** Notifications in each victim's inbox: the query returns a full page. */
const VICTIM_NOTIFICATIONS = 20;
/** Victim requests in flight at most (open loop: a stalled server queues them, the wait counts). */
const VICTIM_CONNECTIONS = 8;
/** Unmeasured victim traffic before the baseline (connections, JIT, caches). */
const WARMUP_MS = 2_000;
/** Victim requests unanswered this long after a window are counted as failed. */
const VICTIM_DRAIN_MS = 10_000;
const VICTIM_QUERY = `query Inbox($first: Int!) {
  notifications(first: $first) {
    edges { cursor node { id title body type category read createdAt } }
    pageInfo { endCursor hasNextPage }
    streamCursor
  }
  unreadCount
}`;

/**
 * What the load scenarios raise and the attack scenario puts back to Herald's defaults: every
 * rate limit (RATE_LIMIT_*) and the per-address connection cap.
 */
const isRaisedLimit = (key: string): boolean => key.startsWith('RATE_LIMIT_') || key === 'MAX_CONNECTIONS_PER_IP';

interface VictimWindow {
  latency: LatencySummary;
  scheduled: number;
  answered: number;
  failed: number;
  /** failures by status and code */
  failures: Record<string, number>;
  /** how late the runner's timer sent requests (client-side noise, not the server's) */
  maxSendLagMs: number;
}

/** Well-behaved users: a normal inbox query every `intervalMs`, round robin over the users. */
class Victims {
  private readonly pool: Pool;
  private next = 0;

  constructor(
    srv: RunningServer,
    private readonly auth: string[],
    private readonly intervalMs: number,
  ) {
    this.pool = new Pool(`http://${srv.addr.host}:${srv.addr.port}`, {
      connections: VICTIM_CONNECTIONS,
      pipelining: 1,
      keepAliveTimeout: 60_000,
      headersTimeout: 60_000,
      bodyTimeout: 60_000,
      connect: { localAddress: VICTIM_ADDRESS },
    });
  }

  /**
   * Requests on a fixed schedule for `ms` (open loop: never waiting for earlier answers). A
   * request's time runs from the call that sends it (undici's queue included) to its body read.
   */
  async window(ms: number): Promise<VictimWindow> {
    const hist = newHistogram();
    const failures: Record<string, number> = {};
    const fail = (label: string) => {
      failures[label] = (failures[label] ?? 0) + 1;
    };
    const total = Math.max(1, Math.floor(ms / this.intervalMs));
    const start = nowMs() + 1;
    const pending: Promise<void>[] = [];
    let answered = 0;
    let maxLag = 0;
    for (let k = 0; k < total; k++) {
      const due = start + k * this.intervalMs;
      const wait = due - nowMs();
      if (wait > 0) await sleep(wait);
      maxLag = Math.max(maxLag, nowMs() - due);
      const auth = this.auth[this.next++ % this.auth.length]!;
      const t0 = nowMs();
      pending.push(
        this.pool
          .request({
            path: '/graphql',
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: auth },
            body: JSON.stringify({ query: VICTIM_QUERY, variables: { first: VICTIM_NOTIFICATIONS } }),
          })
          .then(async (res) => {
            const body = await res.body.text();
            if (res.statusCode === 200 && !body.includes('"errors"') && body.includes('"unreadCount"')) {
              recordMs(hist, nowMs() - t0);
              answered++;
            } else fail(`${res.statusCode}${codeOf(body) ? ` ${codeOf(body)}` : ''}`);
          })
          .catch((err: { code?: string; message?: string }) => fail(`no answer: ${err.code ?? err.message}`)),
      );
    }
    const settled = await Promise.race([Promise.all(pending).then(() => true), sleep(VICTIM_DRAIN_MS).then(() => false)]);
    const failedSoFar = Object.values(failures).reduce((a, b) => a + b, 0);
    if (!settled) {
      const unanswered = total - answered - failedSoFar;
      if (unanswered > 0) failures[`unanswered ${VICTIM_DRAIN_MS / 1000} s after the window`] = unanswered;
    }
    const latency = summarize(hist);
    hist.destroy();
    return {
      latency,
      scheduled: total,
      answered,
      failed: total - answered,
      failures,
      maxSendLagMs: round3(maxLag),
    };
  }

  close(): Promise<void> {
    return this.pool.destroy().catch(() => {});
  }
}

const codeOf = (body: string): string | undefined => /"code"\s*:\s*"([A-Za-z0-9_]+)"/.exec(body)?.[1];

/** Fills each victim's inbox with a page of notifications (one emit to all victims at a time). */
async function seedVictims(srv: RunningServer, client: TargetClient, users: string[]): Promise<void> {
  const pool = new Pool(`http://${srv.addr.host}:${srv.addr.port}`, { connections: 1, connect: { localAddress: VICTIM_ADDRESS } });
  const deadline = Date.now() + 60_000;
  try {
    for (let k = 0; k < VICTIM_NOTIFICATIONS; ) {
      const req = client.publish(users, `victim inbox #${k + 1}`);
      const res = await pool.request({ path: req.path, method: req.method, headers: req.headers, body: req.body ?? null });
      const body = await res.body.text();
      if (client.publishOk(res.statusCode, body)) {
        k++;
        continue;
      }
      // With default limits the producer may be told to wait: do so, as a producer should.
      const retryAfter = Number(res.headers['retry-after']);
      if (res.statusCode !== 429 || !Number.isFinite(retryAfter) || Date.now() > deadline)
        throw new Error(`seeding the victims' inboxes failed: HTTP ${res.statusCode}: ${body.slice(0, 300)}`);
      await sleep(Math.max(100, retryAfter * 1000));
    }
  } finally {
    await pool.close().catch(() => {});
  }
}

async function runAttack(ctx: ScenarioContext, kind: AttackKind, runId: string): Promise<Record<string, unknown>> {
  const { cfg } = ctx;
  const removed: string[] = [];
  // Default limits; and a Redis namespace of its own, so counters (rate limits, presence) of one
  // attack never carry into the next.
  const target = withServerEnv(ctx.target, (env) => {
    const edit: Record<string, string | undefined> = { REDIS_PREFIX: `herald-bench-attack-${runId}-${kind}` };
    for (const key of Object.keys(env))
      if (isRaisedLimit(key)) {
        edit[key] = undefined;
        removed.push(`${key}=${env[key]}`);
      }
    return edit;
  });
  const srv = await startServer(target, {
    cpu: cfg.serverCpu,
    readyTimeoutMs: cfg.readyTimeoutMs,
    label: `attack-${kind}`,
    heartbeatMs: cfg.loadHeartbeatMs,
  });
  let attacker: RpcClient | undefined;
  let victims: Victims | undefined;
  try {
    const client = await ctx.target.client(srv.addr);
    const users = Array.from({ length: VICTIM_USERS }, (_, i) => `bench-victim-${runId}-${i}`);
    await seedVictims(srv, client, users);
    victims = new Victims(srv, await Promise.all(users.map((u) => userAuthorization(client, u))), cfg.attackVictimIntervalMs);
    const att = spawnChild('attacker.ts', cfg.generatorCpu, `attacker-${kind}`);
    attacker = att;
    await att.call('init', { target: ctx.target.name, addr: srv.addr, localAddress: ATTACKER_ADDRESS }, 60_000);
    const meter = () =>
      new CpuMeter(() => ({ server: [srv.pid], attacker: [att.child.pid!], ...findInfraPids(BENCH_DB), runner: [process.pid] }));

    await victims.window(WARMUP_MS);
    const quiet = await ctx.waitQuietWith(meter);
    const rssBefore = (await srv.mem(false)).rss;
    let m = meter().start();
    const baseline = await victims.window(cfg.attackBaselineSeconds * 1000);
    const baselineCpu: CpuWindow = m.stop();

    const durationMs = cfg.attackSeconds * 1000;
    m = meter().start();
    const running = att.call<AttackResult>('run', { kind, durationMs, runId }, durationMs + 120_000);
    const during = await victims.window(durationMs);
    const attackCpu: CpuWindow = m.stop();
    const result = await running;
    const serverExited = srv.child.exitCode !== null || srv.child.signalCode !== null;
    const rssAfter = serverExited ? null : (await srv.mem(false)).rss;

    const ratio = baseline.latency.p99 > 0 && during.answered > 0 ? round3(during.latency.p99 / baseline.latency.p99) : null;
    const met = ratio !== null && ratio <= cfg.attackRatioLimit && baseline.failed === 0 && during.failed === 0 && !serverExited;
    // Other processes (test runs) taking CPU during a window make its figures the machine's, not Herald's.
    const otherPct = Math.max(baselineCpu.otherPct, attackCpu.otherPct);
    const disturbed = otherPct > cfg.quietOtherPct ? `other processes used up to ${otherPct}% of a core during the windows` : null;
    const why = serverExited
      ? 'the server exited'
      : during.failed > 0
        ? `${during.failed} victim request(s) failed`
        : ratio === null
          ? 'no ratio'
          : ratio > cfg.attackRatioLimit
            ? `p99 ${ratio}x`
            : '';
    const row = {
      kind,
      description: ATTACK_DESCRIPTIONS[kind],
      ok: met,
      met,
      why,
      ratio,
      victim: { baseline, during },
      attacker: result,
      cpu: { baseline: baselineCpu, attack: attackCpu },
      disturbed,
      generatorBusyPct: round3((attackCpu.groups.attacker?.pct ?? 0) + (attackCpu.groups.runner?.pct ?? 0)),
      rss: { before: rssBefore, after: rssAfter },
      quietWait: quiet,
      serverExited,
      defaultsRestored: removed,
    };
    ctx.log(
      `  ${kind}: victim p99 ${baseline.latency.p99} ms without, ${during.latency.p99} ms during (${ratio ?? 'n/a'}x, ${met ? 'met' : `MISSED: ${why}`}); ` +
        `attacker ${result.accepted} accepted (${result.acceptedPerSecond}/s), ${result.refused} refused (${result.refusedPerSecond}/s), ${result.dropped} dropped; ` +
        `server CPU ${attackCpu.groups.server?.pct ?? 'n/a'}%${disturbed ? ` [disturbed: ${disturbed}]` : ''}; top outcomes ${Object.entries(
          result.outcomes,
        )
          .slice(0, 3)
          .map(([k, v]) => `${v}x ${k}`)
          .join(', ')}`,
    );
    return row;
  } finally {
    await attacker?.call('close', {}, 10_000).catch(() => {});
    if (attacker && attacker.child.exitCode === null) attacker.child.kill('SIGKILL');
    await victims?.close();
    await srv.stop();
  }
}

export async function attack(ctx: ScenarioContext): Promise<ScenarioResult> {
  if (ctx.target.name !== 'herald') return { ok: true, skipped: 'Herald only' };
  const { cfg } = ctx;
  const unknown = cfg.attacks.filter((k) => !(ATTACK_KINDS as readonly string[]).includes(k));
  if (unknown.length) throw new Error(`unknown attack(s) ${unknown.join(', ')} (known: ${ATTACK_KINDS.join(', ')})`);
  const kinds = cfg.attacks as AttackKind[];
  const runId = Date.now().toString(36);
  // The victims' client runs in this process: on the generator core, beside the attacker.
  const pin = pinRunner(cfg.generatorCpu);
  const attacks: Array<Record<string, unknown>> = [];
  try {
    for (const kind of kinds) {
      if (!ctx.timeLeft()) {
        attacks.push({ kind, description: ATTACK_DESCRIPTIONS[kind], ok: false, skipped: 'time budget exhausted' });
        continue;
      }
      try {
        attacks.push(await runAttack(ctx, kind, runId));
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        ctx.log(`  ${kind}: ERROR ${msg}`);
        attacks.push({ kind, description: ATTACK_DESCRIPTIONS[kind], ok: false, error: msg.slice(0, 1000) });
      }
    }
  } finally {
    pin.restore();
  }
  return {
    ok: attacks.every((a) => a.ok === true),
    ratioLimit: cfg.attackRatioLimit,
    attackSeconds: cfg.attackSeconds,
    baselineSeconds: cfg.attackBaselineSeconds,
    victimIntervalMs: cfg.attackVictimIntervalMs,
    victimUsers: VICTIM_USERS,
    victimQuery: VICTIM_QUERY,
    client: `victims in the runner process (${pin.pinned}), ${VICTIM_CONNECTIONS} keep-alive connections from ${VICTIM_ADDRESS}; attacker process on CPU ${cfg.generatorCpu ?? 'any'}, from ${ATTACKER_ADDRESS}`,
    attacks,
  };
}
