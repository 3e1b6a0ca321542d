import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { Redis } from 'ioredis';
import { freePort } from './cluster.ts';

/**
 * A private redis-server child process on a free port (no persistence), so a test can count
 * channels (PUBSUB CHANNELS / NUMSUB) without other test files' subscribers in the way.
 */
export interface PrivateRedis {
  url: string;
  client: Redis;
  /** Subscribers per channel. */
  numsub(channels: string[]): Promise<Record<string, number>>;
  /** Channels with at least one subscriber matching a pattern. */
  channels(pattern: string): Promise<string[]>;
  stop(): Promise<void>;
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited:\n${output}`);
    const up = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (up) break;
    if (Date.now() > deadline) throw new Error(`redis-server not ready after 10 s:\n${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  return {
    url,
    client,
    async numsub(channels) {
      const reply = (await client.call('PUBSUB', 'NUMSUB', ...channels)) as (string | number)[];
      const out: Record<string, number> = {};
      for (let i = 0; i < reply.length; i += 2) out[String(reply[i])] = Number(reply[i + 1]);
      return out;
    },
    async channels(pattern) {
      return (await client.call('PUBSUB', 'CHANNELS', pattern)) as string[];
    },
    async stop() {
      client.disconnect();
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
