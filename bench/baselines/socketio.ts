// Peer: Socket.IO 4 server with @socket.io/redis-adapter (two ioredis clients). Stores nothing.
// Clients connect with auth {user} (or ?user=), join room "user:<id>"; POST /publish with
// {userIds, payload} emits event "n" ({id, payload}) to those rooms. GET /stats as in B0.
import http from 'node:http';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';

const PORT = Number(process.env.PORT ?? 8000);
const HOST = process.env.HOST ?? '127.0.0.1';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
let nextId = 0;

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

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  if (req.method === 'POST' && url.pathname === '/publish') {
    readJson(req).then(
      (body) => {
        io.to(body.userIds.map((u) => `user:${u}`)).emit('n', { id: ++nextId, payload: body.payload });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      },
      () => res.writeHead(400).end(),
    );
    return;
  }
  if (req.method === 'GET' && url.pathname === '/stats') {
    if (url.searchParams.get('gc') === '1' && typeof globalThis.gc === 'function') globalThis.gc();
    const m = process.memoryUsage();
    const body = { streams: io.engine.clientsCount, rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external };
    return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  }
  // socket.io handles /socket.io/ itself; everything else falls through here
  if (!url.pathname.startsWith('/socket.io/')) res.writeHead(404).end();
});

const pubClient = new Redis(REDIS_URL);
const subClient = pubClient.duplicate();
const io = new Server(server, { adapter: createAdapter(pubClient, subClient), serveClient: false });

io.on('connection', (socket) => {
  const user = socket.handshake.auth.user ?? socket.handshake.query.user;
  if (typeof user !== 'string' || user === '') return void socket.disconnect(true);
  void socket.join(`user:${user}`);
});

server.keepAliveTimeout = 60_000;
await Promise.all([pubClient.ping(), subClient.ping()]);
server.listen(PORT, HOST, 4096, () => console.log(`READY ${PORT}`));
if (process.env.BENCH_EXIT_ON_STDIN_CLOSE) process.stdin.on('close', () => process.exit(0)).resume();
