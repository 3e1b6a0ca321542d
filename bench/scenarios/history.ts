// Scenario 4, history (Herald only): 1,000,000 notifications across 1,000 users in PostgreSQL.
// Times, through Herald's public GraphQL API over HTTP, page 1 of a user's inbox, page 50
// (its cursor found by following endCursor 49 times) and `unreadCount`; sequential requests on
// one keep-alive connection, the three kinds interleaved in random order and spread over random
// users, so that drifting machine load hits all three alike.
//
// The data set is written with SQL (INSERT ... SELECT generate_series) right after the server
// has migrated a fresh bench database, in time order (position 1 of every user, then position 2,
// ...) so that a user's rows are spread over the table as they would be after real traffic. It
// is kept: a later run that finds the same data set skips seeding (see hooks.ts).
import pg from 'pg';
import { sleep } from '../lib/clock.ts';
import { newHistogram, recordMs, summarize } from '../lib/hist.ts';
import type { CpuWindow } from '../lib/proc.ts';
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
  SequentialHttp,
  shuffle,
  startOnHookDatabase,
  userAuthorization,
} from './hooks.ts';

const USER_PREFIX = 'bench-history-';
/** Timed rounds between two quiet gates. */
const CHUNK_ROUNDS = 100;

const PAGE_QUERY = `query Inbox($first: Int!, $after: String) {
  notifications(first: $first, after: $after) {
    edges { cursor node { id title body type category read createdAt } }
    pageInfo { endCursor hasNextPage }
    streamCursor
  }
}`;
const UNREAD_QUERY = 'query Unread { unreadCount }';

/** Notification (user u, position s) is read when s <= P - 100 and s % 10 <> 0: newest 100 unread, then every 10th. */
const READ_RULE = (p: string, s: string) => `${s} <= ${p} - 100 AND ${s} % 10 <> 0`;

function expectedUnread(perUser: number): number {
  let n = 0;
  for (let s = 1; s <= perUser; s++) if (!(s <= perUser - 100 && s % 10 !== 0)) n++;
  return n;
}

interface SeedState {
  state: 'seeded' | 'absent' | 'different';
  detail: string;
}

/** Is the bench database already holding exactly this data set? */
async function seedState(db: HookDatabase, users: number, perUser: number): Promise<SeedState> {
  const c = new pg.Client({ connectionString: db.url });
  try {
    await c.connect();
  } catch (err) {
    return { state: 'absent', detail: `bench database not reachable (${(err as Error).message})` };
  }
  try {
    const reg = await c.query(
      "SELECT to_regclass('public.inbox_state') IS NOT NULL AND to_regclass('public.notification') IS NOT NULL AS ok",
    );
    if (!reg.rows[0].ok) return { state: 'absent', detail: 'no Herald schema yet' };
    const like = `${USER_PREFIX}%`;
    const s = (
      await c.query(
        `SELECT count(*)::int AS users, coalesce(min(last_seq), 0)::int AS lo, coalesce(max(last_seq), 0)::int AS hi,
                coalesce(sum(unread_count), 0)::bigint AS unread
         FROM inbox_state WHERE user_id LIKE $1`,
        [like],
      )
    ).rows[0];
    const n = Number((await c.query('SELECT count(*)::bigint AS n FROM notification WHERE recipient_id LIKE $1', [like])).rows[0].n);
    const found = `${s.users} users, positions ${s.lo}..${s.hi}, ${n} rows, ${s.unread} unread`;
    if (s.users === 0 && n === 0) return { state: 'absent', detail: 'no history data set' };
    const ok =
      s.users === users &&
      s.lo === perUser &&
      s.hi === perUser &&
      n === users * perUser &&
      Number(s.unread) === users * expectedUnread(perUser);
    return { state: ok ? 'seeded' : 'different', detail: found };
  } finally {
    await c.end();
  }
}

