// B0: minimal Node http SSE server.
//   GET  /events?user=<id>   -> SSE stream (":\n\n" first); Map user -> open responses
//   POST /publish            -> {userIds: string[], payload: string}; event serialised once, written to every stream
//   GET  /stats[?gc=1]       -> {streams, rss, heapUsed} (run with --expose-gc for gc=1)
// Heartbeat comment every 15 s (HEARTBEAT_MS) from one shared timer. Prints "READY <port>".
import http from 'node:http';

const PORT = Number(process.env.PORT ?? 8000);
const HOST = process.env.HOST ?? '127.0.0.1';
const streams = new Map<string, Set<http.ServerResponse>>();
let streamCount = 0;
let nextId = 0;

function openStream(req: http.IncomingMessage, res: http.ServerResponse, user: string): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  res.write(':\n\n');
  let set = streams.get(user);
  if (!set) {
    set = new Set();
    streams.set(user, set);
  }
  set.add(res);
  streamCount++;
  req.socket.setNoDelay(true);
  res.on('close', () => {
    streamCount--;
    set.delete(res);
    if (set.size === 0) streams.delete(user);
  });
}

function publish(userIds: string[], payload: string): number {
  const frame = `id: ${++nextId}\ndata: ${payload}\n\n`; // serialised once
  let written = 0;
  for (const user of userIds) {
    const set = streams.get(user);
    if (!set) continue;
    for (const res of set) {
      res.write(frame);
      written++;
    }
  }
  return written;
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
      (body) => {
        const written = publish(body.userIds, body.payload);
        res.writeHead(200, { 'content-type': 'application/json' }).end(`{"written":${written}}`);
      },
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
server.listen(PORT, HOST, 4096, () => console.log(`READY ${PORT}`));
if (process.env.BENCH_EXIT_ON_STDIN_CLOSE) process.stdin.on('close', () => process.exit(0)).resume();
