import type { Config } from '../config.ts';
import { sleep } from '../lib/clock.ts';
import { BENCH_DB } from '../lib/db.ts';
import { LoadGen } from '../lib/loadgen.ts';
import { CpuMeter, findInfraPids } from '../lib/proc.ts';
import { type MemStats, type RunningServer, startServer } from '../lib/server.ts';
import type { Target } from '../targets/types.ts';

export class ScenarioContext {
  constructor(
    readonly target: Target,
    readonly cfg: Config,
    readonly deadline: number,
    readonly log: (msg: string) => void,
  ) {}

  /** `underLoad`: personal/bulk use the long heartbeat (cfg.loadHeartbeatMs), idle the production one. */
  startServer(label: string, underLoad: boolean): Promise<RunningServer> {
    return startServer(this.target, {
      cpu: this.cfg.serverCpu,
      readyTimeoutMs: this.cfg.readyTimeoutMs,
      label,
      heartbeatMs: underLoad ? this.cfg.loadHeartbeatMs : this.cfg.heartbeatMs,
    });
  }

  /**
   * The machine is shared (e.g. test runs): before a measured step, wait (bounded) until CPU used
   * by processes outside the benchmark is at most cfg.quietOtherPct of a core.
   */
  async waitQuiet(srv: RunningServer, gen: LoadGen | null): Promise<{ waitedSeconds: number; otherPct: number }> {
    return this.waitQuietWith(() => this.meter(srv, gen));
  }

  /** waitQuiet with another set of processes counted as the benchmark's own (`meter`). */
  async waitQuietWith(meter: () => CpuMeter): Promise<{ waitedSeconds: number; otherPct: number }> {
    const t0 = Date.now();
    for (;;) {
      const m = meter().start();
      await sleep(500);
      const w = m.stop();
      const waited = (Date.now() - t0) / 1000;
      if (w.otherPct <= this.cfg.quietOtherPct || waited >= this.cfg.quietWaitSeconds) {
        if (w.otherPct > this.cfg.quietOtherPct) this.log(`  (machine still busy: other processes use ${w.otherPct}% of a core)`);
        return { waitedSeconds: Math.round(waited * 10) / 10, otherPct: w.otherPct };
      }
    }
  }

  startLoad(srv: RunningServer, n: number): Promise<LoadGen> {
    const c = this.cfg;
    return LoadGen.start(this.target, srv.addr, n, {
      cpu: c.generatorCpu,
      maxPerProcess: c.maxPerProcess,
      sourceIps: c.sourceIps,
      connectConcurrency: c.connectConcurrency,
      connectTimeoutMs: c.connectTimeoutMs,
      publisherConnections: c.publisherConnections,
      padBytes: c.payloadBytes,
    });
  }

  /** CPU of server, receivers, publisher, PostgreSQL, Redis and this runner. */
  meter(srv: RunningServer, gen: LoadGen | null): CpuMeter {
    return new CpuMeter(() => ({
      server: [srv.pid],
      receivers: gen ? gen.receiverPids() : [],
      publisher: gen ? [gen.publisherPid()] : [],
      ...findInfraPids(BENCH_DB),
      runner: [process.pid],
    }));
  }

  /** Memory after forcing GC twice (the second read lets finalisation settle). */
  async memAfterGc(srv: RunningServer): Promise<MemStats> {
    await srv.mem(true);
    await sleep(300);
    return srv.mem(true);
  }

  timeLeft(): boolean {
    return Date.now() < this.deadline;
  }

  /** Connects all subscribers and runs the readiness probe. */
  async connectAll(gen: LoadGen, n: number) {
    const c = await gen.connect(0, 1, this.cfg.connectTimeoutMs + n * 20);
    this.log(`  ${c.connected}/${n} subscribers connected in ${c.seconds.toFixed(1)} s${c.failed ? `, ${c.failed} failed` : ''}`);
    if (c.connected === 0) throw new Error(`no subscriber could connect: ${(await gen.status()).errors.join('; ')}`);
    const p = await gen.probe();
    this.log(
      `  readiness probe: ${p.missing === 0 ? 'all streams live' : `${p.missing} streams never received a probe`} (${p.rounds} round(s), ${p.seconds.toFixed(1)} s)`,
    );
    return { ...c, probe: p };
  }
}

export interface ScenarioResult {
  ok: boolean;
  error?: string;
  [k: string]: unknown;
}

export type Scenario = (ctx: ScenarioContext) => Promise<ScenarioResult>;
