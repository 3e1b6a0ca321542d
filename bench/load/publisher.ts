// Load-generator child: open-loop publisher. Sends POSTs on a fixed schedule (never waiting for
// earlier responses) and puts each event's *scheduled* send time into its payload, so a slow
// server shows up as latency instead of as a lower send rate (no coordinated omission).
import { Pool } from 'undici';
import { nowMs, sleep } from '../lib/clock.ts';
import { encodeHistogram, newHistogram, recordMs, summarize } from '../lib/hist.ts';
import { makePayload } from '../lib/payload.ts';
import { serveRpc } from '../lib/rpc.ts';
import { getTarget } from '../targets/index.ts';
import type { HttpRequestSpec, TargetAddress, TargetClient } from '../targets/types.ts';

export interface PublisherInit {
  target: string;
  addr: TargetAddress;
  userIds: string[];
  connections: number;
  padBytes: number;
}

let init: PublisherInit;
let client: TargetClient;
let pool: Pool;
let inflight = 0;
const errorSamples = new Map<string, number>();

function noteError(msg: string): void {
  errorSamples.set(msg, (errorSamples.get(msg) ?? 0) + 1);
}

async function send(req: HttpRequestSpec): Promise<boolean> {
  inflight++;
  try {
    const res = await pool.request({ path: req.path, method: req.method, headers: req.headers, body: req.body ?? null });
    const body = await res.body.text();
    const ok = client.publishOk(res.statusCode, body);
    if (!ok) noteError(`HTTP ${res.statusCode}: ${body.slice(0, 200)}`);
    return ok;
  } catch (err) {
    noteError(err instanceof Error ? err.message : String(err));
    return false;
  } finally {
    inflight--;
  }
}

function takeErrors(): string[] {
  const out = [...errorSamples].slice(0, 5).map(([msg, n]) => `${n}x ${msg}`);
  errorSamples.clear();
  return out;
}

interface RateParams {
  step: number;
  rate: number; // emits per second
  durationMs: number;
  recipients: number; // users per emit (1 for personal delivery)
  maxInflight: number;
  drainTimeoutMs: number;
}

/** Emits `rate`/s single- (or few-) recipient events to random users for `durationMs`. */
async function runRate(p: RateParams) {
  const total = Math.round((p.rate * p.durationMs) / 1000);
  const interval = 1000 / p.rate;
  const users = init.userIds;
  const responseHist = newHistogram(); // scheduled send -> POST response
  let ok = 0;
  let failed = 0;
  let skipped = 0;
  let maxLagMs = 0;
  let i = 0;
  const start = nowMs() + 5;
  while (i < total) {
    const now = nowMs();
    while (i < total && start + i * interval <= now) {
      const scheduled = start + i * interval;
      maxLagMs = Math.max(maxLagMs, now - scheduled);
      if (inflight >= p.maxInflight) {
        skipped++; // bounded: the server is far behind; counted as not delivered
      } else {
        const to: string[] = [];
        for (let r = 0; r < p.recipients; r++) to.push(users[Math.floor(Math.random() * users.length)]!);
        const req = client.publish(to, makePayload(p.step, i, scheduled, init.padBytes));
        void send(req).then((good) => {
          if (good) ok++;
          else failed++;
          recordMs(responseHist, nowMs() - scheduled);
        });
      }
      i++;
    }
    await sleep(1);
  }
  const sendEnd = nowMs();
  const deadline = sendEnd + p.drainTimeoutMs;
  while (inflight > 0 && nowMs() < deadline) await sleep(5);
  return {
    scheduled: total,
    sent: total - skipped,
    ok,
    failed,
    skipped,
    stillInflight: inflight,
    maxLagMs: Math.round(maxLagMs * 1000) / 1000,
    sendSeconds: (sendEnd - start) / 1000,
    response: summarize(responseHist),
    responseHist: encodeHistogram(responseHist),
    errors: takeErrors(),
  };
}

/** One emit to many users (bulk fan-out), scheduled now. */
async function emitOnce(p: { step: number; seq: number; userIndexes?: number[] }) {
  const to = p.userIndexes ? p.userIndexes.map((i) => init.userIds[i]!) : init.userIds;
  const scheduled = nowMs();
  const good = await send(client.publish(to, makePayload(p.step, p.seq, scheduled, init.padBytes)));
  return { ok: good, scheduledMs: scheduled, responseMs: nowMs() - scheduled, errors: takeErrors() };
}

/** Readiness probe: emit to the given users in chunks (sequentially). */
async function probe(p: { step: number; users: string[]; chunk: number }) {
  let ok = 0;
  let failed = 0;
  for (let i = 0; i < p.users.length; i += p.chunk) {
    const to = p.users.slice(i, i + p.chunk);
    if (await send(client.publish(to, makePayload(p.step, i, nowMs(), init.padBytes)))) ok++;
    else failed++;
  }
  return { ok, failed, errors: takeErrors() };
}

serveRpc({
  async init(p: PublisherInit) {
    init = p;
    client = await getTarget(p.target).client(p.addr);
    pool = new Pool(`http://${p.addr.host}:${p.addr.port}`, {
      connections: p.connections,
      pipelining: 1,
      keepAliveTimeout: 60_000,
      headersTimeout: 120_000,
      bodyTimeout: 120_000,
    });
    return { pid: process.pid };
  },
  rate: runRate,
  emit: emitOnce,
  probe,
  async close() {
    await pool.close().catch(() => {});
    setTimeout(() => process.exit(0), 100).unref();
    return {};
  },
});