/** Writes the data set into a freshly migrated, empty database. */
async function seed(ctx: ScenarioContext, db: HookDatabase, users: number, perUser: number) {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  const t0 = Date.now();
  try {
    await c.query("SET statement_timeout = '10min'");
    await c.query('BEGIN');
    // The table is empty (fresh database): drop its indexes (and unique/primary-key constraints,
    // unless a foreign key needs them), load, then rebuild them from their own definitions as
    // read from the catalog, so they stay Herald's. Building an index by sorting is several times
    // faster than maintaining six of them row by row (about 12 s instead of 30-50 s here).
    await c.query("SET LOCAL maintenance_work_mem = '256MB'");
    const referenced = (await c.query("SELECT 1 FROM pg_constraint WHERE confrelid = 'notification'::regclass")).rowCount! > 0;
    const constraints = referenced
      ? []
      : (
          await c.query<{ name: string; def: string }>(
            `SELECT conname AS name, pg_get_constraintdef(oid) AS def FROM pg_constraint
             WHERE conrelid = 'notification'::regclass AND contype IN ('p', 'u')`,
          )
        ).rows;
    const indexes = (
      await c.query<{ name: string; def: string }>(
        `SELECT indexrelid::regclass::text AS name, pg_get_indexdef(indexrelid) AS def FROM pg_index i
         WHERE indrelid = 'notification'::regclass AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)`,
      )
    ).rows;
    for (const k of constraints) await c.query(`ALTER TABLE notification DROP CONSTRAINT "${k.name}"`);
    for (const i of indexes) await c.query(`DROP INDEX ${i.name}`);
    // Ordered by position, then user: the order emits would have written them in. Timestamps
    // follow positions (one minute apart, newest now), well inside the retention window.
    await c.query(
      `INSERT INTO notification (recipient_id, seq, title, body, type, category, data, read_at, created_at)
       SELECT $1::text || u, s,
              'Timesheet ' || s || ' needs attention',
              'Your timesheet for period ' || s || ' was reviewed by a manager; open it to see the comments and resubmit it if needed.',
              (ARRAY['ALERT','REMINDER','UPDATE','SYSTEM_NOTICE','PROMOTION']::"NotificationType"[])[1 + s % 5],
              'timesheet.' || (ARRAY['rejected','approved','reminder'])[1 + s % 3],
              jsonb_build_object('period', s),
              CASE WHEN ${READ_RULE('$3::int', 's')} THEN ts + interval '1 hour' END,
              ts
       FROM generate_series(1, $3::int) AS s
       CROSS JOIN generate_series(0, $2::int - 1) AS u
       CROSS JOIN LATERAL (SELECT now() - make_interval(secs => (($3::int - s) * 60 + u)::double precision) AS ts) t
       ORDER BY s, u`,
      [USER_PREFIX, users, perUser],
    );
    const inserted = (Date.now() - t0) / 1000;
    for (const k of constraints) await c.query(`ALTER TABLE notification ADD CONSTRAINT "${k.name}" ${k.def}`);
    for (const i of indexes) await c.query(i.def);
    const indexed = (Date.now() - t0) / 1000;
    // Per-user state exactly as emits leave it: last position, exact unread count, one version per emit.
    await c.query(
      `INSERT INTO inbox_state (user_id, last_seq, unread_count, version, updated_at)
       SELECT recipient_id, max(seq), count(*) FILTER (WHERE read_at IS NULL AND archived_at IS NULL), max(seq), now()
       FROM notification WHERE recipient_id LIKE $1 GROUP BY recipient_id`,
      [`${USER_PREFIX}%`],
    );
    await c.query('COMMIT');
    const committed = (Date.now() - t0) / 1000;
    // Visibility map, hint bits and planner statistics now, not during the measurement.
    await c.query('VACUUM (ANALYZE) notification');
    await c.query('VACUUM (ANALYZE) inbox_state');
    await c.query('CHECKPOINT').catch(() => {}); // needs superuser / pg_checkpoint; best effort
    const seconds = (Date.now() - t0) / 1000;
    ctx.log(
      `  seeded ${users * perUser} notifications in ${seconds.toFixed(1)} s (insert ${inserted.toFixed(1)} s, indexes ${(indexed - inserted).toFixed(1)} s, ` +
        `committed at ${committed.toFixed(1)} s, then VACUUM ANALYZE and CHECKPOINT)`,
    );
    return {
      seconds: round3(seconds),
      insertSeconds: round3(inserted),
      indexSeconds: round3(indexed - inserted),
      rebuilt: [...constraints.map((k) => k.name), ...indexes.map((i) => i.name)],
    };
  } catch (err) {
    await c.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    await c.end();
  }
}

