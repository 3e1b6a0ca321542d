// Load-generator child: an attacker. Runs one attack kind (issue #13's list) against the target for
// a fixed time, from its own source address (127.0.0.2 by default: per-address bounds then apply
// to the attacker and not to the victim on 127.0.0.1, as they would on the internet), and counts
// every answer by HTTP status and GraphQL error code (`extensions.code`), per second.
//
//   aliases       10,000 aliases of unreadCount in one query, 4 in flight
//   depth         1,000-level deep selections and large unused variables (5 MB: over the limits;
//                 2.5 MB: within them), 4 in flight
//   query-flood   one user's unreadCount queries as fast as 32 connections allow
//   emit-flood    one producer's single-recipient emits into one inbox, 32 connections
//   reservations  PUT /graphql/stream (single-connection reservations), with and without a
//                 bearer token, 32 connections
//   stream-flood  SSE subscription streams for ever new users, 32 opening at once, each held open
//                 (at most 5,000)
//   slow-loris    1,000 sockets: half trickle their headers and never end them, half send a POST
//                 whose body never ends; each replaced when the server closes it
//
// Outcome of an HTTP attempt: `accepted` (2xx without GraphQL errors: the server did the work),
// `refused` (any other answer: 4xx/5xx, or 200 with errors) or `dropped` (no answer: reset,
// closed, timed out). Slow-loris counts sockets: refused when the server answered or closed them,
// accepted when it still held them when the attack ended.
import net from 'node:net';
import { Pool } from 'undici';
import { ATTACK_DESCRIPTIONS, type AttackerInit, type AttackKind, type AttackParams, type AttackResult } from '../lib/attacks.ts';
import { nowMs, sleep } from '../lib/clock.ts';
import { newHistogram, recordMs, summarize } from '../lib/hist.ts';
import { serveRpc } from '../lib/rpc.ts';
import { getTarget } from '../targets/index.ts';
import type { HttpRequestSpec, TargetClient } from '../targets/types.ts';
import { openRawSse } from './rawsse.ts';

const ALIASES = 10_000;
const DEPTH = 1_000;
const BIG_VARIABLES = 5_000_000;
const ALLOWED_VARIABLES = 2_500_000;
const HTTP_CONCURRENCY: Record<AttackKind, number> = {
  aliases: 4,
  depth: 4,
  'query-flood': 32,
  'emit-flood': 32,
  reservations: 32,
  'stream-flood': 32,
  'slow-loris': 1000,
};
const MAX_STREAMS_HELD = 5_000;
/** How often a slow-loris socket sends its next byte(s). */
const TRICKLE_MS = 1_000;
/** Requests still unanswered this long after the attack ended are counted as dropped. */
const DRAIN_MS = 5_000;

let init: AttackerInit;
let client: TargetClient;

type Outcome = 'accepted' | 'refused' | 'dropped';

/** A target's request (HttpRequestSpec), or a reservation's PUT. */
type AttackRequest = Omit<HttpRequestSpec, 'method'> & { method: 'GET' | 'POST' | 'PUT' };

class Tally {
  readonly outcomes = new Map<string, number>();
  /** time from sending a request to its answer read (HTTP attacks): what one answer cost */
  readonly answerTimes = newHistogram();
  readonly perSecond: Array<[number, number, number]> = [];
  accepted = 0;
  refused = 0;
  dropped = 0;

  constructor(private readonly t0: number) {}

  note(outcome: Outcome, label: string): void {
    this[outcome]++;
    this.outcomes.set(label, (this.outcomes.get(label) ?? 0) + 1);
    const s = Math.max(0, Math.floor((nowMs() - this.t0) / 1000));
    while (this.perSecond.length <= s) this.perSecond.push([0, 0, 0]);
    this.perSecond[s]![outcome === 'accepted' ? 0 : outcome === 'refused' ? 1 : 2]++;
  }

  /** Classifies an HTTP answer: 2xx without GraphQL errors is accepted, anything else refused. */
  answer(status: number, body: string, prefix = ''): void {
    const code = /"code"\s*:\s*"([A-Za-z0-9_]+)"/.exec(body)?.[1];
    const ok = status >= 200 && status < 300 && !body.includes('"errors"');
    this.note(ok ? 'accepted' : 'refused', `${prefix}${status}${code ? ` ${code}` : ''}`);
  }

