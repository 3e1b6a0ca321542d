// Builds the Markdown and JSON reports: every figure, the ratios between targets, and the
// issue #4 acceptance checks for Herald.
import { existsSync, readFileSync } from 'node:fs';
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
  const check = (label: string, value: number | null, required: string, pass: (v: number) => boolean, basis: string, scenario: string) => ({
    label,
    value,
    required,
    basis,
    scenario,
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
      'idle',
    ),
    check(
      'idle memory per stream vs B0 (marginal heap, informative)',
      ratio(h?.marginalHeapPerStream ?? null, heads.b0?.marginalHeapPerStream ?? null),
      '<= 1.5x',
      (v) => v <= 1.5,
      'herald / b0',
      'idle',
    ),
    check(
      'personal delivery rate vs B0P',
      ratio(h?.maxRate ?? null, heads.b0p?.maxRate ?? null),
      '>= 1.0x',
      (v) => v >= 1.0,
      'herald / b0p',
      'personal',
    ),
    check(
      'personal delivery rate vs B0R',
      ratio(h?.maxRate ?? null, heads.b0r?.maxRate ?? null),
      '>= 0.5x',
      (v) => v >= 0.5,
      'herald / b0r',
      'personal',
    ),
    check(
      'personal delivery rate vs Socket.IO',
      ratio(h?.maxRate ?? null, heads.socketio?.maxRate ?? null),
      '>= 1.0x',
      (v) => v >= 1.0,
      'herald / socketio',
      'personal',
    ),
    check(
      `bulk fan-out to ${report.config.bulkN} recipients`,
      h?.bulkMedianMs ?? null,
      `<= ${bulkLimit} ms`,
      (v) => v <= bulkLimit,
      'median time to last (ms)',
      'bulk',
    ),
    ...heraldOnlyChecks(report, check),
  ];
  return { headline: heads, ratios, checks };
}

type Check = (
  label: string,
  value: number | null,
  required: string,
  pass: (v: number) => boolean,
  basis: string,
  scenario: string,
) => { label: string; value: number | null; required: string; basis: string; scenario: string; pass: boolean | null };