interface PageResponse {
  data?: {
    notifications: {
      edges: Array<{ cursor: string; node: { id: string } }>;
      pageInfo: { endCursor: string | null; hasNextPage: boolean };
      streamCursor: string;
    };
  };
  errors?: Array<{ message: string }>;
}

/** Checks that a page holds exactly positions [top, top - size + 1], newest first. */
function checkPage(r: PageResponse, top: number, size: number, perUser: number, where: string): string | null {
  if (r.errors?.length) return `${where}: ${r.errors[0]!.message}`;
  const conn = r.data?.notifications;
  if (!conn) return `${where}: no data`;
  const seqs = conn.edges.map((e) => cursorSeq(e.cursor));
  const want = Array.from({ length: Math.max(0, Math.min(size, top)) }, (_, i) => top - i);
  if (seqs.length !== want.length || seqs.some((s, i) => s !== want[i]))
    return `${where}: positions ${seqs.slice(0, 3).join(',')}..${seqs.at(-1)} (${seqs.length}), expected ${want[0]}..${want.at(-1)} (${want.length})`;
  if (conn.pageInfo.hasNextPage !== top - size > 0) return `${where}: hasNextPage ${conn.pageInfo.hasNextPage}`;
  if (cursorSeq(conn.streamCursor) !== perUser) return `${where}: streamCursor at ${cursorSeq(conn.streamCursor)}, expected ${perUser}`;
  return null;
}

