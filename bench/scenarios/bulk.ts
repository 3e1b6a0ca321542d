// Scenario 3, bulk fan-out: one emit to N subscribed recipients; time from the scheduled send
// until the last recipient has it. Repeated; the median is reported.
import { sleep } from '../lib/clock.ts';
import { type LatencySummary, summarize } from '../lib/hist.ts';
import type { CpuWindow } from '../lib/proc.ts';
import type { ScenarioContext, ScenarioResult } from './context.ts';

export async function bulk(ctx: ScenarioContext): Promise<ScenarioResult> {
  const { cfg } = ctx;
  const n = cfg.bulkN;
  const srv = await ctx.startServer('bulk', true);
  try {
    const gen = await ctx.startLoad(srv, n);
    try {
      const conn = await ctx.connectAll(gen, n);
      const expected = conn.connected;
      const reps: Array<{
        ok: boolean;
        responseMs: number;
        delivered: number;
        timeToLastMs: number | null;
        latency: LatencySummary;
        cpu: CpuWindow; // from the emit until the last delivery was counted (polled every 50 ms)
        errors: string[];
      }> = [];
      for (let k = 1; k <= cfg.bulkRepeats && ctx.timeLeft(); k++) {
        const step = 100_000 + k;
        await ctx.waitQuiet(srv, gen);
        const meter = ctx.meter(srv, gen).start();
        const e = await gen.publisher.call<{ ok: boolean; responseMs: number; errors: string[] }>(
          'emit',
          { step, seq: k },
          cfg.bulkTimeoutMs + 30_000,
        );
        const delivered = await gen.waitFor(step, expected, cfg.bulkTimeoutMs, 50);
        const cpu = meter.stop();
        const latency = summarize((await gen.collect([step])).get(step)!);
        const complete = delivered >= expected && e.ok;
        reps.push({
          ok: e.ok,
          responseMs: Math.round(e.responseMs * 1000) / 1000,
          delivered,
          timeToLastMs: complete ? latency.max : null,
          latency,
          cpu,
          errors: e.errors,
        });
        ctx.log(
          `  bulk #${k}: ${delivered}/${expected} delivered, p50 ${latency.p50} ms, last ${complete ? `${latency.max} ms` : 'never (incomplete)'}; POST answered after ${e.responseMs.toFixed(1)} ms`,
        );
        await sleep(1000);
      }
      const times = reps.map((r) => r.timeToLastMs);
      const done = times.filter((t): t is number => t !== null).sort((a, b) => a - b);
      const complete = done.length === reps.length && reps.length > 0;
      const median = complete ? done[Math.floor((done.length - 1) / 2)]! : null;
      ctx.log(
        `  median time until the last of ${expected} recipients: ${median === null ? 'n/a (some emits incomplete)' : `${median} ms`}`,
      );
      // CPU seconds per bulk emit, averaged over the repeats, per process group
      const cpuMsPerEmit: Record<string, number> = {};
      for (const r of reps)
        for (const [g, u] of Object.entries(r.cpu.groups)) cpuMsPerEmit[g] = (cpuMsPerEmit[g] ?? 0) + (1000 * u.cpuSeconds) / reps.length;
      for (const g of Object.keys(cpuMsPerEmit)) cpuMsPerEmit[g] = Math.round(cpuMsPerEmit[g]!);
      return { ok: complete, n, connected: conn.connected, probe: conn.probe, medianTimeToLastMs: median, cpuMsPerEmit, repeats: reps };
    } finally {
      await gen.close();
    }
  } finally {
    await srv.stop();
  }
}
