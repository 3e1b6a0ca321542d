// Child-process bookkeeping, CPU pinning and /proc sampling (CPU time, RSS) for every process
// taking part: servers, load generators, PostgreSQL and Redis.
import { type ChildProcess, execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { nowMs } from './clock.ts';

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

export const HAS_TASKSET = (() => {
  try {
    execFileSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** Wrap a command in `taskset -c <cpus>` when pinning is available and wanted. */
export function pinned(cpus: string | null, command: string, args: string[]): [string, string[]] {
  return cpus !== null && HAS_TASKSET ? ['taskset', ['-c', cpus, command, ...args]] : [command, args];
}

// ---- children: killed on exit / SIGINT / SIGTERM, each by its own pid ----
const children = new Set<ChildProcess>();

export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

export function killAllChildren(): void {
  for (const c of children) {
    if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) {
      try {
        process.kill(c.pid, 'SIGKILL');
      } catch {}
    }
  }
  children.clear();
}

export function installExitHandlers(): void {
  process.on('exit', killAllChildren);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      console.error(`\n${sig}: stopping all benchmark processes`);
      killAllChildren();
      process.exit(130);
    });
  }
}

/** Graceful stop: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(t);
}

// ---- /proc readers ----
export function readCpuTicks(pid: number): number | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // after "pid (comm) ": state=0 ... utime=11 stime=12 (fields 14 and 15 of stat)
    return Number(f[11]) + Number(f[12]);
  } catch {
    return null;
  }
}

export function readVmRssBytes(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

function readMachineTicks(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - (f[3] ?? 0) - (f[4] ?? 0), total };
}

/**
 * PostgreSQL processes relevant to the benchmark: the postmaster and auxiliary processes, plus
 * backends connected to `db`. Backends of other databases (e.g. someone's test run) are left out.
 * Redis cannot be split this way: its whole CPU is reported.
 */
export function findInfraPids(db: string): { postgres: number[]; redis: number[] } {
  const postgres: number[] = [];
  const redis: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let comm: string;
    try {
      comm = readFileSync(`/proc/${d}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    if (comm === 'redis-server') redis.push(Number(d));
    else if (comm === 'postgres') {
      let cmd = '';
      try {
        cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ');
      } catch {}
      const backend = /: (\S+) (\S+) (\S+\(\d+\)|\[local\])/.exec(cmd);
      if (!backend || backend[2] === db) postgres.push(Number(d));
    }
  }
  return { postgres, redis };
}

export interface CpuUsage {
  /** CPU seconds used in the window */
  cpuSeconds: number;
  /** average % of one core over the window (200% = both cores of a 2-core machine) */
  pct: number;
  pids: number;
}

export interface CpuWindow {
  seconds: number;
  groups: Record<string, CpuUsage>;
  /** whole machine (all processes, including unrelated ones), % of one core */
  machinePct: number;
  /** machine minus the groups above: unrelated load that may disturb the figures */
  otherPct: number;
}

/** Measures CPU per named group of pids between start() and stop(). */
export class CpuMeter {
  private t0 = 0;
  private m0 = { busy: 0, total: 0 };
  private readonly ticks0 = new Map<number, number>();

  constructor(private readonly groups: () => Record<string, number[]>) {}

  start(): this {
    this.ticks0.clear();
    for (const pids of Object.values(this.groups()))
      for (const pid of pids) {
        const t = readCpuTicks(pid);
        if (t !== null) this.ticks0.set(pid, t);
      }
    this.m0 = readMachineTicks();
    this.t0 = nowMs();
    return this;
  }

  stop(): CpuWindow {
    const seconds = (nowMs() - this.t0) / 1000;
    const m1 = readMachineTicks();
    const groups: Record<string, CpuUsage> = {};
    let ours = 0;
    for (const [name, pids] of Object.entries(this.groups())) {
      let ticks = 0;
      for (const pid of pids) {
        const t = readCpuTicks(pid);
        if (t !== null) ticks += t - (this.ticks0.get(pid) ?? 0); // new process: whole life is in the window
      }
      const cpuSeconds = ticks / CLK_TCK;
      ours += cpuSeconds;
      groups[name] = { cpuSeconds: round(cpuSeconds, 2), pct: round((100 * cpuSeconds) / seconds, 1), pids: pids.length };
    }
    const machineCores = ((m1.busy - this.m0.busy) / Math.max(1, m1.total - this.m0.total)) * cpuCount();
    const machinePct = 100 * machineCores;
    return {
      seconds: round(seconds, 2),
      groups,
      machinePct: round(machinePct, 1),
      otherPct: round(Math.max(0, machinePct - (100 * ours) / seconds), 1),
    };
  }
}

export function cpuCount(): number {
  try {
    return (
      readFileSync('/proc/cpuinfo', 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('processor')).length || 1
    );
  } catch {
    return 1;
  }
}

export function round(x: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