/** Issue #4 targets of the Herald-only scenarios (history, resume), when they ran. */
function heraldOnlyChecks(report: Report, check: Check) {
  const cfg = report.config;
  const s = report.results.herald?.status === 'ran' ? report.results.herald.scenarios : {};
  const out = [];
  const hist = s.history && !s.history.error && !s.history.skipped ? s.history : undefined;
  if (s.history) {
    const n = hist?.page ?? cfg.historyPage;
    const ratioLimit = cfg.historyRatioLimit ?? 1.2;
    const p99Limit = cfg.historyP99LimitMs ?? 5;
    const unreadLimit = cfg.unreadP99LimitMs ?? 2;
    out.push(
      check(
        `history: page ${n} vs page 1`,
        hist?.ratios?.p50 ?? null,
        `<= ${ratioLimit}x`,
        (v) => v <= ratioLimit,
        `p50 page ${n} / p50 page 1`,
        'history',
      ),
      check('history: page 1 p99', hist?.page1?.p99 ?? null, `<= ${p99Limit} ms`, (v) => v <= p99Limit, 'ms, GraphQL over HTTP', 'history'),
      check(
        `history: page ${n} p99`,
        hist?.pageN?.p99 ?? null,
        `<= ${p99Limit} ms`,
        (v) => v <= p99Limit,
        'ms, GraphQL over HTTP',
        'history',
      ),
      check(
        'history: unreadCount p99',
        hist?.unread?.p99 ?? null,
        `<= ${unreadLimit} ms`,
        (v) => v <= unreadLimit,
        'ms, GraphQL over HTTP',
        'history',
      ),
    );
  }
  const res = s.resume && !s.resume.error && !s.resume.skipped ? s.resume : undefined;
  if (s.resume) {
    const k = res?.behind ?? cfg.resumeBehind;
    const limit = cfg.resumeLimitMs ?? 200;
    out.push(
      check(
        `resume ${k} behind: time until caught up`,
        res?.exact === false ? null : (res?.medianMs ?? null),
        `<= ${limit} ms`,
        (v) => v <= limit,
        `median of ${res?.repeatsRun ?? '?'} reconnects (ms)${res?.exact === false ? '; positions NOT exact' : ''}`,
        'resume',
      ),
      check(
        `resume ${k} behind: slowest reconnect (informative)`,
        res?.maxMs ?? null,
        `<= ${limit} ms`,
        (v) => v <= limit,
        'max (ms)',
        'resume',
      ),
    );
  }
  const att = s.attack && !s.attack.error && !s.attack.skipped ? s.attack : undefined;
  if (s.attack) {
    const limit = att?.ratioLimit ?? cfg.attackRatioLimit ?? 3;
    const rows = (att?.attacks ?? []) as Array<Record<string, any>>;
    if (rows.length === 0)
      out.push(
        check(
          'attacks: victim p99 during an attack / without',
          null,
          `<= ${limit}x`,
          () => false,
          s.attack.error ?? 'no attack ran',
          'attack',
        ),
      );
    for (const r of rows) {
      const failed = r.victim?.during?.failed ?? 0;
      const c = check(
        `attack ${r.kind}: victim p99 during / without`,
        r.ratio ?? null,
        `<= ${limit}x`,
        (v) => v <= limit,
        r.error
          ? `error: ${String(r.error).slice(0, 120)}`
          : r.skipped
            ? r.skipped
            : `inbox query p99 ${fmt(r.victim?.during?.latency?.p99, 2)} / ${fmt(r.victim?.baseline?.latency?.p99, 2)} ms${failed ? `; ${failed} victim request(s) failed` : ''}${r.serverExited ? '; the server exited' : ''}`,
        'attack',
      );
      // A victim that was refused, or a server that died, misses whatever its p99 was.
      out.push(c.pass === null ? c : { ...c, pass: r.met === true });
    }
  }
  return out;
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
  const selected = (scenario: string): boolean => cfg.scenarios.includes(scenario);
  const loadScenarios = ['idle', 'personal', 'bulk'].some(selected);
  const out: string[] = [];
  out.push(`# Herald benchmark (issue #4): ${m.startedAt}${cfg.quick ? ' (quick run)' : ''}`);
  out.push('');
  out.push(`- Machine: ${m.cpuModel}, ${m.cpus} cores, ${m.memGiB} GiB RAM, Linux ${m.kernel}; open-file limit ${m.nofile}`);
  out.push(`- Software: Node ${m.node}, ${m.postgres}, Redis ${m.redis}${m.git ? `; Herald ${m.git}` : ''}`);
  out.push(`- Pinning: ${m.pinning}. PostgreSQL and Redis are not pinned and share both cores.`);
  out.push(
    `- Load average at start ${m.loadStart}, at end ${m.loadEnd ?? 'n/a'}; duration ${m.durationS ?? 'n/a'} s. "other" CPU columns = machine busy time not used by any benchmark process (unrelated load that may disturb figures).`,
  );
  if (loadScenarios) {
    out.push(
      `- Config: N idle/personal/bulk = ${cfg.idleN}/${cfg.personalN}/${cfg.bulkN}; payload ${cfg.payloadBytes} B; rates ${cfg.rates.join(', ')}/s, ${cfg.stepSeconds} s per step, up to ${cfg.stepRetries} retries of a failing step; p99 limit ${cfg.p99LimitMs} ms; idle CPU window ${cfg.idleCpuSeconds} s; bulk repeats ${cfg.bulkRepeats}; ≤ ${cfg.maxPerProcess} sockets per generator process; publisher: ${cfg.publisherConnections} keep-alive connections (undici), open loop.`,
    );
    out.push(
      `- SSE heartbeat (one shared timer in every SSE target): ${cfg.heartbeatMs / 1000} s in the idle scenario, ${cfg.loadHeartbeatMs / 1000} s in personal/bulk, so that the 10k-write heartbeat burst (whose receiving side lands on the single generator core) does not randomly hit a rate step. Before each step the runner waits up to ${cfg.quietWaitSeconds} s for unrelated CPU load to fall to ≤ ${cfg.quietOtherPct}% of a core.`,
    );
  }
  if (cfg.scenarios.includes('history'))
    out.push(
      `- History: ${cfg.historyUsers} users × ${cfg.historyPerUser} notifications in PostgreSQL (seeded once with SQL, kept); page size ${cfg.historyPageSize}; page ${cfg.historyPage} reached by following endCursor for ${cfg.historyWalkUsers} users; ${cfg.historyWarmup} warm-up and ${cfg.historyRequests} timed rounds, each one page-1, one page-${cfg.historyPage} and one unreadCount request in random order for random users, sequential on one keep-alive connection.`,
    );
  if (cfg.scenarios.includes('resume'))
    out.push(
      `- Resume: ${cfg.resumeBehind} notifications emitted (${cfg.resumeEmitConcurrency} in flight) while the subscriber is away, then a reconnect via ${cfg.resumeVia === 'after' ? 'notificationAdded(after:)' : 'Last-Event-ID'}; time from starting the reconnect to the ${cfg.resumeBehind}th event parsed; ${cfg.resumeRepeats} repeats.`,
    );
  if (cfg.scenarios.includes('attack'))
    out.push(
      `- Attack: per attack (${cfg.attacks.join(', ')}) a fresh Herald with its default limits; victims (100 users, round robin) send an inbox query every ${cfg.attackVictimIntervalMs} ms, open loop: p99 over ${cfg.attackBaselineSeconds} s without the attack, then over the ${cfg.attackSeconds} s attack; target ≤ ${cfg.attackRatioLimit}x, and no victim request refused.`,
    );
  if (loadScenarios)
    out.push('- Latency = receipt time − *scheduled* send time (CLOCK_MONOTONIC, shared by all processes), HDR histograms.');
  out.push(
    `- CPU figures: % of one core, averaged over the measurement window (200% = both cores).${loadScenarios ? ' [generator-bound]: receivers + publisher used ≥ 90% of their core, so that step may be limited by the load generator, not the server.' : ''}`,
  );
  out.push('');

  if (loadScenarios) {
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
  }

  out.push('## Issue #4 targets (Herald)');
  out.push('');
  out.push(
    table(
      ['check', 'basis', 'value', 'required', 'result'],
      a.checks
        .filter((c) => selected(c.scenario) || c.value !== null)
        .map((c) => [c.label, c.basis, fmt(c.value, 2), c.required, c.pass === null ? 'n/a' : c.pass ? 'PASS' : 'FAIL']),
    ),
  );
  out.push('');

  if (ran.length > 1 && loadScenarios) {
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

  if (selected('idle')) {
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
              [s.dropped ? `${s.dropped} dropped` : '', s.failed ? `${s.failed} failed` : '', ...(s.errors ?? [])]
                .filter(Boolean)
                .join('; '),
            ];
          }),
      ),
    );
    out.push('');
  }

  if (selected('personal')) {
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
  }

  if (selected('bulk')) {
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
  }

  out.push(...historySection(report), ...resumeSection(report), ...attackSection(report));

  const other: string[] = [];
  for (const t of names) {
    const run = report.results[t]!;
    if (run.status === 'skipped') other.push(`- ${t}: skipped (${run.reason})`);
    for (const [sc, r] of Object.entries(run.scenarios)) {
      if (['idle', 'personal', 'bulk', 'history', 'resume', 'attack'].includes(sc) && !r.skipped) continue;
      other.push(`- ${t} / ${sc}: ${r.skipped ?? r.error ?? JSON.stringify(r)}`);
    }
  }
  if (other.length) {
    out.push('## Skipped, hooks and other scenarios');
    out.push('');
    out.push(...other);
    out.push('');
  }
  // Hand-kept log of which server change moved which figure (bench/what-moved.md).
  const moved = new URL('../what-moved.md', import.meta.url);
  if (existsSync(moved)) out.push(readFileSync(moved, 'utf8').trim(), '');
  out.push(`Raw figures: the .json file next to this one. Server logs of this run: ${m.logDir}.`);
  return out.join('\n');
}

