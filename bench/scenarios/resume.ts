// Scenario 5, resume (Herald only): a subscriber reconnecting 1,000 notifications behind.
// Per repeat, for a new user: open a stream, emit one notification and note its cursor (the SSE
// `id:`), close the stream; emit 1,000 notifications to the user through emitNotification (32
// in flight, so Herald groups them into few commits); then reconnect with the cursor
// (`Last-Event-ID`, as EventSource does, or `notificationAdded(after:)`) and time from starting
// the reconnect (TCP connect included) until the 1,000th event has been parsed. Positions are
// checked: exactly the 1,000 after the cursor, in order, no gap, no duplicate.
import type net from 'node:net';
import pg from 'pg';
import { Pool } from 'undici';
import { nowMs, sleep } from '../lib/clock.ts';
import type { CpuWindow } from '../lib/proc.ts';
import { openRawSse } from '../load/rawsse.ts';
import { isCommentOnly } from '../load/sse.ts';
import type { HttpRequestSpec, TargetAddress, TargetClient } from '../targets/types.ts';
import type { ScenarioContext, ScenarioResult } from './context.ts';
import {
  cursorSeq,
  type HookDatabase,
  hookDatabase,
  hookMeter,
  hookWaitQuiet,
  median,
  pinRunner,
  round3,
  startOnHookDatabase,
} from './hooks.ts';

const USER_PREFIX = 'bench-resume-';
const AFTER_SUBSCRIPTION = 'subscription Resume($after: String) { notificationAdded(after: $after) { id cursor body } }';

interface Received {
  id: string | null;
  seq: number | null;
  at: number;
}

/** One SSE stream on a raw socket, collecting (position, receipt time) of every `next` event. */
class Stream {
  readonly events: Received[] = [];
  readonly errors: string[] = [];
  headAt = 0;
  ended = false;
  private socket: net.Socket | undefined;
  private want = 0;
  private wake: (() => void) | undefined;

  static async open(addr: TargetAddress, req: HttpRequestSpec, timeoutMs: number): Promise<Stream> {
    const s = new Stream();
    s.socket = await openRawSse({
      host: addr.host,
      port: addr.port,
      path: req.path,
      headers: req.headers,
      timeoutMs,
      onChunk: () => {},
      onFrame: (buf, start, end) => s.frame(buf, start, end),
      onClose: () => {
        s.ended = true;
        s.wake?.();
      },
    });
    s.headAt = nowMs();
    return s;
  }

  private frame(buf: string, start: number, end: number): void {
    if (isCommentOnly(buf, start, end)) return;
    const text = buf.slice(start, end);
    let id: string | null = null;
    let event = 'message';
    let data = '';
    for (const line of text.split('\n')) {
      if (line.startsWith('id:')) id = line.slice(3).trim();
      else if (line.startsWith('event:')) event = line.slice(6).trim();
      else if (line.startsWith('data:')) data += line.slice(5);
    }
    if (event === 'complete') {
      this.ended = true;
      this.wake?.();
      return;
    }
    if (data.includes('"errors"')) this.errors.push(data.slice(0, 300));
    if (event !== 'next') return;
    this.events.push({ id, seq: id === null ? null : cursorSeq(id), at: nowMs() });
    if (this.events.length >= this.want) this.wake?.();
  }

  /** Resolves when `n` events have arrived (true), or false on timeout / end of stream. */
  waitFor(n: number, timeoutMs: number): Promise<boolean> {
    if (this.events.length >= n) return Promise.resolve(true);
    this.want = n;
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(), timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve(this.events.length >= n);
      };
      this.wake = () => {
        if (this.events.length >= n || this.ended) done();
      };
    });
  }

  close(): void {
    this.socket?.destroy();
  }
}

/** Emits `count` single-recipient notifications to `user`, `concurrency` requests in flight. */
async function emitMany(pool: Pool, client: TargetClient, user: string, count: number, concurrency: number, label: string) {
  let next = 0;
  let failed = 0;
  let firstError = '';
  const worker = async () => {
    while (next < count) {
      const k = next++;
      const req = client.publish([user], `${label} #${k + 1}`);
      try {
        const res = await pool.request({ path: req.path, method: req.method, headers: req.headers, body: req.body ?? null });
        const body = await res.body.text();
        if (!client.publishOk(res.statusCode, body)) {
          failed++;
          firstError ||= `HTTP ${res.statusCode}: ${body.slice(0, 200)}`;
        }
      } catch (err) {
        failed++;
        firstError ||= (err as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, count)) }, worker));
  if (failed > 0) throw new Error(`${failed}/${count} emits failed: ${firstError}`);
}