  failure(err: unknown, prefix = ''): void {
    const e = err as { code?: string; message?: string };
    this.note('dropped', `${prefix}dropped ${e.code ?? e.message?.slice(0, 60) ?? String(err)}`);
  }
}

function pool(connections: number): Pool {
  return new Pool(`http://${init.addr.host}:${init.addr.port}`, {
    connections,
    pipelining: 1,
    keepAliveTimeout: 60_000,
    headersTimeout: 60_000,
    bodyTimeout: 60_000,
    ...(init.localAddress ? { connect: { localAddress: init.localAddress } } : {}),
  });
}

async function authorization(userId: string): Promise<string> {
  const spec = await client.subscribe(userId);
  if (spec.kind !== 'sse' || !spec.request.headers.authorization) throw new Error('the target gives no bearer token for users');
  return spec.request.headers.authorization;
}

/**
 * Closed loop: `concurrency` workers each send the next request as soon as the previous one is
 * answered, until the deadline; requests still unanswered DRAIN_MS after it count as dropped.
 */
async function closedLoop(
  tally: Tally,
  concurrency: number,
  durationMs: number,
  next: (i: number) => { req: AttackRequest; label?: string },
): Promise<void> {
  const p = pool(concurrency);
  const end = nowMs() + durationMs;
  let i = 0;
  let inflight = 0;
  let given = false; // past the drain: what is still in flight was counted, whatever comes later
  const worker = async () => {
    while (nowMs() < end) {
      const { req, label = '' } = next(i++);
      inflight++;
      const t0 = nowMs();
      try {
        const res = await p.request({
          path: req.path,
          method: req.method,
          headers: req.headers,
          body: req.body ?? null,
        });
        const body = await res.body.text();
        recordMs(tally.answerTimes, nowMs() - t0);
        if (!given) tally.answer(res.statusCode, body, label);
      } catch (err) {
        if (!given) tally.failure(err, label);
      } finally {
        inflight--;
      }
    }
  };
  const workers = Promise.all(Array.from({ length: concurrency }, worker));
  const drained = await Promise.race([workers.then(() => true), sleep(durationMs + DRAIN_MS).then(() => false)]);
  if (!drained) {
    given = true;
    for (let k = 0; k < inflight; k++) tally.note('dropped', 'dropped unanswered at the end');
  }
  await p.destroy().catch(() => {});
}

const nonce = () => Math.random().toString(36).slice(2, 10);

async function aliases(tally: Tally, p: AttackParams): Promise<Record<string, unknown>> {
  const auth = await authorization('bench-attacker');
  let fields = '';
  for (let k = 0; k < ALIASES; k++) fields += ` a${k}: unreadCount`;
  // A new operation name each time: the same document would be answered from the parse cache.
  await closedLoop(tally, HTTP_CONCURRENCY.aliases, p.durationMs, () => ({
    req: {
      method: 'POST',
      path: '/graphql',
      headers: { 'content-type': 'application/json', authorization: auth },
      body: JSON.stringify({ query: `query A${nonce()} {${fields} }` }),
    },
  }));
  return { aliases: ALIASES, documentBytes: fields.length + 20 };
}

async function depth(tally: Tally, p: AttackParams): Promise<Record<string, unknown>> {
  const auth = await authorization('bench-attacker');
  const deep = `${'f { '.repeat(DEPTH)}x${' }'.repeat(DEPTH)}`;
  const headers = { 'content-type': 'application/json', authorization: auth };
  const big = 'x'.repeat(BIG_VARIABLES);
  const allowed = 'x'.repeat(ALLOWED_VARIABLES);
  await closedLoop(tally, HTTP_CONCURRENCY.depth, p.durationMs, (i) => {
    const shape = i % 3;
    if (shape === 0)
      return {
        req: { method: 'POST', path: '/graphql', headers, body: JSON.stringify({ query: `query D${nonce()} { ${deep} }` }) },
        label: `deep ${DEPTH}: `,
      };
    const pad = shape === 1 ? big : allowed;
    return {
      req: {
        method: 'POST',
        path: '/graphql',
        headers,
        body: `{"query":"query V${nonce()} { unreadCount }","variables":{"pad":"${pad}"}}`,
      },
      label: `unused variable ${(pad.length / 1e6).toFixed(1)} MB: `,
    };
  });
  return { depth: DEPTH, variableBytes: [BIG_VARIABLES, ALLOWED_VARIABLES] };
}

