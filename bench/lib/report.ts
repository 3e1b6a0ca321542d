// Builds the Markdown and JSON reports: every figure, the ratios between targets, and the
// issue #4 acceptance checks for Herald.
import type { Config } from '../config.ts';
import type { CpuWindow } from './proc.ts';

export interface TargetRun {
  status: 'ran' | 'skipped';
  reason?: string;
  description?: string;
  scenarios: Record<string, Record<string, any>>;
}

export interface Report {
  meta: Record<string, unknown>;
  config: Config;
  results: Record<string, TargetRun>;
}

interface Headline {
  marginalRssPerStream: number | null;
  marginalHeapPerStream: number | null;
  rssPerStream: number | null;
  heapPerStream: number | null;
  idleCpuServerPct: number | null;
  maxRate: number | null;
  bulkMedianMs: number | null;
}

const METRICS: Array<{ key: keyof Headline; label: string; better: 'lower' | 'higher' }> = [
  { key: 'marginalRssPerStream', label: 'idle RSS per stream, marginal (bytes)', better: 'lower' },
  { key: 'marginalHeapPerStream', label: 'idle heap per stream, marginal (bytes)', better: 'lower' },
  { key: 'rssPerStream', label: 'idle RSS per stream, 0 -> N (bytes)', better: 'lower' },
  { key: 'heapPerStream', label: 'idle heap per stream, 0 -> N (bytes)', better: 'lower' },
  { key: 'idleCpuServerPct', label: 'idle server CPU (% of a core)', better: 'lower' },
  { key: 'maxRate', label: 'personal delivery: max rate (emits/s)', better: 'higher' },
  { key: 'bulkMedianMs', label: 'bulk fan-out: median time to last recipient (ms)', better: 'lower' },
];

function headline(run: TargetRun | undefined): Headline {
  const s = run?.scenarios ?? {};
  const idle = s.idle && !s.idle.error ? s.idle : undefined;
  const personal = s.personal && !s.personal.error ? s.personal : undefined;
  const bulk = s.bulk && !s.bulk.error ? s.bulk : undefined;
  return {
    marginalRssPerStream: idle?.marginalRssPerStream ?? null,
    marginalHeapPerStream: idle?.marginalHeapPerStream ?? null,
    rssPerStream: idle?.rssPerStream ?? null,
    heapPerStream: idle?.heapPerStream ?? null,
    idleCpuServerPct: (idle?.idleCpu as CpuWindow | undefined)?.groups.server?.pct ?? null,
    maxRate: personal?.maxRate ?? null,
    bulkMedianMs: bulk?.medianTimeToLastMs ?? null,
  };
}

const ratio = (a: number | null, b: number | null): number | null =>
  a === null || b === null || b === 0 ? null : Math.round((a / b) * 100) / 100;

export function analyse(report: Report) {
  const names = Object.keys(report.results).filter((t) => report.results[t]!.status === 'ran');
  const heads: Record<string, Headline> = Object.fromEntries(names.map((t) => [t, headline(report.results[t])]));
  const ratios: Record<string, Record<string, Record<string, number | null>>> = {};
  for (const m of METRICS) {
    ratios[m.key] = {};
    for (const a of names) {
      ratios[m.key]![a] = {};
      for (const b of names) ratios[m.key]![a]![b] = ratio(heads[a]![m.key], heads[b]![m.key]);
    }
  }
  const h = heads.herald;
  const check = (label: string, value: number | null, required: string, pass: (v: number) => boolean, basis: string) => ({
    label,
    value,
    required,
    basis,
    pass: value === null ? null : pass(value),
  });
  const bulkLimit = report.config.bulkLimitMs;
  const checks = [
    check(
      'idle memory per stream vs B0 (marginal RSS)',
      ratio(h?.marginalRssPerStream ?? null, heads.b0?.marginalRssPerStream ?? null),
      '<= 1.5x',
      (v) => v <= 1.5,
      'herald / b0',
    ),
    check(
      'idle memory per stream vs B0 (marginal heap, informative)',
      ratio(h?.marginalHeapPerStream ?? null, heads.b0?.marginalHeapPerStream ?? null),
      '<= 1.5x',
      (v) => v <= 1.5,
      'herald / b0',
    ),
    check(
      'personal delivery rate vs B0P',
      ratio(h?.maxRate ?? null, heads.b0p?.maxRate ?? null),
      '>= 1.0x',
      (v) => v >= 1.0,
      'herald / b0p',
    ),
    check(
      'personal delivery rate vs B0R',
      ratio(h?.maxRate ?? null, heads.b0r?.maxRate ?? null),
      '>= 0.5x',
      (v) => v >= 0.5,
      'herald / b0r',
    ),
    check(
      'personal delivery rate vs Socket.IO',
      ratio(h?.maxRate ?? null, heads.socketio?.maxRate ?? null),
      '>= 1.0x',
      (v) => v >= 1.0,
      'herald / socketio',
    ),
    check(
      `bulk fan-out to ${report.config.bulkN} recipients`,
      h?.bulkMedianMs ?? null,
      `<= ${bulkLimit} ms`,
      (v) => v <= bulkLimit,
      'median time to last (ms)',
    ),
  ];
  return { headline: heads, ratios, checks };
}

