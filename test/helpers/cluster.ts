import { type ChildProcess, spawn } from 'node:child_process';
import { get as httpsGet } from 'node:https';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { TEST_SECRET } from './app.ts';

/** The stream ticket key of the instances tests start (production mode requires one). */
export const TEST_TICKET_SECRET = 'test-ticket-secret-long-enough-9876543210';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A TCP port that was free a moment ago (for instances and private servers started by tests). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/** A Herald server process started by a test. */
export interface Instance {
  url: string;
  port: number;
  process: ChildProcess;
  /** Everything it logged (for diagnosing a failure). */
  output: () => string;
  /** SIGKILL: a crash. */
  kill(): Promise<void>;
  /** SIGTERM: graceful shutdown; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/**
 * Starts and stops real Herald server processes (several instances on one database and Redis).
 * Every instance a test starts is killed by `cleanup()`, which tests call in afterEach/afterAll.
 */
export class Cluster {
  private readonly instances = new Set<Instance>();

  constructor(private readonly env: Record<string, string>) {}

  /**
   * Starts an instance with extra environment variables. `options.port` reuses a port (to restart
   * an instance "in place", as a supervisor would, so its clients reconnect to the same URL).
   * `options.ca`: the instance serves TLS (TLS_CERT_FILE) with this certificate; its URL is https.
   */
  async start(extra: Record<string, string> = {}, options: { port?: number; ca?: Buffer } = {}): Promise<Instance> {
    const port = options.port ?? (await freePort());
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        NODE_ENV: 'production',
        JWT_SECRET: TEST_SECRET,
        // Production requires a ticket key of its own, shared by the instances.
        STREAM_TICKET_SECRET: TEST_TICKET_SECRET,
        LOG_LEVEL: 'warn',
        HOST: '127.0.0.1',
        PORT: String(port),
        ...this.env,
        ...extra,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    // An instance told to listen on another address (e.g. a veth's) is reached there.
    const host = extra.HOST ?? this.env.HOST ?? '127.0.0.1';
    const url = `${options.ca ? 'https' : 'http'}://${host}:${port}`;
    const instance: Instance = {
      url,
      port,
      process: child,
      output: () => output,
      async kill() {
        child.kill('SIGKILL');
        await exited;
      },
      async stop() {
        child.kill('SIGTERM');
        return exited;
      },
    };
    this.instances.add(instance);
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`instance exited during start-up:\n${output}`);
      const ok = await ready(`${url}/ready`, options.ca);
      if (ok) return instance;
      if (Date.now() > deadline) throw new Error(`instance not ready after 30 s:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async cleanup() {
    await Promise.all(
      [...this.instances].map(async (i) => {
        if (i.process.exitCode === null && i.process.signalCode === null) await i.kill();
      }),
    );
    this.instances.clear();
  }
}

/** Whether GET `url` answers 200 (over TLS trusting `ca`, which fetch cannot be told). */
function ready(url: string, ca: Buffer | undefined): Promise<boolean> {
  if (!ca) {
    return fetch(url).then(
      (r) => r.ok,
      () => false,
    );
  }
  return new Promise((resolve) => {
    httpsGet(url, { ca }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    }).on('error', () => resolve(false));
  });
}
