// Shared pieces of the Herald-only scenarios of issue #4 (history.ts, resume.ts):
// - the server is started on the *kept* bench database (created if missing, not dropped), so the
//   1,000,000-notification history data set is seeded once and reused by later runs;
// - the runner itself is the client (undici, keep-alive, sequential requests, or one raw SSE
//   socket) and is pinned to the generator CPU while these scenarios run;
// - tokens and requests come from the target adapter (targets/herald.ts), like the load generator's.
import { execFileSync } from 'node:child_process';
import pg from 'pg';
import { Client } from 'undici';
import { nowMs } from '../lib/clock.ts';
import { ADMIN_DATABASE_URL, BENCH_DATABASE_URL } from '../lib/db.ts';
import { HAS_TASKSET } from '../lib/proc.ts';
import { type RunningServer, startServer } from '../lib/server.ts';
import type { TargetClient } from '../targets/types.ts';
import type { ScenarioContext } from './context.ts';

/** Name of the bench database (from BENCH_DATABASE_URL; herald_bench by default). */
export function benchDbName(): string {
  return decodeURIComponent(new URL(BENCH_DATABASE_URL).pathname.slice(1));
}

/** Creates the bench database if it does not exist; never drops it. */
export async function ensureBenchDatabase(): Promise<void> {
  const name = benchDbName();
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`unexpected bench database name "${name}"`);
  const c = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await c.connect();
  try {
    const { rowCount } = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) await c.query(`CREATE DATABASE ${name}`);
  } finally {
    await c.end();
  }
}

/**
 * Starts the target on the bench database without recreating it (the target's own `prepare`
 * drops it). `fresh`: recreate it first (the target's prepare), e.g. before seeding.
 */
export function startOnKeptDatabase(ctx: ScenarioContext, label: string, fresh: boolean): Promise<RunningServer> {
  const target = fresh ? ctx.target : { ...ctx.target, prepare: ensureBenchDatabase };
  return startServer(target, {
    cpu: ctx.cfg.serverCpu,
    readyTimeoutMs: ctx.cfg.readyTimeoutMs,
    label,
    heartbeatMs: ctx.cfg.loadHeartbeatMs,
  });
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