export async function history(ctx: ScenarioContext): Promise<ScenarioResult> {
  if (ctx.target.name !== 'herald') return { ok: true, skipped: 'Herald only' };
  const { cfg } = ctx;
  const U = cfg.historyUsers;
  const P = cfg.historyPerUser;
  const S = cfg.historyPageSize;
  const N = cfg.historyPage;
  if (P < N * S) throw new Error(`--history-per-user ${P} is too small for page ${N} of ${S}`);
  const users = Array.from({ length: U }, (_, i) => `${USER_PREFIX}${i}`);
  const unreadWant = expectedUnread(P);

  const db = hookDatabase(cfg);
  const before = await seedState(db, U, P);
  const reuse = before.state === 'seeded';
  ctx.log(`  data set: ${reuse ? `already seeded (${before.detail})` : `${before.detail}: recreating the bench database and seeding`}`);
  const srv = await startOnHookDatabase(ctx, db, 'history', !reuse);
  const pin = pinRunner(cfg.generatorCpu);
  const http = new SequentialHttp(srv);
  const errors: string[] = [];
  try {
    const seeding = reuse ? { skipped: true, found: before.detail } : { skipped: false, ...(await seed(ctx, db, U, P)) };

    const client = await ctx.target.client(srv.addr);
    const auths = await Promise.all(users.map((u) => userAuthorization(client, u)));
    const headers = (i: number) => ({ 'content-type': 'application/json', authorization: auths[i]! });
    const page = (i: number, after: string | null) =>
      http.post('/graphql', headers(i), JSON.stringify({ query: PAGE_QUERY, variables: { first: S, after } }));
    const unread = (i: number) => http.post('/graphql', headers(i), JSON.stringify({ query: UNREAD_QUERY }));

    // Cursors of page N, found the way a client finds them: following endCursor N-1 times (each page checked).
    const walkers = shuffle(users.map((_, i) => i)).slice(0, Math.min(cfg.historyWalkUsers, U));
    const pageNCursor = new Map<number, string>();
    const byDepth: number[][] = Array.from({ length: N - 1 }, () => []);
    const tWalk = Date.now();
    for (const i of walkers) {
      let after: string | null = null;
      for (let k = 1; k < N; k++) {
        const r = await page(i, after);
        byDepth[k - 1]!.push(r.ms);
        const parsed = JSON.parse(r.body) as PageResponse;
        const bad = r.status !== 200 ? `HTTP ${r.status}` : checkPage(parsed, P - (k - 1) * S, S, P, `user ${i} page ${k}`);
        if (bad) throw new Error(`pagination check failed: ${bad}`);
        after = parsed.data!.notifications.pageInfo.endCursor;
      }
      pageNCursor.set(i, after!);
    }
    const walkSeconds = (Date.now() - tWalk) / 1000;
    ctx.log(
      `  page-${N} cursors of ${walkers.length} users found by following endCursor (${walkers.length * (N - 1)} requests, all pages verified) in ${walkSeconds.toFixed(1)} s`,
    );

    const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)]!;
    const allIdx = users.map((_, i) => i);
    type Kind = 'page1' | 'pageN' | 'unread';
    const kinds: Kind[] = ['page1', 'pageN', 'unread'];
    const run = async (kind: Kind, check: boolean) => {
      let r: { ms: number; status: number; body: string };
      let bad: string | null = null;
      if (kind === 'unread') {
        const i = pick(allIdx);
        r = await unread(i);
        if (check) {
          const j = JSON.parse(r.body) as { data?: { unreadCount: number }; errors?: Array<{ message: string }> };
          if (j.data?.unreadCount !== unreadWant)
            bad = `unreadCount ${j.data?.unreadCount ?? j.errors?.[0]?.message}, expected ${unreadWant}`;
        }
      } else if (kind === 'page1') {
        const i = pick(allIdx);
        r = await page(i, null);
        if (check) bad = checkPage(JSON.parse(r.body) as PageResponse, P, S, P, `user ${i} page 1`);
      } else {
        const i = pick(walkers);
        r = await page(i, pageNCursor.get(i)!);
        if (check) bad = checkPage(JSON.parse(r.body) as PageResponse, P - (N - 1) * S, S, P, `user ${i} page ${N}`);
      }
      if (r.status !== 200 || r.body.includes('"errors"')) bad ??= `HTTP ${r.status}: ${r.body.slice(0, 200)}`;
      return { ms: r.ms, bad };
    };

    // Warm-up (every response checked), then the measurement (responses checked cheaply).
    for (let k = 0; k < cfg.historyWarmup; k++)
      for (const kind of shuffle([...kinds])) {
        const { bad } = await run(kind, true);
        if (bad) throw new Error(`warm-up check failed: ${bad}`);
      }
    // Timed rounds in chunks, each after the quiet gate (the machine is shared), CPU metered per chunk.
    const hists = { page1: newHistogram(), pageN: newHistogram(), unread: newHistogram() };
    const raw: Record<Kind, number[]> = { page1: [], pageN: [], unread: [] };
    const windows: CpuWindow[] = [];
    const quiet = { chunks: 0, waitedSeconds: 0, maxOtherPctBefore: 0 };
    const chunks: Array<Record<string, number>> = [];
    for (let done = 0; done < cfg.historyRequests; done += CHUNK_ROUNDS) {
      const q = await hookWaitQuiet(ctx, srv, db);
      quiet.chunks++;
      quiet.waitedSeconds = round3(quiet.waitedSeconds + q.waitedSeconds);
      quiet.maxOtherPctBefore = Math.max(quiet.maxOtherPctBefore, q.otherPct);
      const meter = hookMeter(srv, db).start();
      const chunkMs: number[] = [];
      for (let k = done; k < Math.min(cfg.historyRequests, done + CHUNK_ROUNDS); k++)
        for (const kind of shuffle([...kinds])) {
          const { ms, bad } = await run(kind, false);
          if (bad) {
            if (errors.length < 5) errors.push(bad);
            continue;
          }
          recordMs(hists[kind], ms);
          raw[kind].push(ms);
          chunkMs.push(ms);
        }
      const w = meter.stop();
      windows.push(w);
      chunks.push({
        waitedSeconds: q.waitedSeconds,
        otherPctBefore: q.otherPct,
        otherPctDuring: w.otherPct,
        serverCpuMsPerRequest: round3((1000 * (w.groups.server?.cpuSeconds ?? 0)) / Math.max(1, chunkMs.length)),
        p50Ms: round3(median(chunkMs) ?? 0),
        maxMs: round3(Math.max(0, ...chunkMs)),
        firstTenMedianMs: round3(median(chunkMs.slice(0, 10)) ?? 0),
      });
    }
    const cpu = mergeWindows(windows);
    const sum = Object.fromEntries(kinds.map((k) => [k, summarize(hists[k])])) as Record<Kind, ReturnType<typeof summarize>>;
    for (const k of kinds) hists[k].destroy();
    const total = kinds.reduce((a, k) => a + raw[k].length, 0);
    const cpuMsPerRequest = Object.fromEntries(
      ['server', 'postgres', 'runner'].map((g) => [g, round3((1000 * (cpu.groups[g]?.cpuSeconds ?? 0)) / Math.max(1, total))]),
    );
    const ratio = (a: number, b: number) => (b > 0 ? Math.round((a / b) * 100) / 100 : null);
    const ratios = {
      p50: ratio(sum.pageN.p50, sum.page1.p50),
      p99: ratio(sum.pageN.p99, sum.page1.p99),
      mean: ratio(sum.pageN.mean, sum.page1.mean),
    };
    ctx.log(
      `  page 1: p50 ${sum.page1.p50} / p99 ${sum.page1.p99} ms; page ${N}: p50 ${sum.pageN.p50} / p99 ${sum.pageN.p99} ms (ratio of medians ${ratios.p50}); unreadCount: p50 ${sum.unread.p50} / p99 ${sum.unread.p99} ms`,
    );

    // Where the time goes (1): CPU per request of each kind alone (CPU ticks are 10 ms, hence runs of a few hundred).
    const cpuByKind: Record<string, { requests: number; wallMeanMs: number; serverMs: number; postgresMs: number }> = {};
    const perKind = Math.max(200, Math.round(cfg.historyRequests / 2));
    for (const kind of kinds) {
      const m = hookMeter(srv, db).start();
      for (let k = 0; k < perKind; k++) await run(kind, false);
      const w = m.stop();
      cpuByKind[kind] = {
        requests: perKind,
        wallMeanMs: round3((1000 * w.seconds) / perKind),
        serverMs: round3((1000 * (w.groups.server?.cpuSeconds ?? 0)) / perKind),
        postgresMs: round3((1000 * (w.groups.postgres?.cpuSeconds ?? 0)) / perKind),
      };
    }
    ctx.log(
      `  server CPU per request: ${kinds.map((k) => `${k} ${cpuByKind[k]!.serverMs} ms (pg ${cpuByKind[k]!.postgresMs} ms, wall ${cpuByKind[k]!.wallMeanMs} ms)`).join('; ')}`,
    );

    // Where the time goes (2): the same SQL straight through `pg` (the database's share), and the plans.
    const sql = await sqlFloor(db, U, P, S, N, Math.min(cfg.historyRequests, 500));
    ctx.log(
      `  same SQL through raw pg: page 1 p50 ${sql.page1.p50} ms, page ${N} p50 ${sql.pageN.p50} ms, unread p50 ${sql.unread.p50} ms`,
    );

    const medianByDepth = byDepth.map((xs) => round3(median(xs) ?? 0));
    return {
      ok: errors.length === 0,
      users: U,
      perUser: P,
      notifications: U * P,
      pageSize: S,
      page: N,
      unreadPerUser: unreadWant,
      seeding,
      client: `runner process, one keep-alive HTTP/1.1 connection (undici), sequential requests; ${pin.pinned}`,
      walk: { users: walkers.length, requests: walkers.length * (N - 1), seconds: round3(walkSeconds), medianMsByPage: medianByDepth },
      warmupRounds: cfg.historyWarmup,
      rounds: cfg.historyRequests,
      page1: sum.page1,
      pageN: sum.pageN,
      unread: sum.unread,
      ratios,
      sql,
      cpu,
      cpuMsPerRequest,
      cpuByKind,
      quietWait: quiet,
      chunks,
      errors,
    };
  } finally {
    pin.restore();
    await http.close().catch(() => {});
    await srv.stop();
  }
}