async function queryFlood(tally: Tally, p: AttackParams): Promise<Record<string, unknown>> {
  const auth = await authorization('bench-attacker');
  const body = JSON.stringify({ query: 'query Flood { unreadCount }' });
  await closedLoop(tally, HTTP_CONCURRENCY['query-flood'], p.durationMs, () => ({
    req: { method: 'POST', path: '/graphql', headers: { 'content-type': 'application/json', authorization: auth }, body },
  }));
  return { user: 'bench-attacker' };
}

async function emitFlood(tally: Tally, p: AttackParams): Promise<Record<string, unknown>> {
  const inbox = `bench-attack-inbox-${p.runId}`;
  await closedLoop(tally, HTTP_CONCURRENCY['emit-flood'], p.durationMs, (i) => ({ req: client.publish([inbox], `flood #${i}`) }));
  return { inbox };
}

async function reservations(tally: Tally, p: AttackParams): Promise<Record<string, unknown>> {
  const auth = await authorization('bench-attacker');
  const anonymous: AttackRequest = { method: 'PUT', path: '/graphql/stream', headers: {} };
  const oneUser: AttackRequest = { method: 'PUT', path: '/graphql/stream', headers: { authorization: auth } };
  await closedLoop(tally, HTTP_CONCURRENCY.reservations, p.durationMs, (i) =>
    i % 2 === 0 ? { req: anonymous, label: 'anonymous: ' } : { req: oneUser, label: 'one user: ' },
  );
  return { user: 'bench-attacker' };
}

async function streamFlood(tally: Tally, p: AttackParams): Promise<Record<string, unknown>> {
  const held: net.Socket[] = [];
  const end = nowMs() + p.durationMs;
  let next = 0;
  let endedByServer = 0;
  let maxHeld = 0;
  const worker = async () => {
    while (nowMs() < end && held.length < MAX_STREAMS_HELD) {
      const sub = await client.subscribe(`bench-attack-stream-${p.runId}-${next++}`);
      if (sub.kind !== 'sse') throw new Error('stream-flood needs an SSE target');
      let socket: net.Socket | undefined;
      try {
        socket = await openRawSse({
          host: init.addr.host,
          port: init.addr.port,
          path: sub.request.path,
          headers: sub.request.headers,
          localAddress: init.localAddress ?? undefined,
          timeoutMs: Math.max(1000, end - nowMs() + DRAIN_MS),
          onChunk: () => {},
          onFrame: () => {},
          onClose: () => {
            if (nowMs() < end) endedByServer++;
          },
        });
      } catch (err) {
        const m = /^HTTP (\d{3}): (.*)$/s.exec((err as Error).message);
        if (m) tally.answer(Number(m[1]), m[2]!);
        else tally.failure(err);
        continue;
      }
      held.push(socket);
      maxHeld = Math.max(maxHeld, held.length);
      tally.note('accepted', '200 stream open');
    }
  };
  await Promise.all(Array.from({ length: HTTP_CONCURRENCY['stream-flood'] }, worker));
  const waitMs = end - nowMs();
  if (waitMs > 0) await sleep(waitMs); // hold what is open until the attack ends
  const stillOpen = held.filter((s) => !s.destroyed).length;
  for (const s of held) s.destroy();
  return { users: next, streamsHeldAtEnd: stillOpen, maxHeld, endedByServer, cap: MAX_STREAMS_HELD };
}

