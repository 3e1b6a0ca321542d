import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy a test controls, put between a Herald instance and a backend (PostgreSQL) to break
 * the network on purpose. Modes for new connections:
 * - `pass`: forward both ways;
 * - `refuse`: nothing listens on the port (the client gets ECONNREFUSED at once);
 * - `blackhole`: accepted but never answered (the client waits for its own timeout).
 * - `freeze`: like `blackhole`, and open connections stay open but carry nothing any more (a
 *   partition: no RST, no FIN; what the client sent is acknowledged by the proxy and lost).
 * `cut('refuse' | 'blackhole')` also destroys every open connection (with RST on the client side, like
 * a crashed peer), so a client's pooled connections die in the middle of whatever they were doing.
 */
export type ProxyMode = 'pass' | 'refuse' | 'blackhole' | 'freeze';

export class FaultProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private mode: ProxyMode = 'pass';
  private trigger: { pattern: RegExp; fired: () => void } | undefined;
  port = 0;
  /** Connections accepted since start (all modes). */
  accepted = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  /** A PostgreSQL URL with host and port replaced by the proxy's. */
  static forUrl(url: string): FaultProxy {
    const u = new URL(url);
    return new FaultProxy(u.hostname, Number(u.port || 5432));
  }

  /** `url` rewritten to go through the proxy (call after start). */
  rewrite(url: string): string {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }

  async start(): Promise<number> {
    await this.listen(0);
    return this.port;
  }

  private listen(port: number): Promise<void> {
    const server = createServer((client) => this.accept(client));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port, host: '127.0.0.1', exclusive: true }, () => {
        server.off('error', reject);
        this.port = (server.address() as { port: number }).port;
        resolve();
      });
    });
  }

  private accept(client: Socket) {
    this.accepted++;
    this.sockets.add(client);
    client.on('close', () => this.sockets.delete(client));
    client.on('error', () => {});
    if (this.mode !== 'pass') return; // blackhole: hold it, never answer
    const upstream = connect(this.targetPort, this.targetHost);
    this.sockets.add(upstream);
    upstream.on('close', () => {
      this.sockets.delete(upstream);
      client.destroy();
    });
    upstream.on('error', () => {});
    let answerLost: (() => void) | undefined;
    client.on('close', () => {
      if (!answerLost) upstream.destroy();
    });
    upstream.on('data', (d: Buffer) => {
      if (answerLost) {
        // The backend answered (it did execute the request); nobody hears it.
        upstream.end();
        answerLost();
        answerLost = () => {};
        return;
      }
      if (this.mode === 'freeze') return;
      if (!client.destroyed) client.write(d);
    });
    client.on('data', (d: Buffer) => {
      if (this.mode === 'freeze') return;
      const t = this.trigger;
      if (t?.pattern.test(d.toString('latin1'))) {
        // Deliver the request to the backend, then lose the answer: the client cannot know the outcome.
        this.trigger = undefined;
        answerLost = t.fired;
        upstream.write(d);
        client.resetAndDestroy();
        return;
      }
      upstream.write(d);
    });
  }

  /**
   * Breaks the network: destroys every open connection and handles new ones according to `mode`
   * (`refuse` closes the listener: connecting fails at once; `blackhole` accepts and never answers).
   */
  async cut(mode: Exclude<ProxyMode, 'pass'> = 'refuse') {
    this.mode = mode;
    if (mode !== 'freeze') this.dropAll();
    if (mode === 'refuse' && this.server) {
      const server = this.server;
      this.server = undefined;
      await new Promise<void>((resolve) => server.close(() => resolve()));
    } else if (mode !== 'refuse' && !this.server) {
      await this.listen(this.port);
    }
  }

  /** Forwards again (re-listening on the same port when it was refusing). */
  async restore() {
    this.dropAll(); // blackholed connections: their clients see them fail now
    this.mode = 'pass';
    if (!this.server) await this.listen(this.port);
  }

  /**
   * The next client-to-backend chunk matching `pattern` is forwarded, then the client's connection
   * is reset before any answer comes back (e.g. a COMMIT that the backend executes but whose result
   * the client never sees). Resolves once the backend has answered (so the request took effect).
   */
  loseAnswerTo(pattern: RegExp): Promise<void> {
    return new Promise((resolve) => {
      this.trigger = { pattern, fired: resolve };
    });
  }

  get openConnections() {
    return this.sockets.size;
  }

  private dropAll() {
    for (const s of [...this.sockets]) {
      if (s.destroyed) continue;
      try {
        s.resetAndDestroy();
      } catch {
        s.destroy();
      }
    }
    this.sockets.clear();
  }

  async close() {
    this.trigger = undefined;
    this.dropAll();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