// ---------- Markdown ----------
const fmt = (x: unknown, digits = 0): string =>
  x === null || x === undefined || (typeof x === 'number' && !Number.isFinite(x))
    ? 'n/a'
    : typeof x === 'number'
      ? x.toFixed(digits)
      : String(x);
const kib = (b: number | null | undefined): string => (b === null || b === undefined ? 'n/a' : (b / 1024).toFixed(2));
const mib = (b: number | null | undefined): string => (b === null || b === undefined ? 'n/a' : (b / 1048576).toFixed(1));
const cpuCell = (w: CpuWindow | undefined, g: string): string => fmt(w?.groups[g]?.pct, 1);

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

export function markdown(report: Report): string {
  const a = analyse(report);
  const cfg = report.config;
  const m = report.meta as Record<string, any>;
  const names = Object.keys(report.results);
  const ran = names.filter((t) => report.results[t]!.status === 'ran');
  const out: string[] = [];
  out.push(`# Herald benchmark (issue #4): ${m.startedAt}${cfg.quick ? ' (quick run)' : ''}`);
  out.push('');
  out.push(`- Machine: ${m.cpuModel}, ${m.cpus} cores, ${m.memGiB} GiB RAM, Linux ${m.kernel}; open-file limit ${m.nofile}`);
  out.push(`- Software: Node ${m.node}, ${m.postgres}, Redis ${m.redis}`);
  out.push(`- Pinning: ${m.pinning}. PostgreSQL and Redis are not pinned and share both cores.`);
  out.push(
    `- Load average at start ${m.loadStart}, at end ${m.loadEnd ?? 'n/a'}; duration ${m.durationS ?? 'n/a'} s. "other" CPU columns = machine busy time not used by any benchmark process (unrelated load that may disturb figures).`,
  );
  out.push(
    `- Config: N idle/personal/bulk = ${cfg.idleN}/${cfg.personalN}/${cfg.bulkN}; payload ${cfg.payloadBytes} B; rates ${cfg.rates.join(', ')}/s, ${cfg.stepSeconds} s per step, up to ${cfg.stepRetries} retries of a failing step; p99 limit ${cfg.p99LimitMs} ms; idle CPU window ${cfg.idleCpuSeconds} s; bulk repeats ${cfg.bulkRepeats}; ≤ ${cfg.maxPerProcess} sockets per generator process; publisher: ${cfg.publisherConnections} keep-alive connections (undici), open loop.`,
  );
  out.push(
    `- SSE heartbeat (one shared timer in every SSE target): ${cfg.heartbeatMs / 1000} s in the idle scenario, ${cfg.loadHeartbeatMs / 1000} s in personal/bulk, so that the 10k-write heartbeat burst (whose receiving side lands on the single generator core) does not randomly hit a rate step. Before each step the runner waits up to ${cfg.quietWaitSeconds} s for unrelated CPU load to fall to ≤ ${cfg.quietOtherPct}% of a core.`,
  );
  out.push('- Latency = receipt time − *scheduled* send time (CLOCK_MONOTONIC, shared by all processes), HDR histograms.');
  out.push(
    '- CPU figures: % of one core, averaged over the measurement window (200% = both cores). [generator-bound]: receivers + publisher used ≥ 90% of their core, so that step may be limited by the load generator, not the server.',
  );
  out.push('');

  out.push('## Summary');
  out.push('');
  out.push(
    table(
      [
        'target',
        'RSS/stream marginal (KiB)',
        'heap/stream marginal (KiB)',
        'RSS/stream 0→N (KiB)',
        'idle CPU server %',
        'max personal rate (/s)',
        'bulk median to last (ms)',
      ],
      names.map((t) => {
        const run = report.results[t]!;
        if (run.status !== 'ran') return [t, `skipped: ${run.reason}`, '', '', '', '', ''];
        const h = a.headline[t]!;
        return [
          t,
          kib(h.marginalRssPerStream),
          kib(h.marginalHeapPerStream),
          kib(h.rssPerStream),
          fmt(h.idleCpuServerPct, 1),
          fmt(h.maxRate),
          fmt(h.bulkMedianMs, 1),
        ];
      }),
    ),
  );
  out.push('');

  out.push('## Issue #4 targets (Herald)');
  out.push('');
  out.push(
    table(
      ['check', 'basis', 'value', 'required', 'result'],
      a.checks.map((c) => [c.label, c.basis, fmt(c.value, 2), c.required, c.pass === null ? 'n/a' : c.pass ? 'PASS' : 'FAIL']),
    ),
  );
  out.push('');

  if (ran.length > 1) {
    out.push('## Ratios between targets (row ÷ column)');
    out.push('');
    for (const mm of METRICS) {
      const rows = ran.map((r) => [r, ...ran.map((c) => fmt(a.ratios[mm.key]![r]![c], 2))]);
      if (rows.every((r) => r.slice(1).every((x) => x === 'n/a'))) continue;
      out.push(`**${mm.label}** (${mm.better} is better)`);
      out.push('');
      out.push(table(['÷', ...ran], rows));
      out.push('');
    }
  }

  out.push('## 1. Idle density');
  out.push('');
  out.push(
    table(
      [
        'target',
        'streams',
        'RSS empty / N/2 / N (MiB)',
        'heap empty / N/2 / N (MiB)',
        'RSS/stream 0→N, marginal (KiB)',
        'heap/stream 0→N, marginal (KiB)',
        'source',
        'idle CPU: server / pg / redis / receivers / other (%)',
        'connect time (s)',
        'notes',
      ],
      ran
        .filter((t) => report.results[t]!.scenarios.idle)
        .map((t) => {
          const s = report.results[t]!.scenarios.idle!;
          if (s.error) return [t, 'error', '', '', '', '', '', '', '', s.error];
          const w = s.idleCpu as CpuWindow;
          return [
            t,
            `${s.connected}/${s.n}`,
            `${mib(s.mem.empty.rss)} / ${mib(s.mem.half.rss)} / ${mib(s.mem.full.rss)}`,
            `${mib(s.mem.empty.heapUsed)} / ${mib(s.mem.half.heapUsed)} / ${mib(s.mem.full.heapUsed)}`,
            `${kib(s.rssPerStream)}, ${kib(s.marginalRssPerStream)}`,
            `${kib(s.heapPerStream)}, ${kib(s.marginalHeapPerStream)}`,
            s.gcForced ? '/stats after GC' : '/proc VmRSS, no GC',
            `${cpuCell(w, 'server')} / ${cpuCell(w, 'postgres')} / ${cpuCell(w, 'redis')} / ${cpuCell(w, 'receivers')} / ${fmt(w.otherPct, 1)}`,
            fmt(s.connectSeconds, 1),
            [s.dropped ? `${s.dropped} dropped` : '', s.failed ? `${s.failed} failed` : '', ...(s.errors ?? [])].filter(Boolean).join('; '),
          ];
        }),
    ),
  );
  out.push('');

  out.push('## 2. Personal delivery (single-recipient emits to random users, open loop)');
  out.push('');
  for (const t of ran) {
    const s = report.results[t]!.scenarios.personal;
    if (!s) continue;
    out.push(`### ${t}: ${s.error ? `error: ${s.error}` : `max rate ${s.maxRate}/s (${s.stoppedBecause})`}`);
    out.push('');
    if (s.error) continue;
    const rows: string[][] = [];
    for (const st of s.steps as Array<{ rate: number; attempts: any[] }>)
      for (const [i, r] of st.attempts.entries())
        rows.push([
          `${st.rate}${i ? ` (retry ${i})` : ''}`,
          `${r.delivered}/${r.expected} (${r.deliveryPct}%)`,
          fmt(r.latency.p50, 1),
          fmt(r.latency.p90, 1),
          fmt(r.latency.p99, 1),
          fmt(r.latency.max, 1),
          fmt(r.response.p99, 1),
          cpuCell(r.cpu, 'server'),
          cpuCell(r.cpu, 'postgres'),
          cpuCell(r.cpu, 'redis'),
          cpuCell(r.cpu, 'receivers'),
          cpuCell(r.cpu, 'publisher'),
          fmt(r.cpu.otherPct, 1),
          r.quietWait ? fmt(r.quietWait.waitedSeconds, 1) : 'n/a',
          (r.pass ? 'PASS' : `FAIL: ${r.why}${r.errors?.length ? ` (${r.errors.join('; ')})` : ''}`) +
            (r.generatorBound ? ' [generator-bound]' : ''),
        ]);
    out.push(
      table(
        [
          'rate/s',
          'delivered',
          'p50 ms',
          'p90 ms',
          'p99 ms',
          'max ms',
          'POST p99 ms',
          'CPU server',
          'pg',
          'redis',
          'receivers',
          'publisher',
          'other',
          'quiet wait s',
          'result',
        ],
        rows,
      ),
    );
    out.push('');
  }

  out.push('## 3. Bulk fan-out (one emit to all N subscribers)');
  out.push('');
  out.push(
    table(
      [
        'target',
        'recipients',
        'time to last, each repeat (ms)',
        'median (ms)',
        'p50 of recipients (ms)',
        'POST answered (ms)',
        'CPU ms per emit: server / pg / redis / receivers / publisher',
        'notes',
      ],
      ran
        .filter((t) => report.results[t]!.scenarios.bulk)
        .map((t) => {
          const s = report.results[t]!.scenarios.bulk!;
          if (s.error) return [t, 'error', '', '', '', '', '', s.error];
          const reps = s.repeats as Array<{
            timeToLastMs: number | null;
            latency: { p50: number };
            responseMs: number;
            delivered: number;
            errors: string[];
          }>;
          const c = (s.cpuMsPerEmit ?? {}) as Record<string, number>;
          return [
            t,
            `${s.connected}/${s.n}`,
            reps.map((r) => (r.timeToLastMs === null ? `incomplete (${r.delivered})` : fmt(r.timeToLastMs, 1))).join(', '),
            fmt(s.medianTimeToLastMs, 1),
            reps.map((r) => fmt(r.latency.p50, 1)).join(', '),
            reps.map((r) => fmt(r.responseMs, 1)).join(', '),
            ['server', 'postgres', 'redis', 'receivers', 'publisher'].map((g) => fmt(c[g])).join(' / '),
            reps.flatMap((r) => r.errors).join('; '),
          ];
        }),
    ),
  );
  out.push('');

  const other: string[] = [];
  for (const t of names) {
    const run = report.results[t]!;
    if (run.status === 'skipped') other.push(`- ${t}: skipped (${run.reason})`);
    for (const [sc, r] of Object.entries(run.scenarios)) {
      if (['idle', 'personal', 'bulk'].includes(sc) && !r.skipped) continue;
      other.push(`- ${t} / ${sc}: ${r.skipped ?? r.error ?? JSON.stringify(r)}`);
    }
  }
  if (other.length) {
    out.push('## Skipped, hooks and other scenarios');
    out.push('');
    out.push(...other);
    out.push('');
  }
  out.push(`Raw figures: the .json file next to this one. Server logs of this run: ${m.logDir}.`);
  return out.join('\n');
}
