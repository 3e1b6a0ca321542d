// Benchmark configuration: defaults, --quick, then BENCH_* environment variables, then CLI flags.
//   npm run bench -- --quick --targets b0,b0r --scenarios idle,personal --n 5000
import { ATTACK_KINDS } from './lib/attacks.ts';

export interface Config {
  quick: boolean;
  targets: string[];
  scenarios: string[];
  /** subscribers per scenario */
  idleN: number;
  personalN: number;
  bulkN: number;
  /** personal delivery: rate ladder (emits/s), seconds per step, retries of a failing step */
  rates: number[];
  stepSeconds: number;
  stepRetries: number;
  p99LimitMs: number;
  drainMs: number;
  /** SSE heartbeat interval in the idle scenario (production-like) and under load (see README) */
  heartbeatMs: number;
  loadHeartbeatMs: number;
  /** before each measured step: wait up to quietWaitSeconds until unrelated CPU load <= quietOtherPct */
  quietOtherPct: number;
  quietWaitSeconds: number;
  /** idle density */
  idleCpuSeconds: number;
  settleMs: number;
  /** bulk fan-out */
  bulkRepeats: number;
  bulkTimeoutMs: number;
  bulkLimitMs: number;
  /** history and resume (Herald only) run on this database ('' = the bench database); it is kept between runs */
  hooksDatabase: string;
  /** history (Herald only): seeded data set, page size, which page is compared with page 1 */
  historyUsers: number;
  historyPerUser: number;
  historyPageSize: number;
  historyPage: number;
  /** users whose page-N cursor is reached by following endCursor (N - 1 requests each) */
  historyWalkUsers: number;
  /** sequential requests per measurement (page 1, page N, unreadCount), after warmup of each */
  historyRequests: number;
  historyWarmup: number;
  /** targets: page N <= ratio x page 1 (medians), page p99 <= ms, unreadCount p99 <= ms */
  historyRatioLimit: number;
  historyP99LimitMs: number;
  unreadP99LimitMs: number;
  /** resume (Herald only): events missed while disconnected, repeats, emit concurrency, target */
  resumeBehind: number;
  resumeRepeats: number;
  resumeEmitConcurrency: number;
  resumeVia: string;
  resumeTimeoutMs: number;
  resumeLimitMs: number;
  /** attack (Herald only): attack kinds, attack and baseline windows, victim interval, target ratio */
  attacks: string[];
  attackSeconds: number;
  attackBaselineSeconds: number;
  attackVictimIntervalMs: number;
  attackRatioLimit: number;
  /** load generator */
  payloadBytes: number;
  maxPerProcess: number;
  sourceIps: number;
  connectConcurrency: number;
  connectTimeoutMs: number;
  publisherConnections: number;
  /** pinning: server CPU and generator CPU ("none" disables) */
  serverCpu: string | null;
  generatorCpu: string | null;
  readyTimeoutMs: number;
  maxMinutes: number;
  outDir: string;
}

const FULL: Config = {
  quick: false,
  targets: ['b0', 'b0r', 'b0p', 'socketio', 'herald'],
  scenarios: ['idle', 'personal', 'bulk'],
  idleN: 10_000,
  personalN: 10_000,
  bulkN: 10_000,
  rates: [250, 500, 1000, 1500, 2000, 3000, 4000, 6000, 8000, 12000, 16000, 24000],
  stepSeconds: 5,
  stepRetries: 2,
  p99LimitMs: 50,
  drainMs: 3000,
  heartbeatMs: 15_000,
  loadHeartbeatMs: 300_000,
  quietOtherPct: 40,
  quietWaitSeconds: 30,
  idleCpuSeconds: 15,
  settleMs: 1500,
  bulkRepeats: 5,
  bulkTimeoutMs: 30_000,
  bulkLimitMs: 500,
  hooksDatabase: '',
  historyUsers: 1000,
  historyPerUser: 1000,
  historyPageSize: 20,
  historyPage: 50,
  historyWalkUsers: 50,
  historyRequests: 1000,
  historyWarmup: 1000,
  historyRatioLimit: 1.2,
  historyP99LimitMs: 5,
  unreadP99LimitMs: 2,
  resumeBehind: 1000,
  resumeRepeats: 7,
  resumeEmitConcurrency: 32,
  resumeVia: 'last-event-id',
  resumeTimeoutMs: 30_000,
  resumeLimitMs: 200,
  attacks: [...ATTACK_KINDS],
  attackSeconds: 10,
  attackBaselineSeconds: 5,
  attackVictimIntervalMs: 10,
  attackRatioLimit: 3,
  payloadBytes: 128,
  maxPerProcess: 8000,
  sourceIps: 1,
  connectConcurrency: 200,
  connectTimeoutMs: 20_000,
  publisherConnections: 128,
  serverCpu: '0',
  generatorCpu: '1',
  readyTimeoutMs: 120_000,
  maxMinutes: 60,
  outDir: 'bench/results',
};

