// Runner side of the load generator: spawns receiver processes (each holding at most
// maxPerProcess connections) and one publisher process, all pinned to the generator CPU.
import { spawn } from 'node:child_process';
import path from 'node:path';
import type * as hdr from 'hdr-histogram-js';
import type { PublisherInit } from '../load/publisher.ts';
import type { ReceiverInit } from '../load/receiver.ts';
import { REPO_ROOT } from '../targets/baselines.ts';
import type { Target, TargetAddress } from '../targets/types.ts';
import { sleep } from './clock.ts';
import { mergeEncoded } from './hist.ts';
import { pinned, track } from './proc.ts';
import { RpcClient } from './rpc.ts';

export interface LoadOptions {
  cpu: string | null;
  maxPerProcess: number;
  sourceIps: number; // 1 = let the kernel choose (no localAddress); k > 1: 127.0.0.1..127.0.0.k
  connectConcurrency: number;
  connectTimeoutMs: number;
  publisherConnections: number;
  padBytes: number;
}

export interface ReceiverStatus {
  open: number;
  failed: number;
  dropped: number;
  heartbeats: number;
  events: number;
  unknownFrames: number;
  errors: string[];
  rss: number;
}

/** A load-generator child (`bench/load/<file>`), pinned to `cpu`, driven over IPC. */
export function spawnChild(file: string, cpu: string | null, label: string): RpcClient {
  const [cmd, args] = pinned(cpu, process.execPath, ['--import', 'tsx', path.join('bench/load', file)]);
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const child = track(spawn(cmd, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  return new RpcClient(child, label);
}

export class LoadGen {
  private constructor(
    readonly receivers: RpcClient[],
    readonly publisher: RpcClient,
    readonly sizes: number[],
  ) {}

  static async start(target: Target, addr: TargetAddress, n: number, o: LoadOptions): Promise<LoadGen> {
    const procs = Math.max(1, Math.ceil(n / o.maxPerProcess));
    const userIds = Array.from({ length: n }, (_, i) => target.userId(i));
    const local = o.sourceIps > 1 ? Array.from({ length: o.sourceIps }, (_, i) => `127.0.0.${i + 1}`) : [];
    const receivers: RpcClient[] = [];
    const sizes: number[] = [];
    const inits: Promise<unknown>[] = [];
    for (let p = 0; p < procs; p++) {
      const users = userIds.filter((_, i) => i % procs === p);
      const r = spawnChild('receiver.ts', o.cpu, `receiver${p}`);
      receivers.push(r);
      sizes.push(users.length);
      const init: ReceiverInit = {
        target: target.name,
        addr,
        users,
        localAddresses: local,
        connectConcurrency: o.connectConcurrency,
        connectTimeoutMs: o.connectTimeoutMs,
      };
      inits.push(r.call('init', init, 60_000));
    }
    const publisher = spawnChild('publisher.ts', o.cpu, 'publisher');
    const pinit: PublisherInit = { target: target.name, addr, userIds, connections: o.publisherConnections, padBytes: o.padBytes };
    inits.push(publisher.call('init', pinit, 60_000));
    const gen = new LoadGen(receivers, publisher, sizes);
    try {
      await Promise.all(inits);
    } catch (err) {
      await gen.close();
      throw err;
    }
    return gen;
  }

  receiverPids(): number[] {
    return this.receivers.map((r) => r.child.pid!).filter(Boolean);
  }

  publisherPid(): number {
    return this.publisher.child.pid!;
  }

  /** Each receiver connects the fraction [from, to) of its users. */
  async connect(from: number, to: number, timeoutMs: number): Promise<{ connected: number; failed: number; seconds: number }> {
    const t0 = Date.now();
    const res = await Promise.all(
      this.receivers.map((r, i) =>
        r.call<{ connected: number; failed: number }>(
          'connect',
          { from: Math.floor(this.sizes[i]! * from), to: Math.floor(this.sizes[i]! * to) },
          timeoutMs,
        ),
      ),
    );
    return {
      connected: res.reduce((a, r) => a + r.connected, 0),
      failed: res.reduce((a, r) => a + r.failed, 0),
      seconds: (Date.now() - t0) / 1000,
    };
  }

  async status(): Promise<ReceiverStatus> {
    const all = await Promise.all(this.receivers.map((r) => r.call<ReceiverStatus>('status', {}, 30_000)));
    return sumStatus(all);
  }

  async counts(steps: number[]): Promise<number[]> {
    const all = await Promise.all(this.receivers.map((r) => r.call<{ counts: number[] }>('counts', { steps }, 30_000)));
    return steps.map((_, i) => all.reduce((a, r) => a + r.counts[i]!, 0));
  }

  /** Merged latency histograms (µs) per step; removes them from the receivers. */
  async collect(steps: number[]): Promise<Map<number, hdr.Histogram>> {
    const all = await Promise.all(
      this.receivers.map((r) => r.call<Record<number, { count: number; hist: string }>>('collect', { steps }, 60_000)),
    );
    const out = new Map<number, hdr.Histogram>();
    for (const s of steps) out.set(s, mergeEncoded(all.map((r) => r[s]?.hist).filter((h): h is string => !!h)));
    return out;
  }

  /** Waits until the receivers have counted `expected` events of `step`, or until timeoutMs. */
  async waitFor(step: number, expected: number, timeoutMs: number, pollMs = 100): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    let got = 0;
    for (;;) {
      [got] = (await this.counts([step])) as [number];
      if (got >= expected || Date.now() >= deadline) return got;
      await sleep(pollMs);
    }
  }

  /**
   * Readiness probe: emits to every connected user (in chunks) and waits until each open
   * connection has seen one, re-probing the ones that have not. Probe events are not measured.
   */
  async probe(maxRounds = 5, waitMs = 5000): Promise<{ rounds: number; missing: number; seconds: number }> {
    const t0 = Date.now();
    const missingNow = async (): Promise<string[]> =>
      (await Promise.all(this.receivers.map((r) => r.call<{ missing: string[] }>('probeMissing', {}, 30_000)))).flatMap((m) => m.missing);
    let missing = await missingNow();
    let round = 0;
    while (missing.length > 0 && round < maxRounds) {
      round++;
      await this.publisher.call('probe', { step: -round, users: missing, chunk: 500 }, 120_000);
      const deadline = Date.now() + waitMs;
      do {
        await sleep(200);
        missing = await missingNow();
      } while (missing.length > 0 && Date.now() < deadline);
    }
    return { rounds: round, missing: missing.length, seconds: (Date.now() - t0) / 1000 };
  }

  async close(): Promise<ReceiverStatus | null> {
    const st = await Promise.all(this.receivers.map((r) => r.call<ReceiverStatus>('close', {}, 30_000).catch(() => null)));
    await this.publisher.call('close', {}, 10_000).catch(() => null);
    const kids = [...this.receivers, this.publisher].map((r) => r.child);
    const deadline = Date.now() + 5000;
    while (kids.some((c) => c.exitCode === null && c.signalCode === null) && Date.now() < deadline) await sleep(50);
    for (const c of kids) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    const good = st.filter((s): s is ReceiverStatus => s !== null);
    return good.length ? sumStatus(good) : null;
  }
}

function sumStatus(all: ReceiverStatus[]): ReceiverStatus {
  const sum = (k: keyof ReceiverStatus): number => all.reduce((a, s) => a + (s[k] as number), 0);
  return {
    open: sum('open'),
    failed: sum('failed'),
    dropped: sum('dropped'),
    heartbeats: sum('heartbeats'),
    events: sum('events'),
    unknownFrames: sum('unknownFrames'),
    errors: all.flatMap((s) => s.errors).slice(0, 5),
    rss: sum('rss'),
  };
}
