// B0P: B0R that also writes each event durably the plain way, with the raw `pg` driver (a pool):
// per POST one transaction: for each recipient, bump the per-user sequence
// (upsert ... SET last_seq = last_seq + 1 RETURNING last_seq) and INSERT the notification row;
// COMMIT; then PUBLISH the SSE frame (id = per-user sequence) to "b0p:user:<id>".
// Creates its own tables on start in DATABASE_URL.
import http from 'node:http';
import { Redis } from 'ioredis';
import pg from 'pg';

const PORT = Number(process.env.PORT ?? 8000);
const HOST = process.env.HOST ?? '127.0.0.1';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/herald_bench';
const PREFIX = 'b0p:user:';

const pool = new pg.Pool({ connectionString: DATABASE_URL, max: Number(process.env.PG_POOL_SIZE ?? 10) });
const pub = new Redis(REDIS_URL);
const sub = new Redis(REDIS_URL);
const streams = new Map<string, Set<http.ServerResponse>>();
let streamCount = 0;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS bench_inbox_state (
  user_id  text PRIMARY KEY,
  last_seq bigint NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS bench_notification (
  id         bigserial PRIMARY KEY,
  user_id    text NOT NULL,
  seq        bigint NOT NULL,
  payload    text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  read_at    timestamptz,
  UNIQUE (user_id, seq)
);`;

sub.on('messageBuffer', (channel: Buffer, message: Buffer) => {
  const set = streams.get(channel.toString('latin1').slice(PREFIX.length));
  if (set) for (const res of set) res.write(message);
});

function openStream(req: http.IncomingMessage, res: http.ServerResponse, user: string): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  res.write(':\n\n');
  let set = streams.get(user);
  if (!set) {
    set = new Set();
    streams.set(user, set);
    void sub.subscribe(PREFIX + user);
  }
  set.add(res);
  streamCount++;
  req.socket.setNoDelay(true);
  res.on('close', () => {
    streamCount--;
    set.delete(res);
    if (set.size === 0 && streams.get(user) === set) {
      streams.delete(user);
      void sub.unsubscribe(PREFIX + user);
    }
  });
}

async function publish(userIds: string[], payload: string): Promise<number> {
  const client = await pool.connect();
  const seqs: string[] = [];
  try {
    await client.query('BEGIN');
    for (const user of userIds) {
      const r = await client.query<{ last_seq: string }>(
        `INSERT INTO bench_inbox_state (user_id, last_seq) VALUES ($1, 1)
         ON CONFLICT (user_id) DO UPDATE SET last_seq = bench_inbox_state.last_seq + 1
         RETURNING last_seq`,
        [user],
      );
      const seq = r.rows[0]!.last_seq;
      await client.query('INSERT INTO bench_notification (user_id, seq, payload) VALUES ($1, $2, $3)', [user, seq, payload]);
      seqs.push(seq);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
  const counts = await Promise.all(userIds.map((u, i) => pub.publish(PREFIX + u, `id: ${seqs[i]}\ndata: ${payload}\n\n`)));
  return counts.reduce((a, b) => a + b, 0);
}

function readJson(req: http.IncomingMessage): Promise<{ userIds: string[]; payload: string }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch (err) {
        reject(err);
      }
    });
    req.on('error', reject);
  });
}

function stats(url: URL): string {
  if (url.searchParams.get('gc') === '1' && typeof globalThis.gc === 'function') globalThis.gc();
  const m = process.memoryUsage();
  return JSON.stringify({ streams: streamCount, rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external });
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  if (req.method === 'GET' && url.pathname === '/events') {
    const user = url.searchParams.get('user');
    if (!user) return void res.writeHead(400).end();
    return openStream(req, res, user);
  }
  if (req.method === 'POST' && url.pathname === '/publish') {
    readJson(req).then(
      (body) =>
        publish(body.userIds, body.payload).then(
          (receivers) => res.writeHead(200, { 'content-type': 'application/json' }).end(`{"receivers":${receivers}}`),
          (err) => {
            console.error('publish failed:', err instanceof Error ? err.message : err);
            res.writeHead(500).end();
          },
        ),
      () => res.writeHead(400).end(),
    );
    return;
  }
  if (req.method === 'GET' && url.pathname === '/stats') {
    return void res.writeHead(200, { 'content-type': 'application/json' }).end(stats(url));
  }
  res.writeHead(404).end();
});

setInterval(() => {
  for (const set of streams.values()) for (const res of set) res.write(':\n\n');
}, Number(process.env.HEARTBEAT_MS ?? 15_000)).unref();

server.keepAliveTimeout = 60_000;
server.requestTimeout = 0; // SSE streams are long-lived responses
await pool.query(SCHEMA);
await Promise.all([pub.ping(), sub.ping()]);
server.listen(PORT, HOST, 4096, () => console.log(`READY ${PORT}`));
if (process.env.BENCH_EXIT_ON_STDIN_CLOSE) process.stdin.on('close', () => process.exit(0)).resume();