const lat = (x: any): string =>
  x ? `${fmt(x.p50, 2)} / ${fmt(x.p90, 2)} / ${fmt(x.p99, 2)} / ${fmt(x.max, 2)} / ${fmt(x.mean, 2)}` : 'n/a';

function historySection(report: Report): string[] {
  const s = report.results.herald?.scenarios.history;
  if (!s || s.skipped) return [];
  const out = ['## 4. History (Herald: page 1 vs page N, unreadCount)', ''];
  if (s.error) return [...out, `error: ${s.error}`, ''];
  const n = s.page;
  const seeding = s.seeding.skipped ? `already seeded, reused (${s.seeding.found})` : `seeded with SQL in ${fmt(s.seeding.seconds, 1)} s`;
  out.push(
    `${fmt(s.notifications)} notifications, ${s.users} users × ${s.perUser} (${s.unreadPerUser} unread each); ${seeding}. ` +
      `Client: ${s.client}. Page ${n} cursors: ${s.walk.users} users × ${n - 1} pages following endCursor (every page checked). ` +
      `${s.rounds} timed rounds after ${s.warmupRounds} warm-up rounds, in ${s.quietWait?.chunks ?? 1} chunk(s), each after waiting (≤ ${report.config.quietWaitSeconds} s) for unrelated load ≤ ${report.config.quietOtherPct}% of a core: waited ${fmt(s.quietWait?.waitedSeconds, 1)} s in all, worst other load at a chunk's start ${fmt(s.quietWait?.maxOtherPctBefore ?? s.quietWait?.otherPct, 1)}%, mean other load during the timed rounds ${fmt((s.cpu as CpuWindow | undefined)?.otherPct, 1)}%.`,
  );
  out.push('');
  const w = s.cpu as CpuWindow;
  out.push(
    table(
      ['request', 'through', 'p50 / p90 / p99 / max / mean (ms)', 'count'],
      [
        ['page 1', 'Herald GraphQL over HTTP', lat(s.page1), fmt(s.page1.count)],
        [`page ${n}`, 'Herald GraphQL over HTTP', lat(s.pageN), fmt(s.pageN.count)],
        ['unreadCount', 'Herald GraphQL over HTTP', lat(s.unread), fmt(s.unread.count)],
        ['page 1', "raw pg: listInbox's SQL (RR transaction, 4 round trips)", lat(s.sql?.page1), fmt(s.sql?.page1?.count)],
        [`page ${n}`, "raw pg: listInbox's SQL (RR transaction, 4 round trips)", lat(s.sql?.pageN), fmt(s.sql?.pageN?.count)],
        ['unreadCount', 'raw pg: one SELECT', lat(s.sql?.unread), fmt(s.sql?.unread?.count)],
      ],
    ),
  );
  out.push('');
  out.push(
    `Page ${n} / page 1: p50 ${fmt(s.ratios.p50, 2)}, p99 ${fmt(s.ratios.p99, 2)}, mean ${fmt(s.ratios.mean, 2)}. ` +
      `CPU per request (all three kinds, timed rounds): server ${fmt(s.cpuMsPerRequest.server, 2)} ms, PostgreSQL ${fmt(s.cpuMsPerRequest.postgres, 2)} ms, client ${fmt(s.cpuMsPerRequest.runner, 2)} ms ` +
      `(server ${cpuCell(w, 'server')}%, pg ${cpuCell(w, 'postgres')}%, other ${fmt(w?.otherPct, 1)}% of a core over ${fmt(w?.seconds, 1)} s).` +
      (s.cpuByKind
        ? ` Server CPU per request by kind (separate runs): ${Object.entries(
            s.cpuByKind as Record<string, { serverMs: number; postgresMs: number }>,
          )
            .map(
              ([k, v]) =>
                `${k === 'pageN' ? `page ${n}` : k === 'page1' ? 'page 1' : k} ${fmt(v.serverMs, 2)} ms (pg ${fmt(v.postgresMs, 2)})`,
            )
            .join(', ')}.`
        : ''),
  );
  if (s.sql?.explainPage1)
    out.push(
      '',
      `Plans (EXPLAIN ANALYZE, one user): page 1 \`${s.sql.explainPage1.plan}\` ${s.sql.explainPage1.buffers}, ${fmt(s.sql.explainPage1.executionMs, 3)} ms; ` +
        `page ${n} \`${s.sql.explainPageN.plan}\` ${s.sql.explainPageN.buffers}, ${fmt(s.sql.explainPageN.executionMs, 3)} ms.`,
    );
  if (s.errors?.length) out.push('', `Errors: ${s.errors.join('; ')}`);
  out.push('');
  return out;
}