const QUICK: Partial<Config> = {
  quick: true,
  idleN: 2000,
  personalN: 2000,
  bulkN: 2000,
  rates: [250, 1000, 4000, 8000, 16000],
  stepSeconds: 2,
  stepRetries: 1,
  drainMs: 1500,
  idleCpuSeconds: 3,
  quietWaitSeconds: 5,
  settleMs: 500,
  bulkRepeats: 3,
  historyWalkUsers: 20,
  historyRequests: 400,
  historyWarmup: 400,
  resumeRepeats: 5,
  attackSeconds: 5,
  attackBaselineSeconds: 3,
  maxMinutes: 10,
};

/** Scenarios that run against Herald only: selecting only these makes `herald` the default target. */
export const HERALD_ONLY_SCENARIOS = ['history', 'resume', 'attack'];

const HELP = `npm run bench -- [flags]       (every flag also as env BENCH_<NAME>, e.g. BENCH_N=5000)
  --quick                 reduced run (~2-3 min for the baselines)
  --targets a,b           ${FULL.targets.join(',')}
  --scenarios a,b         idle,personal,bulk (default), history, resume, attack (Herald only; when only these
                          are selected the targets default to herald: npm run bench -- --scenarios history,resume)
  --only a,b              same as --scenarios
  --n N                   subscribers for every scenario (or --idle-n, --personal-n, --bulk-n)
  --rates r1,r2,...       personal delivery rate ladder, emits/s
  --step-seconds S        seconds per rate step            --step-retries K   retries of a failing step
  --p99-limit-ms MS       latency criterion (50)           --drain-ms MS      wait for late events after a step
  --idle-cpu-seconds S    idle CPU window (15; heartbeat period of the baselines is 15 s)
  --heartbeat-ms MS       SSE heartbeat in the idle scenario (15000)
  --load-heartbeat-ms MS  SSE heartbeat in personal/bulk (300000: keeps 10k-stream heartbeat bursts, mostly
                          absorbed by the single generator core, out of the delivery latencies)
  --quiet-other-pct P     before each step wait until CPU used by unrelated processes <= P% of a core (40)
  --quiet-wait-seconds S  ... but at most S seconds (30; quick 5)
  --bulk-repeats K        --bulk-timeout-ms MS             --bulk-limit-ms MS (500)
  --hooks-database NAME   database of history/resume (herald_bench*; default: the bench database, which the
                          other scenarios recreate, so history seeds again after them)
  history (1,000,000 notifications seeded with SQL once, kept between history/resume runs):
  --history-users U (1000)   --history-per-user P (1000)   --history-page-size S (20)   --history-page N (50)
  --history-walk-users K  users whose page-N cursor is found by following endCursor (50; quick 20)
  --history-requests R    timed requests per measurement (1000; quick 400)   --history-warmup W (1000; quick 400)
  --history-ratio-limit X (1.2)   --history-p99-limit-ms MS (5)   --unread-p99-limit-ms MS (2)
  resume (reconnect K events behind):
  --resume-behind K (1000)   --resume-repeats R (7; quick 5)   --resume-emit-concurrency C (32)
  --resume-via last-event-id|after   --resume-timeout-ms MS (30000)   --resume-limit-ms MS (200)
  attack (a victim's inbox-query p99 during each attack / without; Herald with its default limits):
  --attacks a,b           ${FULL.attacks.join(',')}
  --attack-seconds S (10; quick 5)   --attack-baseline-seconds S (5; quick 3)
  --attack-victim-interval-ms MS (10: one victim query per 10 ms, over 100 users)   --attack-ratio-limit X (3)
  --payload-bytes B       --max-per-process K (8000)       --source-ips K (127.0.0.1..127.0.0.K; 1 = kernel picks)
  --connect-concurrency K --publisher-connections K        --server-cpu C --generator-cpu C ("none" = no taskset)
  --max-minutes M         wall-clock budget of the whole run
  --out-dir DIR           (bench/results)`;