/** Checks that `events` are exactly positions from+1 .. from+count, in order. */
function checkPositions(events: Received[], from: number, count: number) {
  let gaps = 0;
  let duplicates = 0;
  let outOfOrder = 0;
  let unreadable = 0;
  const seen = new Set<number>();
  let prev = from;
  for (const e of events) {
    if (e.seq === null) {
      unreadable++;
      continue;
    }
    if (seen.has(e.seq) || e.seq <= from) duplicates++;
    else if (e.seq < prev) outOfOrder++;
    else if (e.seq > prev + 1) gaps += e.seq - prev - 1;
    seen.add(e.seq);
    prev = Math.max(prev, e.seq);
  }
  const missing = Math.max(0, count - [...seen].filter((s) => s > from && s <= from + count).length);
  return { gaps, duplicates, outOfOrder, unreadable, missing, extra: Math.max(0, events.length - count) };
}

export async function resume(ctx: ScenarioContext): Promise<ScenarioResult> {
  if (ctx.target.name !== 'herald') return { ok: true, skipped: 'Herald only' };
  const { cfg } = ctx;
  const K = cfg.resumeBehind;
  if (cfg.resumeVia !== 'last-event-id' && cfg.resumeVia !== 'after') throw new Error('--resume-via must be last-event-id or after');
  // Runs on the kept bench database: with the history data set in place, the replay reads from a
  // 1,000,000-row table.
  const db = hookDatabase(cfg);
  const srv = await startOnHookDatabase(ctx, db, 'resume', false);
  const pin = pinRunner(cfg.generatorCpu);
  const pool = new Pool(`http://${srv.addr.host}:${srv.addr.port}`, { connections: cfg.resumeEmitConcurrency });
  const runId = Date.now().toString(36);
  const rows = await tableRows(db);
  const repeats: Array<Record<string, unknown>> = [];
  try {
    const client = await ctx.target.client(srv.addr);
    for (let r = 1; r <= cfg.resumeRepeats && ctx.timeLeft(); r++) {
      const user = `${USER_PREFIX}${runId}-${r}`;
      const sub = await client.subscribe(user);
      if (sub.kind !== 'sse') throw new Error('Herald subscribes over SSE');

      // 1. Connected: one notification, whose cursor is where the client will resume from.
      const live = await Stream.open(srv.addr, sub.request, cfg.connectTimeoutMs);
      await emitMany(pool, client, user, 1, 1, `resume ${r} primer`);
      if (!(await live.waitFor(1, 10_000))) throw new Error(`repeat ${r}: the live stream never received the primer event`);
      const cursor = live.events[0]!.id;
      const from = live.events[0]!.seq;
      if (cursor === null || from === null) throw new Error(`repeat ${r}: the primer event has no readable id (cursor)`);
      live.close();
      await sleep(200);

      // 2. Disconnected: K notifications.
      const tEmit = nowMs();
      await emitMany(pool, client, user, K, cfg.resumeEmitConcurrency, `resume ${r}`);
      const emitMs = nowMs() - tEmit;
      const quiet = await hookWaitQuiet(ctx, srv, db);

      // 3. Reconnect with the cursor and time the backlog.
      const request: HttpRequestSpec =
        cfg.resumeVia === 'after'
          ? {
              ...sub.request,
              path: `/graphql?query=${encodeURIComponent(AFTER_SUBSCRIPTION)}&variables=${encodeURIComponent(JSON.stringify({ after: cursor }))}`,
            }
          : { ...sub.request, headers: { ...sub.request.headers, 'last-event-id': cursor } };
      const meter = hookMeter(srv, db).start();
      const t0 = nowMs();
      const back = await Stream.open(srv.addr, request, cfg.connectTimeoutMs);
      const complete = await back.waitFor(K, cfg.resumeTimeoutMs);
      const cpu: CpuWindow = meter.stop();
      await sleep(300); // anything beyond the K (a duplicate) would show up now
      back.close();
      const got = back.events;
      const check = checkPositions(got, from, K);
      const rep = {
        user,
        from,
        emitMs: round3(emitMs),
        quietWait: quiet,
        headMs: round3(back.headAt - t0),
        firstMs: got[0] ? round3(got[0].at - t0) : null,
        lastMs: complete ? round3(got[K - 1]!.at - t0) : null,
        received: got.length,
        ...check,
        errors: back.errors.slice(0, 3),
        cpuMs: Object.fromEntries(
          ['server', 'postgres', 'redis', 'runner'].map((g) => [g, Math.round(1000 * (cpu.groups[g]?.cpuSeconds ?? 0))]),
        ),
        cpu,
      };
      const clean = complete && check.gaps + check.duplicates + check.outOfOrder + check.unreadable + check.missing + check.extra === 0;
      repeats.push({ ...rep, ok: clean && back.errors.length === 0 });
      ctx.log(
        `  resume #${r}: ${got.length}/${K} events, head ${rep.headMs} ms, first ${rep.firstMs} ms, last ${rep.lastMs ?? 'never'} ms; ` +
          `${clean ? 'positions exact' : `gaps ${check.gaps}, duplicates ${check.duplicates}, out of order ${check.outOfOrder}, missing ${check.missing}, extra ${check.extra}`}; ` +
          `CPU ms server ${rep.cpuMs.server} / pg ${rep.cpuMs.postgres} (emitting the ${K} took ${(emitMs / 1000).toFixed(1)} s)`,
      );
    }
  } finally {
    pin.restore();
    await pool.close().catch(() => {});
    await srv.stop();
    await cleanup(db).catch((err) => ctx.log(`  (could not delete the resume users' rows: ${(err as Error).message})`));
  }
  const times = repeats.map((r) => r.lastMs as number | null);
  const done = times.filter((t): t is number => t !== null);
  const all = repeats.length > 0 && done.length === repeats.length;
  const result = {
    ok: all && repeats.every((r) => r.ok),
    behind: K,
    via: cfg.resumeVia === 'after' ? 'notificationAdded(after:)' : 'Last-Event-ID header',
    client: `runner process, raw-socket SSE reader; ${pin.pinned}`,
    tableRows: rows,
    repeatsRun: repeats.length,
    medianMs: all ? round3(median(done)!) : null,
    maxMs: all ? round3(Math.max(...done)) : null,
    minMs: all ? round3(Math.min(...done)) : null,
    medianFirstMs: round3(median(repeats.map((r) => (r.firstMs as number | null) ?? Number.NaN).filter(Number.isFinite)) ?? Number.NaN),
    medianServerCpuMs: median(repeats.map((r) => (r.cpuMs as Record<string, number>).server!)),
    medianPostgresCpuMs: median(repeats.map((r) => (r.cpuMs as Record<string, number>).postgres!)),
    exact: repeats.every((r) => r.ok),
    repeats,
  };
  ctx.log(
    `  resume ${K} behind: median ${result.medianMs ?? 'n/a'} ms, max ${result.maxMs ?? 'n/a'} ms over ${repeats.length} repeats; positions ${result.exact ? 'exact in every repeat' : 'NOT exact'}`,
  );
  return result;
}

/** Rows in the notification table (the replay reads from it; the history data set may be there). */
async function tableRows(db: HookDatabase): Promise<number | null> {
  const c = new pg.Client({ connectionString: db.url });
  try {
    await c.connect();
    const r = await c.query("SELECT reltuples::bigint AS n FROM pg_class WHERE oid = to_regclass('public.notification')");
    return r.rows[0] && Number(r.rows[0].n) >= 0 ? Number(r.rows[0].n) : null;
  } catch {
    return null;
  } finally {
    await c.end().catch(() => {});
  }
}

/** Removes the resume users (not the history data set) so repeated runs do not grow the table. */
async function cleanup(db: HookDatabase): Promise<void> {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    await c.query('DELETE FROM notification WHERE recipient_id LIKE $1', [`${USER_PREFIX}%`]);
    await c.query('DELETE FROM inbox_state WHERE user_id LIKE $1', [`${USER_PREFIX}%`]);
  } finally {
    await c.end();
  }
}