function resumeSection(report: Report): string[] {
  const s = report.results.herald?.scenarios.resume;
  if (!s || s.skipped) return [];
  const out = ['## 5. Resume (Herald: reconnect behind, time until caught up)', ''];
  if (s.error) return [...out, `error: ${s.error}`, ''];
  out.push(
    `${s.behind} notifications behind, resumed via ${s.via}; about ${fmt(s.tableRows)} rows in the notification table. Client: ${s.client}. ` +
      `Median ${fmt(s.medianMs, 1)} ms, max ${fmt(s.maxMs, 1)} ms, min ${fmt(s.minMs, 1)} ms over ${s.repeatsRun} reconnects; positions ${s.exact ? 'exact (no gap, no duplicate) in every repeat' : 'NOT exact'}.`,
  );
  out.push('');
  out.push(
    table(
      [
        '#',
        'response head (ms)',
        'first event (ms)',
        `${s.behind}th event (ms)`,
        'received',
        'gaps / dup / out of order / missing / extra',
        'CPU ms: server / pg / redis',
        'other CPU %',
        'emit of the backlog (s)',
      ],
      (s.repeats as any[]).map((r, i) => [
        String(i + 1),
        fmt(r.headMs, 1),
        fmt(r.firstMs, 1),
        r.lastMs === null ? 'never' : fmt(r.lastMs, 1),
        fmt(r.received),
        `${r.gaps} / ${r.duplicates} / ${r.outOfOrder} / ${r.missing} / ${r.extra}`,
        `${r.cpuMs.server} / ${r.cpuMs.postgres} / ${r.cpuMs.redis}`,
        fmt(r.cpu?.otherPct, 1),
        fmt(r.emitMs / 1000, 1),
      ]),
    ),
  );
  out.push('');
  return out;
}