async function slowLoris(tally: Tally, p: AttackParams): Promise<Record<string, unknown>> {
  const sockets = new Set<net.Socket>();
  const heldMs: number[] = [];
  const end = nowMs() + p.durationMs;
  let opened = 0;
  const open = (slowHeaders: boolean): void => {
    if (nowMs() >= end) return;
    opened++;
    const label = slowHeaders ? 'slow headers: ' : 'unended body: ';
    const t0 = nowMs();
    const socket = net.connect({
      host: init.addr.host,
      port: init.addr.port,
      ...(init.localAddress ? { localAddress: init.localAddress } : {}),
    });
    sockets.add(socket);
    let answer = '';
    let connected = false;
    let timer: NodeJS.Timeout | undefined;
    socket.setEncoding('latin1');
    socket.on('connect', () => {
      connected = true;
      socket.write(
        slowHeaders
          ? `POST /graphql HTTP/1.1\r\nHost: ${init.addr.host}\r\n`
          : `POST /graphql HTTP/1.1\r\nHost: ${init.addr.host}\r\ncontent-type: application/json\r\ncontent-length: 1000000\r\n\r\n{"query":"`,
      );
      let k = 0;
      timer = setInterval(() => socket.write(slowHeaders ? `x-slow-${k++}: y\r\n` : 'xxxxxxxxxx'), TRICKLE_MS);
    });
    socket.on('data', (chunk: string) => {
      if (answer.length < 200) answer += chunk;
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearInterval(timer);
      sockets.delete(socket);
      if (nowMs() >= end) return; // closed by us at the end
      heldMs.push(nowMs() - t0);
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(answer)?.[1];
      const code = /"code"\s*:\s*"([A-Za-z0-9_]+)"/.exec(answer)?.[1];
      tally.note(
        'refused',
        `${label}${status ? `${status}${code ? ` ${code}` : ''}` : connected ? 'closed without an answer' : 'could not connect'}`,
      );
      // Replaced at once, as an attacker would; after a failed connect, not in a tight loop.
      if (connected) open(slowHeaders);
      else setTimeout(() => open(slowHeaders), 100);
    });
  };
  for (let k = 0; k < HTTP_CONCURRENCY['slow-loris']; k++) {
    open(k % 2 === 0);
    if (k % 50 === 49) await sleep(10); // do not overflow the accept backlog
  }
  const waitMs = end - nowMs();
  if (waitMs > 0) await sleep(waitMs);
  const held = [...sockets];
  for (const socket of held) {
    tally.note('accepted', 'held open at the end');
    socket.destroy();
  }
  heldMs.sort((a, b) => a - b);
  const pick = (q: number) => (heldMs.length ? Math.round(heldMs[Math.min(heldMs.length - 1, Math.floor(q * heldMs.length))]!) : null);
  return { socketsOpened: opened, heldAtEnd: held.length, closedByServer: heldMs.length, heldMsP50: pick(0.5), heldMsMax: pick(1) };
}

const ATTACKS: Record<AttackKind, (tally: Tally, p: AttackParams) => Promise<Record<string, unknown>>> = {
  aliases,
  depth,
  'query-flood': queryFlood,
  'emit-flood': emitFlood,
  reservations,
  'stream-flood': streamFlood,
  'slow-loris': slowLoris,
};

async function run(p: AttackParams): Promise<AttackResult> {
  const t0 = nowMs();
  const tally = new Tally(t0);
  const extra = await ATTACKS[p.kind](tally, p);
  const seconds = p.durationMs / 1000;
  const rate = (n: number) => Math.round((n / seconds) * 10) / 10;
  return {
    kind: p.kind,
    description: ATTACK_DESCRIPTIONS[p.kind],
    concurrency: HTTP_CONCURRENCY[p.kind],
    seconds: Math.round((nowMs() - t0) / 100) / 10,
    attempts: tally.accepted + tally.refused + tally.dropped,
    accepted: tally.accepted,
    refused: tally.refused,
    dropped: tally.dropped,
    acceptedPerSecond: rate(tally.accepted),
    refusedPerSecond: rate(tally.refused),
    droppedPerSecond: rate(tally.dropped),
    outcomes: Object.fromEntries([...tally.outcomes].sort((a, b) => b[1] - a[1])),
    perSecond: tally.perSecond,
    answerMs: tally.answerTimes.totalCount > 0 ? summarize(tally.answerTimes) : null,
    extra,
  };
}

serveRpc({
  async init(p: AttackerInit) {
    init = p;
    client = await getTarget(p.target).client(p.addr);
    return { pid: process.pid };
  },
  run,
  async close() {
    setTimeout(() => process.exit(0), 100).unref();
    return {};
  },
});
