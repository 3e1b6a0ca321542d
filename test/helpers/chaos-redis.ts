import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { freePort } from './cluster.ts';

/** True when a `redis-server` binary is on the PATH (CI installs one; the private Redis needs it). */
export const REDIS_SERVER_AVAILABLE = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;

/** Resolves true when a Redis on `port` answers PING within `timeoutMs`. */
function pings(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    const finish = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d: Buffer) => {
      answer += d.toString();
      if (answer.includes('\r\n')) finish(answer.startsWith('+PONG'));
    });
    socket.on('error', () => finish(false));
  });
}

/**
 * A private, throw-away `redis-server` child process (no persistence) that a test may kill and
 * start again on the same port, so the Herald instances using it see a real Redis restart: their
 * connections drop, reconnect attempts are refused, then succeed against an empty Redis.
 * Never the machine's shared Redis. `stop()` in afterAll; a process-exit hook kills it too.
 */
export class PrivateRedis {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private output = '';
  port = 0;

  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running() {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts Redis (on a free port the first time, then on the same port) and waits until it answers PING. */
  async start(): Promise<void> {
    if (this.running) return;
    for (let attempt = 0; ; attempt++) {
      const firstStart = this.port === 0;
      if (firstStart) this.port = await freePort();
      this.spawn();
      if (await this.waitUntilUp(10_000)) return;
      await this.kill();
      // The port was taken between freePort() and bind: pick another (only before anyone uses the URL).
      if (firstStart && attempt < 3) {
        this.port = 0;
        continue;
      }
      throw new Error(`private redis-server did not start on port ${this.port}:\n${this.output}`);
    }
  }

  /** SIGKILL: Redis vanishes at once (connections reset, nothing saved). */
  async kill(): Promise<void> {
    if (this.running) this.child!.kill('SIGKILL');
    await this.exited;
  }

  /** Kills it for good (afterAll). */
  async stop(): Promise<void> {
    await this.kill();
    this.child = undefined;
  }

  /** Everything redis-server printed (for diagnosing a failure). */
  log() {
    return this.output;
  }

  private spawn() {
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--dir', tmpdir()],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const onExit = () => child.kill('SIGKILL');
    process.once('exit', onExit);
    void this.exited.then(() => process.off('exit', onExit));
    this.child = child;
  }

  private async waitUntilUp(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running) return false;
      if (await pings(this.port)) return true;
      await new Promise((r) => setTimeout(r, 50));
    }
    return false;
  }
}
