// Starts a target server as a separate process (pinned to CPU 0), waits until it is ready,
// reads its memory figures, stops it.
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { LaunchSpec, Target, TargetAddress } from '../targets/types.ts';
import { sleep } from './clock.ts';
import { pinned, readVmRssBytes, stopChild, track } from './proc.ts';

export const LOG_DIR = path.join(os.tmpdir(), 'herald-bench-logs');

export interface MemStats {
  source: 'stats' | 'proc';
  rss: number;
  heapUsed: number | null;
  streams: number | null;
}

export interface RunningServer {
  target: Target;
  addr: TargetAddress;
  pid: number;
  child: ChildProcess;
  spec: LaunchSpec;
  logFile: string;
  tail(): string;
  mem(gc: boolean): Promise<MemStats>;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

let serial = 0;

export async function startServer(
  target: Target,
  opts: { cpu: string | null; readyTimeoutMs: number; label: string; heartbeatMs: number },
): Promise<RunningServer> {
  await target.prepare?.();
  const port = await freePort();
  const spec = target.launch(port, { heartbeatMs: opts.heartbeatMs });
  const [cmd, args] = pinned(opts.cpu, spec.command, spec.args);
  mkdirSync(LOG_DIR, { recursive: true });
  const logFile = path.join(LOG_DIR, `${target.name}-${opts.label}-${++serial}.log`);
  const log = createWriteStream(logFile);
  const env: NodeJS.ProcessEnv = { ...process.env, ...spec.env };
  for (const [key, value] of Object.entries(spec.env)) if (value === undefined) delete env[key];
  delete env.NODE_OPTIONS;
  const child = track(spawn(cmd, args, { cwd: spec.cwd, env, stdio: ['pipe', 'pipe', 'pipe'] }));
  const lines: string[] = [];
  let readyLine = false;
  const onData = (buf: Buffer): void => {
    log.write(buf);
    for (const l of buf.toString('utf8').split('\n')) {
      if (!l) continue;
      lines.push(l);
      if (lines.length > 40) lines.shift();
      if (l.startsWith(`READY ${port}`)) readyLine = true;
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const tail = (): string => lines.join('\n');
  const addr: TargetAddress = { host: '127.0.0.1', port };
  const base = `http://127.0.0.1:${port}`;

  const deadline = Date.now() + opts.readyTimeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`${target.name} exited before ready (code ${child.exitCode}); log ${logFile}:\n${tail()}`);
    if (Date.now() > deadline) {
      await stopChild(child);
      throw new Error(`${target.name} not ready after ${opts.readyTimeoutMs} ms; log ${logFile}:\n${tail()}`);
    }
    if (spec.ready.kind === 'stdout' ? readyLine : await httpOk(base + spec.ready.path)) break;
    await sleep(100);
  }

  let statsMissing = !spec.statsPath;
  return {
    target,
    addr,
    pid: child.pid!,
    child,
    spec,
    logFile,
    tail,
    async mem(gc: boolean): Promise<MemStats> {
      if (!statsMissing) {
        try {
          const res = await fetch(`${base}${spec.statsPath}${gc ? '?gc=1' : ''}`, { signal: AbortSignal.timeout(30_000) });
          if (res.status === 200) {
            const j = (await res.json()) as { rss: number; heapUsed?: number; streams?: number };
            return { source: 'stats', rss: j.rss, heapUsed: j.heapUsed ?? null, streams: j.streams ?? null };
          }
          await res.body?.cancel();
          statsMissing = true;
        } catch {
          statsMissing = true;
        }
      }
      return { source: 'proc', rss: readVmRssBytes(child.pid!) ?? Number.NaN, heapUsed: null, streams: null };
    },
    stop: () => {
      log.end();
      return stopChild(child);
    },
  };
}

async function httpOk(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.body?.cancel();
    return res.status === 200;
  } catch {
    return false;
  }
}
