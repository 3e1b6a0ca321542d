// Scenario 2, personal delivery: N subscribers (one stream per user), single-recipient emits to
// random users, open-loop at rising rates. Result: the highest rate with 100% delivery and
// p99 <= p99LimitMs, latency measured from the scheduled send time to receipt.
import { sleep } from '../lib/clock.ts';
import { type LatencySummary, summarize } from '../lib/hist.ts';
import type { CpuWindow } from '../lib/proc.ts';
import type { ScenarioContext, ScenarioResult } from './context.ts';

interface RateResult {
  step: number;
  seconds: number;
  scheduled: number;
  ok: number;
  failed: number;
  skipped: number;
  stillInflight: number;
  publisherMaxLagMs: number;
  expected: number;
  delivered: number;
  deliveryPct: number;
  latency: LatencySummary;
  response: LatencySummary;
  cpu: CpuWindow;
  /** bounded wait for unrelated load to calm down before the step */
  quietWait: { waitedSeconds: number; otherPct: number };
  dropped: number;
  /** receivers + publisher used >= 90% of a core: the generator core may be the bottleneck */
  generatorBound: boolean;
  pass: boolean;
  why?: string;
  errors: string[];
}

interface PublisherRateReply {
  scheduled: number;
  ok: number;
  failed: number;
  skipped: number;
  stillInflight: number;
  maxLagMs: number;
  response: LatencySummary;
  errors: string[];
}

export async function personal(ctx: ScenarioContext): Promise<ScenarioResult> {
  const { cfg } = ctx;
  const n = cfg.personalN;
  const srv = await ctx.startServer('personal', true);
  try {
    const gen = await ctx.startLoad(srv, n);
    try {
      const conn = await ctx.connectAll(gen, n);
      const streamsPerUser = 1;
      const steps: Array<{ rate: number; attempts: RateResult[] }> = [];
      let maxRate = 0;
      let step = 0;
      let stopped = '';
      let droppedBefore = (await gen.status()).dropped;
      ladder: for (const rate of cfg.rates) {
        const attempts: RateResult[] = [];
        steps.push({ rate, attempts });
        for (let attempt = 0; attempt <= cfg.stepRetries; attempt++) {
          if (!ctx.timeLeft()) {
            stopped = 'time budget exhausted';
            break ladder;
          }
          step++;
          const quiet = await ctx.waitQuiet(srv, gen);
          const meter = ctx.meter(srv, gen).start();
          const r = await gen.publisher.call<PublisherRateReply>(
            'rate',
            {
              step,
              rate,
              durationMs: cfg.stepSeconds * 1000,
              recipients: 1,
              maxInflight: Math.max(2000, rate * 2),
              drainTimeoutMs: cfg.drainMs,
            },
            cfg.stepSeconds * 1000 + cfg.drainMs + 60_000,
          );
          const cpu = meter.stop();
          const expected = r.scheduled * streamsPerUser;
          const delivered = await gen.waitFor(step, expected, cfg.drainMs);
          const latency = summarize((await gen.collect([step])).get(step)!);
          const st = await gen.status();
          const dropped = st.dropped - droppedBefore;
          droppedBefore = st.dropped;
          const why: string[] = [];
          if (delivered < expected) why.push(`delivered ${delivered}/${expected}`);
          if (delivered > expected) why.push(`duplicates: delivered ${delivered}/${expected}`);
          if (latency.p99 > cfg.p99LimitMs) why.push(`p99 ${latency.p99} ms > ${cfg.p99LimitMs} ms`);
          if (r.failed + r.skipped > 0) why.push(`${r.failed} POSTs failed, ${r.skipped} not sent (in-flight cap)`);
          const genPct = (cpu.groups.receivers?.pct ?? 0) + (cpu.groups.publisher?.pct ?? 0);
          const res: RateResult = {
            step,
            seconds: cfg.stepSeconds,
            scheduled: r.scheduled,
            ok: r.ok,
            failed: r.failed,
            skipped: r.skipped,
            stillInflight: r.stillInflight,
            publisherMaxLagMs: r.maxLagMs,
            expected,
            delivered,
            deliveryPct: expected ? Math.round((10000 * delivered) / expected) / 100 : 0,
            latency,
            response: r.response,
            cpu,
            quietWait: quiet,
            dropped,
            generatorBound: genPct >= 90,
            pass: why.length === 0,
            ...(why.length ? { why: why.join('; ') } : {}),
            errors: r.errors,
          };
          attempts.push(res);
          ctx.log(
            `  ${String(rate).padStart(6)}/s${attempt ? ` (retry ${attempt})` : ''}: ${res.deliveryPct}% delivered, p50 ${latency.p50} p99 ${latency.p99} max ${latency.max} ms; CPU server ${cpu.groups.server?.pct}% gen ${round1(genPct)}%${res.generatorBound ? ' (generator-bound)' : ''} pg ${cpu.groups.postgres?.pct}% redis ${cpu.groups.redis?.pct}% other ${cpu.otherPct}% ${res.pass ? 'PASS' : `FAIL (${res.why})`}`,
          );
          if (res.pass) break;
          await sleep(1000); // let a backlog drain before retrying
        }
        if (!attempts.at(-1)?.pass) {
          stopped = `failed at ${rate}/s`;
          break;
        }
        maxRate = rate;
      }
      if (!stopped) stopped = 'top of the rate ladder reached (raise --rates)';
      ctx.log(`  max rate with 100% delivery and p99 <= ${cfg.p99LimitMs} ms: ${maxRate}/s (${stopped})`);
      return {
        ok: true,
        n,
        connected: conn.connected,
        probe: conn.probe,
        maxRate,
        stoppedBecause: stopped,
        heartbeatMs: cfg.loadHeartbeatMs,
        p99LimitMs: cfg.p99LimitMs,
        steps,
      };
    } finally {
      await gen.close();
    }
  } finally {
    await srv.stop();
  }
}

const round1 = (x: number): number => Math.round(x * 10) / 10;
