import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, validate } from 'graphql';
import { afterAll, describe, expect, it } from 'vitest';
import { schema } from '../../src/schema/index.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const readme = readFileSync(join(root, 'README.md'), 'utf8');

/** The fenced ```sh blocks of the README, in order. */
const shellBlocks = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');

describe('README: the GraphQL examples', () => {
  const blocks = [...readme.matchAll(/```graphql\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');

  it('are valid against the built schema, every one of them', () => {
    expect(blocks.length).toBeGreaterThan(5);
    for (const block of blocks)
      expect(
        validate(schema, parse(block)).map((e) => e.message),
        block,
      ).toEqual([]);
  });
});

describe('README: NotificationType', () => {
  const type = schema.getType('NotificationType');

  it('lists every value of the built schema with its meaning', () => {
    const values = type && 'getValues' in type ? type.getValues() : [];
    expect(values.length).toBeGreaterThan(0);
    for (const value of values) {
      expect(value.description, value.name).toBeTruthy();
      expect(readme, value.name).toMatch(new RegExp(`^\\| \`${value.name}\` \\| \\S.*\\|$`, 'm'));
    }
  });

  it("describes the enum without pointing at documents users don't have", () => {
    expect(type?.description).toBeTruthy();
    expect(type?.description).not.toMatch(/seed/i);
    const sdl = readFileSync(join(root, 'schema.graphql'), 'utf8');
    const printed = /"""\s*([^"]*?)\s*"""\s*enum NotificationType \{/.exec(sdl)?.[1];
    expect(printed).toBe(type?.description);
  });
});

describe('README: the curl SSE example, run as written', () => {
  const children: ChildProcess[] = [];
  const dataDir = mkdtempSync(join(tmpdir(), 'herald-readme-'));
  afterAll(() => {
    // Each child leads its own process group (detached), so this ends it and what it started.
    for (const child of children) if (child.pid && child.exitCode === null) process.kill(-child.pid, 'SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  const freePort = () =>
    new Promise<number>((resolve, reject) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const address = probe.address();
        probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
      });
    });

  const run = (command: string, env: NodeJS.ProcessEnv) => {
    const child = spawn('bash', ['-c', command], { cwd: root, env, detached: true });
    children.push(child);
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    return { child, exited, stdout: () => out, stderr: () => err };
  };

  it('streams an emitted notification with id: and event: next', { timeout: 120_000 }, async () => {
    const block = shellBlocks.find((b) => b.includes('curl ') && b.includes('text/event-stream'));
    expect(block, 'a ```sh block with the curl SSE command').toBeTruthy();
    expect(block).toContain('npm run -s token -- --sub alice');
    const port = await freePort();
    const { DATABASE_URL: _db, REDIS_URL: _redis, NODE_ENV: _mode, ...inherited } = process.env; // embedded, as a new user starts
    const env: NodeJS.ProcessEnv = {
      ...inherited,
      PORT: String(port),
      HOST: '127.0.0.1',
      HERALD_DATA_DIR: dataDir,
      JWT_SECRET: 'readme-test-secret-that-is-long-enough-0123',
      LOG_LEVEL: 'warn',
    };
    const server = run('exec node_modules/.bin/tsx src/server.ts', env);
    const base = `http://127.0.0.1:${port}`;
    for (let ready = false; !ready; ) {
      if (server.child.exitCode !== null) throw new Error(`server exited: ${server.stderr()}`);
      ready = await fetch(`${base}/health`).then(
        (r) => r.ok,
        () => false,
      );
      if (!ready) await new Promise((resolve) => setTimeout(resolve, 200));
    }

    // The user's command as written; only the README's port is swapped for this test's.
    const curl = run((block ?? '').replaceAll('localhost:4000', `127.0.0.1:${port}`), env);

    const producer = run('npm run -s token -- --sub billing --scope notifications:emit', env);
    await producer.exited;
    const emitted = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${producer.stdout().trim()}` },
      body: JSON.stringify({
        query:
          'mutation { emitNotification(input: { recipientIds: ["alice"], title: "Timesheet rejected", body: "b", type: ALERT }) { deliveredCount } }',
      }),
    }).then((r) => r.json());
    expect(emitted).toEqual({ data: { emitNotification: { deliveredCount: 1 } } });

    const deadline = Date.now() + 60_000;
    while (!/^event: next$/m.test(curl.stdout()) && curl.child.exitCode === null && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const out = curl.stdout();
    expect(curl.child.exitCode, `curl ended early: ${curl.stderr()}`).toBeNull();
    expect(out).toMatch(/^id: \S+$/m);
    expect(out).toMatch(/^event: next$/m);
    expect(out).toContain('"title":"Timesheet rejected"');
  });
});
