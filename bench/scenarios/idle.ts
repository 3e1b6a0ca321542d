// Scenario 1, idle density: N idle streams to one server process. Memory (RSS, heap) per stream
// after GC, overall (0 -> N) and marginal over the second half (N/2 -> N); idle CPU.
import { sleep } from '../lib/clock.ts';
import { round } from '../lib/proc.ts';
import type { MemStats } from '../lib/server.ts';
import type { ScenarioContext, ScenarioResult } from './context.ts';

export async function idle(ctx: ScenarioContext): Promise<ScenarioResult> {
  const { cfg } = ctx;
  const n = cfg.idleN;
  const srv = await ctx.startServer('idle', false);
  try {
    await sleep(cfg.settleMs);
    const m0 = await ctx.memAfterGc(srv);
    const gen = await ctx.startLoad(srv, n);
    try {
      const c1 = await gen.connect(0, 0.5, cfg.connectTimeoutMs + n * 20);
      await sleep(cfg.settleMs);
      const mHalf = await ctx.memAfterGc(srv);
      const c2 = await gen.connect(0.5, 1, cfg.connectTimeoutMs + n * 20);
      await sleep(cfg.settleMs);
      const mFull = await ctx.memAfterGc(srv);
      const total = c1.connected + c2.connected;
      ctx.log(`  ${total}/${n} idle streams (${c1.failed + c2.failed} failed); server reports ${mFull.streams ?? 'n/a'}`);
      if (total === 0) throw new Error(`no stream connected: ${(await gen.status()).errors.join('; ')}`);

      const quiet = await ctx.waitQuiet(srv, gen);
      const meter = ctx.meter(srv, gen).start();
      await sleep(cfg.idleCpuSeconds * 1000);
      const cpu = meter.stop();
      const st = await gen.status();

      const per = (a: MemStats, b: MemStats, k: 'rss' | 'heapUsed', count: number): number | null =>
        a[k] === null || b[k] === null || count <= 0 ? null : round((b[k]! - a[k]!) / count);
      const res = {
        ok: st.open === n && st.dropped === 0,
        n,
        connected: total,
        failed: c1.failed + c2.failed,
        openAtEnd: st.open,
        dropped: st.dropped,
        memSource: mFull.source,
        gcForced: mFull.source === 'stats',
        mem: { empty: m0, half: mHalf, full: mFull },
        rssPerStream: per(m0, mFull, 'rss', total),
        heapPerStream: per(m0, mFull, 'heapUsed', total),
        marginalRssPerStream: per(mHalf, mFull, 'rss', c2.connected),
        marginalHeapPerStream: per(mHalf, mFull, 'heapUsed', c2.connected),
        connectSeconds: round(c1.seconds + c2.seconds, 2),
        idleCpu: cpu,
        heartbeatMs: cfg.heartbeatMs,
        quietWait: quiet,
        generatorRssPerStream: round(st.rss / Math.max(1, total)),
        errors: st.errors,
      };
      const kb = (x: number | null): string => (x === null ? 'n/a' : `${(x / 1024).toFixed(2)} KiB`);
      ctx.log(
        `  per stream: RSS ${kb(res.rssPerStream)} (marginal ${kb(res.marginalRssPerStream)}), heap ${kb(res.heapPerStream)} (marginal ${kb(res.marginalHeapPerStream)}); idle CPU server ${cpu.groups.server?.pct}%`,
      );
      return res;
    } finally {
      await gen.close();
    }
  } finally {
    await srv.stop();
  }
}
