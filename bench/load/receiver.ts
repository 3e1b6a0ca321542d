// Load-generator child: holds many subscriber connections (SSE over raw TCP sockets, or
// socket.io-client for the peer), parses frames incrementally, and records
// (receipt time - scheduled send time) per step in HDR histograms. Driven by the runner over IPC.
import type * as hdr from 'hdr-histogram-js';
import { nowMs } from '../lib/clock.ts';
import { encodeHistogram, newHistogram, recordMs } from '../lib/hist.ts';
import { type Marker, parseMarker } from '../lib/payload.ts';
import { serveRpc } from '../lib/rpc.ts';
import { getTarget } from '../targets/index.ts';
import type { SubscribeSpec, TargetAddress, TargetClient } from '../targets/types.ts';
import { openRawSse } from './rawsse.ts';
import { isCommentOnly } from './sse.ts';

interface Conn {
  user: string;
  open: boolean;
  probeOk: boolean;
  close(): void;
}

export interface ReceiverInit {
  target: string;
  addr: TargetAddress;
  users: string[];
  localAddresses: string[];
  connectConcurrency: number;
  connectTimeoutMs: number;
}

let addr: TargetAddress;
let client: TargetClient;
let init: ReceiverInit;
const conns: Conn[] = [];
const steps = new Map<number, { count: number; hist: hdr.Histogram }>();
const counters = { failed: 0, dropped: 0, heartbeats: 0, events: 0, unknownFrames: 0, lateProbe: 0 };
const errorSamples = new Map<string, number>();
let closing = false;
let nextLocal = 0;
let rxTime = 0; // receipt time of the chunk being parsed
const marker: Marker = { step: 0, seq: 0, scheduledMs: 0 };

function noteError(msg: string): void {
  errorSamples.set(msg, (errorSamples.get(msg) ?? 0) + 1);
}

function onEvent(conn: Conn, m: Marker): void {
  counters.events++;
  if (m.step < 0) {
    conn.probeOk = true; // readiness probe, not measured
    return;
  }
  let s = steps.get(m.step);
  if (!s) {
    s = { count: 0, hist: newHistogram() };
    steps.set(m.step, s);
  }
  s.count++;
  recordMs(s.hist, rxTime - m.scheduledMs);
}

function localAddress(): string | undefined {
  const l = init.localAddresses;
  return l.length === 0 ? undefined : l[nextLocal++ % l.length];
}

async function openSse(user: string, spec: Extract<SubscribeSpec, { kind: 'sse' }>): Promise<void> {
  const conn: Conn = { user, open: false, probeOk: false, close: () => {} };
  const socket = await openRawSse({
    host: addr.host,
    port: addr.port,
    path: spec.request.path,
    headers: spec.request.headers,
    localAddress: localAddress(),
    timeoutMs: init.connectTimeoutMs,
    onChunk: () => {
      rxTime = nowMs();
    },
    onFrame: (buf, start, end) => {
      if (parseMarker(buf, start, end, marker)) onEvent(conn, marker);
      else if (isCommentOnly(buf, start, end)) counters.heartbeats++;
      else counters.unknownFrames++;
    },
    onClose: () => {
      if (conn.open && !closing) counters.dropped++;
      conn.open = false;
    },
  });
  conn.open = true;
  conn.close = () => socket.destroy();
  conns.push(conn);
}

let ioFactory: typeof import('socket.io-client').io | undefined;

async function openSocketIo(user: string, spec: Extract<SubscribeSpec, { kind: 'socketio' }>): Promise<void> {
  ioFactory ??= (await import('socket.io-client')).io;
  const la = localAddress();
  const socket = ioFactory(`http://${addr.host}:${addr.port}`, {
    path: spec.path,
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    timeout: init.connectTimeoutMs,
    auth: spec.auth,
    query: spec.query,
    ...(la ? { localAddress: la } : {}),
  } as Parameters<typeof ioFactory>[1]);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', (err) => {
      socket.close();
      reject(err);
    });
  });
  const conn: Conn = { user, open: true, probeOk: false, close: () => socket.close() };
  conns.push(conn);
  socket.on(spec.event, (msg: unknown) => {
    rxTime = nowMs();
    const p = typeof msg === 'string' ? msg : (msg as Record<string, unknown> | null)?.[spec.payloadField];
    if (typeof p === 'string' && parseMarker(p, 0, p.length, marker)) onEvent(conn, marker);
    else counters.unknownFrames++;
  });
  socket.on('disconnect', () => {
    if (conn.open && !closing) counters.dropped++;
    conn.open = false;
  });
}

async function connect(from: number, to: number): Promise<{ connected: number; failed: number }> {
  let next = Math.max(0, from);
  const end = Math.min(to, init.users.length);
  let connected = 0;
  let failed = 0;
  const worker = async (): Promise<void> => {
    while (next < end) {
      const user = init.users[next++]!;
      try {
        const spec = await client.subscribe(user);
        await (spec.kind === 'sse' ? openSse(user, spec) : openSocketIo(user, spec));
        connected++;
      } catch (err) {
        failed++;
        counters.failed++;
        noteError(err instanceof Error ? err.message : String(err));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, init.connectConcurrency) }, worker));
  return { connected, failed };
}

function status() {
  let open = 0;
  for (const c of conns) if (c.open) open++;
  return {
    open,
    ...counters,
    errors: [...errorSamples].slice(0, 5).map(([msg, n]) => `${n}x ${msg}`),
    rss: process.memoryUsage().rss,
  };
}

serveRpc({
  async init(p: ReceiverInit) {
    init = p;
    addr = p.addr;
    client = await getTarget(p.target).client(addr);
    return { pid: process.pid };
  },
  connect: (p: { from: number; to: number }) => connect(p.from, p.to),
  status,
  counts(p: { steps: number[] }) {
    return { counts: p.steps.map((s) => steps.get(s)?.count ?? 0), ...status() };
  },
  collect(p: { steps: number[] }) {
    const out: Record<number, { count: number; hist: string }> = {};
    for (const s of p.steps) {
      const e = steps.get(s);
      if (!e) continue;
      out[s] = { count: e.count, hist: encodeHistogram(e.hist) };
      e.hist.destroy();
      steps.delete(s);
    }
    return out;
  },
  probeMissing() {
    return { missing: conns.filter((c) => c.open && !c.probeOk).map((c) => c.user), open: conns.filter((c) => c.open).length };
  },
  close() {
    closing = true;
    for (const c of conns) c.close();
    setTimeout(() => process.exit(0), 200).unref();
    return status();
  },
});
