// Shared pieces of the Herald-only scenarios of issue #4 (history.ts, resume.ts):
// - the server is started on the *kept* bench database (created if missing, not dropped; or the
//   one named by --hooks-database), so the 1,000,000-notification history data set is seeded
//   once and reused by later runs;
// - the runner itself is the client (undici, keep-alive, sequential requests, or one raw SSE
//   socket) and is pinned to the generator CPU while these scenarios run;
// - tokens and requests come from the target adapter (targets/herald.ts), like the load generator's.
import { execFileSync } from 'node:child_process';
import pg from 'pg';
import { Client } from 'undici';
import type { Config } from '../config.ts';
import { nowMs } from '../lib/clock.ts';
import { ADMIN_DATABASE_URL, BENCH_DATABASE_URL } from '../lib/db.ts';
import { CpuMeter, findInfraPids, HAS_TASKSET } from '../lib/proc.ts';
import { type RunningServer, startServer } from '../lib/server.ts';
import type { Target, TargetClient } from '../targets/types.ts';
import type { ScenarioContext } from './context.ts';

/** The database history and resume run on: the bench database, or `--hooks-database`. */
export interface HookDatabase {
  name: string;
  url: string;
}

export function hookDatabase(cfg: Config): HookDatabase {
  const url = new URL(BENCH_DATABASE_URL);
  if (!cfg.hooksDatabase) return { name: decodeURIComponent(url.pathname.slice(1)), url: BENCH_DATABASE_URL };
  // It may be dropped and recreated: only scratch names.
  if (!/^herald_bench[a-z0-9_]*$/.test(cfg.hooksDatabase))
    throw new Error(`--hooks-database must be herald_bench or start with herald_bench (it may be dropped), got "${cfg.hooksDatabase}"`);
  url.pathname = `/${cfg.hooksDatabase}`;
  return { name: cfg.hooksDatabase, url: url.toString() };
}

async function admin(fn: (c: pg.Client) => Promise<void>): Promise<void> {
  const c = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await c.connect();
  try {
    await fn(c);
  } finally {
    await c.end();
  }
}

/** Creates the database if it does not exist, or (fresh) drops and recreates it. */
async function prepareDatabase(db: HookDatabase, fresh: boolean): Promise<void> {
  if (!/^[a-z_][a-z0-9_]*$/.test(db.name)) throw new Error(`unexpected bench database name "${db.name}"`);
  await admin(async (c) => {
    if (fresh) await c.query(`DROP DATABASE IF EXISTS ${db.name} WITH (FORCE)`);
    const { rowCount } = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [db.name]);
    if (!rowCount) await c.query(`CREATE DATABASE ${db.name}`);
  });
}

/**
 * Starts the target on the hook database without recreating it (the target's own `prepare`
 * drops the bench database), or on a freshly recreated one (`fresh`, before seeding).
 */
export function startOnHookDatabase(ctx: ScenarioContext, db: HookDatabase, label: string, fresh: boolean): Promise<RunningServer> {
  const base = ctx.target;
  const target: Target = {
    ...base,
    prepare: () => prepareDatabase(db, fresh),
    launch: (port, opts) => {
      const spec = base.launch(port, opts);
      return { ...spec, env: { ...spec.env, DATABASE_URL: db.url } };
    },
  };
  return startServer(target, {
    cpu: ctx.cfg.serverCpu,
    readyTimeoutMs: ctx.cfg.readyTimeoutMs,
    label,
    heartbeatMs: ctx.cfg.loadHeartbeatMs,
  });
}

/**
 * The target with its server's environment edited by a scenario: `edit` sees the environment the
 * server would get (the runner's, then the target's own settings) and returns keys to set, a value
 * of `undefined` removing the key. The attack scenario uses it to run Herald with its default
 * limits where the target raises them for the load scenarios.
 */
export function withServerEnv(
  base: Target,
  edit: (env: Readonly<Record<string, string | undefined>>) => Record<string, string | undefined>,
): Target {
  return {
    ...base,
    launch: (port, opts) => {
      const spec = base.launch(port, opts);
      return { ...spec, env: { ...spec.env, ...edit({ ...process.env, ...spec.env }) } };
    },
  };
}

/** CPU of the server, PostgreSQL (backends of the hook database), Redis and the runner (the client here). */
export function hookMeter(srv: RunningServer, db: HookDatabase): CpuMeter {
  return new CpuMeter(() => ({ server: [srv.pid], ...findInfraPids(db.name), runner: [process.pid] }));
}

/** ScenarioContext.waitQuiet for the hook database: wait (bounded) until unrelated load is low. */
export function hookWaitQuiet(ctx: ScenarioContext, srv: RunningServer, db: HookDatabase) {
  return ctx.waitQuietWith(() => hookMeter(srv, db));
}

/**
 * Pins this (runner) process, all its threads, to `cpu` while a client-side measurement runs, so
 * it does not share the server's core. Returns the function that restores the previous affinity.
 */
export function pinRunner(cpu: string | null): { pinned: string; restore: () => void } {
  if (cpu === null || !HAS_TASKSET) return { pinned: 'not pinned', restore: () => {} };
  try {
    const out = execFileSync('taskset', ['-p', String(process.pid)], { encoding: 'utf8' });
    const mask = /:\s*([0-9a-fA-F,]+)\s*$/.exec(out.trim())?.[1];
    execFileSync('taskset', ['-a', '-p', '-c', cpu, String(process.pid)], { stdio: 'ignore' });
    return {
      pinned: `runner (client) pinned to CPU ${cpu}`,
      restore: () => {
        if (!mask) return;
        try {
          execFileSync('taskset', ['-a', '-p', mask, String(process.pid)], { stdio: 'ignore' });
        } catch {}
      },
    };
  } catch (err) {
    return { pinned: `not pinned (${(err as Error).message.split('\n')[0]})`, restore: () => {} };
  }
}

/** The position inside a Herald cursor (`base64url("h1:<seq>")`), or null if it is not one. */
export function cursorSeq(cursor: string): number | null {
  const m = /^h1:(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  return m ? Number(m[1]) : null;
}

/** Bearer header of a user, exactly as the load generator's subscribers are signed. */
export async function userAuthorization(client: TargetClient, userId: string): Promise<string> {
  const spec = await client.subscribe(userId);
  if (spec.kind !== 'sse') throw new Error('Herald subscribes over SSE');
  const auth = spec.request.headers.authorization;
  if (!auth) throw new Error('the target adapter gave no authorization header');
  return auth;
}

export interface Timed {
  ms: number;
  status: number;
  body: string;
}

/**
 * One keep-alive HTTP/1.1 connection (undici Client, no pipelining): requests are sequential, so
 * each timing is one request's round trip, from just before it is written until its body is read.
 */
export class SequentialHttp {
  readonly client: Client;

  constructor(srv: RunningServer) {
    this.client = new Client(`http://${srv.addr.host}:${srv.addr.port}`, { pipelining: 1, keepAliveTimeout: 60_000 });
  }

  async post(path: string, headers: Record<string, string>, body: string): Promise<Timed> {
    const t0 = nowMs();
    const res = await this.client.request({ path, method: 'POST', headers, body });
    const text = await res.body.text();
    return { ms: nowMs() - t0, status: res.statusCode, body: text };
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

export const median = (xs: number[]): number | null => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

export const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** Fisher-Yates, in place. */
export function shuffle<T>(xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}
