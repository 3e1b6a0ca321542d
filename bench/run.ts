// npm run bench -- [--quick] [--targets b0,b0r,b0p,socketio,herald] [--scenarios idle,personal,bulk] ...
// Starts every target as its own process on loopback (pinned to CPU 0), drives it with load
// generator processes (pinned to CPU 1), and writes bench/results/<stamp>.md/.json and latest.*.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { type Config, loadConfig } from './config.ts';
import { ADMIN_DATABASE_URL } from './lib/db.ts';
import { HAS_TASKSET, installExitHandlers, killAllChildren } from './lib/proc.ts';
import { analyse, markdown, type Report, type TargetRun } from './lib/report.ts';
import { LOG_DIR } from './lib/server.ts';
import { attack } from './scenarios/attack.ts';
import { bulk } from './scenarios/bulk.ts';
import { type Scenario, ScenarioContext } from './scenarios/context.ts';
import { history } from './scenarios/history.ts';
import { idle } from './scenarios/idle.ts';
import { personal } from './scenarios/personal.ts';
import { resume } from './scenarios/resume.ts';
import { REPO_ROOT } from './targets/baselines.ts';
import { getTarget } from './targets/index.ts';

const SCENARIOS: Record<string, Scenario> = { idle, personal, bulk, history, resume, attack };

function log(msg: string): void {
  console.log(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);
}

async function infra(): Promise<{ postgres: string | null; redis: string | null }> {
  let postgres: string | null = null;
  let redis: string | null = null;
  const c = new pg.Client({ connectionString: ADMIN_DATABASE_URL, connectionTimeoutMillis: 5000 });
  try {
    await c.connect();
    postgres = ((await c.query('SHOW server_version')).rows[0].server_version as string).split(' ')[0]!;
    postgres = `PostgreSQL ${postgres}`;
  } catch (err) {
    log(`PostgreSQL not reachable (${ADMIN_DATABASE_URL}): ${(err as Error).message}`);
  } finally {
    await c.end().catch(() => {});
  }
  const r = new Redis(process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379', {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  try {
    await r.connect();
    redis = /redis_version:(\S+)/.exec(await r.info('server'))?.[1] ?? 'unknown';
  } catch (err) {
    log(`Redis not reachable: ${(err as Error).message}`);
  } finally {
    r.disconnect();
  }
  return { postgres, redis };
}

function nofile(): string {
  try {
    return /Max open files\s+(\d+)\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'))?.slice(1).join('/') ?? '?';
  } catch {
    return '?';
  }
}

/** The commit measured, and whether the server's sources differ from it (the tree may be in use). */
function gitState(): string | null {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
    const sha = git('rev-parse', '--short', 'HEAD');
    const dirty = git('status', '--porcelain', '--', 'src', 'prisma').split('\n').filter(Boolean).length;
    return `commit ${sha}${dirty ? ` + uncommitted changes in ${dirty} file(s) under src/ or prisma/` : ''}`;
  } catch {
    return null;
  }
}

function writeReports(report: Report, cfg: Config, stamp: string): string {
  const dir = path.resolve(REPO_ROOT, cfg.outDir);
  mkdirSync(dir, { recursive: true });
  const md = markdown(report);
  const json = JSON.stringify({ ...report, checks: analyse(report).checks }, null, 2);
  const base = path.join(dir, `${stamp}${cfg.quick ? '-quick' : ''}`);
  for (const [file, body] of [
    [`${base}.md`, md],
    [`${base}.json`, json],
    [path.join(dir, 'latest.md'), md],
    [path.join(dir, 'latest.json'), json],
  ] as const)
    writeFileSync(file, `${body}\n`);
  return `${base}.md`;
}

async function main(): Promise<void> {
  installExitHandlers();
  const cfg = loadConfig(process.argv.slice(2), process.env);
  for (const s of cfg.scenarios)
    if (!SCENARIOS[s]) throw new Error(`unknown scenario "${s}" (known: ${Object.keys(SCENARIOS).join(', ')})`);
  const targets = cfg.targets.map(getTarget);
  const t0 = Date.now();
  const deadline = t0 + cfg.maxMinutes * 60_000;
  const stamp = new Date(t0).toISOString().slice(0, 19).replace(/:/g, '-');
  const { postgres, redis } = await infra();
  const cpus = os.cpus();
  const report: Report = {
    meta: {
      startedAt: new Date(t0).toISOString(),
      cpuModel: cpus[0]?.model ?? '?',
      cpus: cpus.length,
      memGiB: Math.round(os.totalmem() / 2 ** 30),
      kernel: os.release(),
      nofile: nofile(),
      node: process.version,
      postgres: postgres ?? 'PostgreSQL unreachable',
      redis: redis ?? 'unreachable',
      git: gitState(),
      pinning:
        HAS_TASKSET && cfg.serverCpu !== null
          ? `server on CPU ${cfg.serverCpu}, load generators on CPU ${cfg.generatorCpu ?? 'any'} (taskset)`
          : 'none',
      loadStart: os
        .loadavg()
        .map((x) => x.toFixed(2))
        .join(' '),
      logDir: LOG_DIR,
    },
    config: cfg,
    results: {},
  };
  // Hard stop: never let a wedged run keep thousands of sockets open.
  setTimeout(
    () => {
      log(`time budget (${cfg.maxMinutes} min) exceeded by 5 min: killing everything`);
      killAllChildren();
      report.meta.aborted = 'hard time limit';
      writeReports(report, cfg, stamp);
      process.exit(2);
    },
    (cfg.maxMinutes + 5) * 60_000,
  ).unref();

  log(`targets ${cfg.targets.join(',')}; scenarios ${cfg.scenarios.join(',')}${cfg.quick ? ' (quick)' : ''}; server logs in ${LOG_DIR}`);
  for (const target of targets) {
    const reason =
      target.unavailableReason() ??
      (target.uses.postgres && !postgres ? 'PostgreSQL unreachable' : null) ??
      (target.uses.redis && !redis ? 'Redis unreachable' : null);
    if (reason) {
      log(`${target.name}: skipped (${reason})`);
      report.results[target.name] = { status: 'skipped', reason, scenarios: {} };
      continue;
    }
    const run: TargetRun = { status: 'ran', description: target.description, scenarios: {} };
    report.results[target.name] = run;
    for (const name of cfg.scenarios) {
      if (Date.now() > deadline) {
        run.scenarios[name] = { ok: false, skipped: 'time budget exhausted' };
        continue;
      }
      log(`${target.name} / ${name}`);
      const ctx = new ScenarioContext(target, cfg, deadline, (m) => log(m));
      try {
        run.scenarios[name] = await SCENARIOS[name]!(ctx);
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        log(`  ERROR: ${msg}`);
        run.scenarios[name] = { ok: false, error: msg.slice(0, 2000) };
      }
      writeReports(report, cfg, stamp); // partial results survive an interrupted run
    }
  }
  report.meta.loadEnd = os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
  report.meta.durationS = Math.round((Date.now() - t0) / 1000);
  const file = writeReports(report, cfg, stamp);
  log(`report: ${path.relative(process.cwd(), file)} (and latest.md / latest.json)`);
}

main().then(
  () => {
    killAllChildren();
    process.exit(0);
  },
  (err) => {
    console.error(err instanceof Error ? err.message : err);
    killAllChildren();
    process.exit(1);
  },
);
