// B0R: B0 whose POST publishes to Redis (one channel per user, "b0r:user:<id>").
// The server holds one SUBSCRIBE per user channel that has open streams (ref-counted by the
// user's stream set) and fans each message out to that user's streams.
// The event is serialised once (in the POST handler) and the SSE frame itself is published.
import http from 'node:http';
import { Redis } from 'ioredis';

const PORT = Number(process.env.PORT ?? 8000);
const HOST = process.env.HOST ?? '127.0.0.1';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = 'b0r:user:';

const pub = new Redis(REDIS_URL);
const sub = new Redis(REDIS_URL);
const streams = new Map<string, Set<http.ServerResponse>>();
let streamCount = 0;
let nextId = 0;

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
    void sub.subscribe(PREFIX + user); // first stream of this user
  }
  set.add(res);
  streamCount++;
  req.socket.setNoDelay(true);
  res.on('close', () => {
    streamCount--;
    set.delete(res);
    if (set.size === 0 && streams.get(user) === set) {
      streams.delete(user);
      void sub.unsubscribe(PREFIX + user); // last stream of this user
    }
  });
}

async function publish(userIds: string[], payload: string): Promise<number> {
  const frame = `id: ${++nextId}\ndata: ${payload}\n\n`; // serialised once
  const counts = await Promise.all(userIds.map((u) => pub.publish(PREFIX + u, frame)));
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
    readJson(req)
      .then((body) => publish(body.userIds, body.payload))
      .then(
        (receivers) => res.writeHead(200, { 'content-type': 'application/json' }).end(`{"receivers":${receivers}}`),
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
Promise.all([pub.ping(), sub.ping()]).then(() => server.listen(PORT, HOST, 4096, () => console.log(`READY ${PORT}`)));
if (process.env.BENCH_EXIT_ON_STDIN_CLOSE) process.stdin.on('close', () => process.exit(0)).resume();