/** Sums CPU windows measured one after another (CPU seconds add up; percentages are over their total time). */
function mergeWindows(ws: CpuWindow[]): CpuWindow {
  const seconds = ws.reduce((a, w) => a + w.seconds, 0);
  const groups: CpuWindow['groups'] = {};
  for (const w of ws)
    for (const [g, u] of Object.entries(w.groups)) {
      const acc = (groups[g] ??= { cpuSeconds: 0, pct: 0, pids: u.pids });
      acc.cpuSeconds = Math.round((acc.cpuSeconds + u.cpuSeconds) * 100) / 100;
    }
  for (const u of Object.values(groups)) u.pct = Math.round((1000 * u.cpuSeconds) / Math.max(seconds, 1e-9)) / 10;
  const weighted = (f: (w: CpuWindow) => number) =>
    Math.round((10 * ws.reduce((a, w) => a + f(w) * w.seconds, 0)) / Math.max(seconds, 1e-9)) / 10;
  return { seconds: round3(seconds), groups, machinePct: weighted((w) => w.machinePct), otherPct: weighted((w) => w.otherPct) };
}

/**
 * The database's share: listInbox's statements (a copy: a REPEATABLE READ transaction reading
 * last_seq and then the page) and unreadCount's SELECT, through one raw `pg` connection, plus
 * EXPLAIN (ANALYZE, BUFFERS) of both pages for one user.
 */