function kebab(k: string): string {
  return k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function coerce(key: keyof Config, raw: string, base: Config): unknown {
  const cur = base[key];
  if (key === 'serverCpu' || key === 'generatorCpu') return raw === 'none' ? null : raw;
  if (Array.isArray(cur)) {
    const parts = raw
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    return typeof cur[0] === 'number' ? parts.map(Number) : parts;
  }
  if (typeof cur === 'number') {
    const v = Number(raw);
    if (!Number.isFinite(v)) throw new Error(`--${kebab(key)} needs a number, got "${raw}"`);
    return v;
  }
  if (typeof cur === 'boolean') return raw !== 'false' && raw !== '0';
  return raw;
}

export function loadConfig(argv: string[], env: NodeJS.ProcessEnv): Config {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-h' || a === '--help') {
      console.log(HELP);
      process.exit(0);
    }
    if (!a.startsWith('--')) throw new Error(`unexpected argument "${a}"\n${HELP}`);
    const eq = a.indexOf('=');
    if (eq > 0) flags.set(a.slice(2, eq), a.slice(eq + 1));
    else if (a === '--quick') flags.set('quick', 'true');
    else flags.set(a.slice(2), argv[++i] ?? '');
  }
  // --only is shorthand for --scenarios (e.g. --only history,resume)
  const only = flags.get('only');
  if (only !== undefined) {
    if (flags.has('scenarios')) throw new Error('give either --only or --scenarios, not both');
    flags.delete('only');
    flags.set('scenarios', only);
  }
  const quick = flags.get('quick') === 'true' || env.BENCH_QUICK === '1' || env.BENCH_QUICK === 'true';
  const cfg: Config = { ...FULL, ...(quick ? QUICK : {}) };
  const keys = Object.keys(FULL) as (keyof Config)[];
  const known = new Set([...keys.map(kebab), 'n', 'quick']);
  for (const f of flags.keys()) if (!known.has(f)) throw new Error(`unknown flag --${f}\n${HELP}`);
  if (!flags.has('targets') && env.BENCH_TARGETS === undefined) {
    const scenarios = flags.get('scenarios') ?? env.BENCH_SCENARIOS;
    const picked =
      scenarios
        ?.split(',')
        .map((x) => x.trim())
        .filter(Boolean) ?? [];
    if (picked.length > 0 && picked.every((x) => HERALD_ONLY_SCENARIOS.includes(x))) cfg.targets = ['herald'];
  }
  const n = flags.get('n') ?? env.BENCH_N;
  if (n) cfg.idleN = cfg.personalN = cfg.bulkN = Number(n);
  for (const key of keys) {
    if (key === 'quick') continue;
    const envName = `BENCH_${kebab(key).replace(/-/g, '_').toUpperCase()}`;
    const raw = flags.get(kebab(key)) ?? env[envName];
    if (raw !== undefined) (cfg as unknown as Record<string, unknown>)[key] = coerce(key, raw, cfg);
  }
  return cfg;
}