function attackSection(report: Report): string[] {
  const s = report.results.herald?.scenarios.attack;
  if (!s || s.skipped) return [];
  const out = ['## 6. Attacks (Herald, default limits: a well-behaved client while attacked)', ''];
  if (s.error) return [...out, `error: ${s.error}`, ''];
  out.push(
    `Victims: ${s.victimUsers} users, one inbox query (page of 20 and unreadCount) every ${s.victimIntervalMs} ms in all, open loop; client: ${s.client}. ` +
      `p99 over ${s.baselineSeconds} s without the attack, then over the ${s.attackSeconds} s of the attack; target ≤ ${s.ratioLimit}x and no victim request refused. ` +
      'Attacker answers: accepted = 2xx without errors (the server did the work; slow-loris: sockets still held at the end), refused = any other answer (slow-loris: sockets the server answered or closed), dropped = no answer.',
  );
  out.push('');
  const rows = (s.attacks as Array<Record<string, any>>).map((r) => {
    if (r.error || r.skipped)
      return [
        r.kind,
        r.description,
        'n/a',
        'n/a',
        'n/a',
        `≤ ${s.ratioLimit}x`,
        r.error ? `error: ${r.error}` : r.skipped,
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        '',
      ];
    const a = r.attacker;
    const w = r.cpu.attack as CpuWindow;
    const vb = r.victim.baseline;
    const vd = r.victim.during;
    const top = Object.entries(a.outcomes as Record<string, number>)
      .slice(0, 4)
      .map(([k, v]) => `${v}× ${k}`)
      .join('; ');
    return [
      r.kind,
      r.description,
      `${fmt(vb.latency.p99, 2)} (p50 ${fmt(vb.latency.p50, 2)})`,
      `${fmt(vd.latency.p99, 2)} (p50 ${fmt(vd.latency.p50, 2)}, max ${fmt(vd.latency.max, 1)})`,
      fmt(r.ratio, 2),
      `≤ ${s.ratioLimit}x`,
      (r.met ? 'met' : `MISSED${r.why ? ` (${r.why})` : ''}`) + (r.disturbed ? ` [disturbed: ${r.disturbed}]` : ''),
      `${vb.failed} / ${vd.failed}${
        vd.failed
          ? ` (${Object.entries(vd.failures)
              .map(([k, v]) => `${v}× ${k}`)
              .join('; ')})`
          : ''
      }`,
      `${fmt(a.accepted)} / ${fmt(a.refused)} / ${fmt(a.dropped)}`,
      `${fmt(a.acceptedPerSecond, 1)} / ${fmt(a.refusedPerSecond, 1)}`,
      a.answerMs ? `${fmt(a.answerMs.p50, 1)} / ${fmt(a.answerMs.p99, 1)}` : 'n/a',
      top,
      `${cpuCell(w, 'server')} / ${cpuCell(w, 'postgres')} / ${cpuCell(w, 'attacker')} / ${fmt(w.otherPct, 1)}`,
      `${mib(r.rss.before)} → ${mib(r.rss.after)}`,
      fmt(r.quietWait?.otherPct, 1),
    ];
  });
  out.push(
    table(
      [
        'attack',
        'what',
        'victim p99 without (ms)',
        'victim p99 during (ms)',
        'ratio',
        'target',
        'result',
        'victim failures without / during',
        'attacker accepted / refused / dropped',
        'accepted/s / refused/s',
        'attacker answer p50 / p99 (ms)',
        'attacker outcomes (most frequent)',
        'CPU % during: server / pg / attacker / other',
        'server RSS before → after (MiB)',
        'other CPU % before baseline',
      ],
      rows,
    ),
  );
  out.push('');
  const restored = [...new Set((s.attacks as Array<Record<string, any>>).flatMap((r) => (r.defaultsRestored ?? []) as string[]))];
  out.push(
    `Herald ran with its defaults for what is attacked: ${restored.length ? `the target's settings ${restored.map((x) => `\`${x}\``).join(', ')} were removed` : 'the target sets no raised limits'} (RATE_LIMIT_*, MAX_CONNECTIONS_PER_IP); each attack on a fresh server with a Redis prefix of its own.`,
    '',
  );
  const extras = (s.attacks as Array<Record<string, any>>).filter((r) => r.attacker?.extra && Object.keys(r.attacker.extra).length);
  if (extras.length) {
    out.push(
      ...extras.map(
        (r) =>
          `- ${r.kind}: ${Object.entries(r.attacker.extra)
            .map(([k, v]) => `${k} ${Array.isArray(v) ? v.join(', ') : String(v)}`)
            .join('; ')}`,
      ),
    );
    out.push('');
  }
  return out;
}