async function sqlFloor(db: HookDatabase, users: number, perUser: number, size: number, pageNo: number, rounds: number) {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  const cols = 'id, recipient_id, seq, title, body, type, category, data, read_at, archived_at, created_at';
  const pageSql = (after: boolean) =>
    `SELECT ${cols} FROM notification WHERE recipient_id = $1${after ? ' AND seq < $2' : ''} AND archived_at IS NULL ORDER BY seq DESC LIMIT ${size + 1}`;
  const afterSeq = perUser - (pageNo - 1) * size + 1; // page N starts below the last position of page N-1
  const tx = async (user: string, after: boolean) => {
    await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    await c.query('SELECT last_seq FROM inbox_state WHERE user_id = $1', [user]);
    await c.query(pageSql(after), after ? [user, afterSeq] : [user]);
    await c.query('COMMIT');
  };
  try {
    const hists = { page1: newHistogram(), pageN: newHistogram(), unread: newHistogram() };
    const user = () => `${USER_PREFIX}${Math.floor(Math.random() * users)}`;
    const ops: Record<keyof typeof hists, () => Promise<unknown>> = {
      page1: () => tx(user(), false),
      pageN: () => tx(user(), true),
      unread: () => c.query('SELECT unread_count FROM inbox_state WHERE user_id = $1', [user()]),
    };
    const keys = Object.keys(ops) as (keyof typeof hists)[];
    for (let k = 0; k < 50; k++) for (const key of keys) await ops[key]();
    for (let k = 0; k < rounds; k++)
      for (const key of shuffle([...keys])) {
        const t0 = performance.now();
        await ops[key]();
        recordMs(hists[key], performance.now() - t0);
      }
    const explain = async (after: boolean) => {
      const u = `${USER_PREFIX}${Math.floor(users / 2)}`;
      const rows = (await c.query(`EXPLAIN (ANALYZE, BUFFERS) ${pageSql(after)}`, after ? [u, afterSeq] : [u])).rows as Array<{
        'QUERY PLAN': string;
      }>;
      const lines = rows.map((r) => r['QUERY PLAN']);
      return {
        plan: lines.find((l) => /Scan/.test(l))?.trim() ?? lines[0] ?? '',
        buffers: lines.find((l) => /Buffers:/.test(l))?.trim() ?? '',
        executionMs: Number(/Execution Time: ([\d.]+)/.exec(lines.join('\n'))?.[1] ?? Number.NaN),
      };
    };
    const out = {
      rounds,
      page1: summarize(hists.page1),
      pageN: summarize(hists.pageN),
      unread: summarize(hists.unread),
      explainPage1: await explain(false),
      explainPageN: await explain(true),
    };
    for (const h of Object.values(hists)) h.destroy();
    await sleep(0);
    return out;
  } finally {
    await c.end();
  }
}
