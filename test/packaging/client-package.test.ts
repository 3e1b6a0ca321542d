import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../client/harness.ts';
import { Emit, MarkRead } from '../documents.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const npm = (args: string[], cwd: string) =>
  run('npm', [...args, '--no-audit', '--no-fund'], { cwd, env: { ...process.env, npm_config_update_notifier: 'false' } });

/**
 * What a user gets from `npm pack` of packages/client: installed into a fresh folder outside the
 * repository (offline: its one dependency and graphql-sse's peer are packed from this repository's
 * node_modules), imported by plain Node (no tsx, no loader) and type-checked against its .d.ts.
 */
describe('@herald/client from its npm pack tarball', () => {
  let dir: string;
  let t: TestApp;
  let base: string;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'herald-client-pack-'));
    await npm(['pack', '-w', '@herald/client', '--pack-destination', dir], root);
    await npm(['pack', join(root, 'node_modules/graphql-sse'), join(root, 'node_modules/graphql')], dir);
    const tarballs = (await readdir(dir)).filter((f) => f.endsWith('.tgz'));
    await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    await npm(['install', '--offline', ...tarballs.map((f) => `./${f}`)], dir);
    t = await startTestApp('embedded');
    base = await t.listen();
  }, 180_000);

  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await t?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('installs compiled ESM with type declarations and nothing of the server', async () => {
    const installed = (await readdir(join(dir, 'node_modules'), { recursive: true })).filter(
      (p) => p.split('/').length <= 2 && !p.startsWith('.'),
    );
    expect(installed.filter((p) => !p.includes('/') || p.startsWith('@')).sort()).toEqual(
      ['@herald', '@herald/client', 'graphql', 'graphql-sse'].sort(),
    );
    const manifest = JSON.parse(await readFile(join(dir, 'node_modules/@herald/client/package.json'), 'utf8'));
    expect(manifest.dependencies).toEqual({ 'graphql-sse': expect.any(String) });
    expect(existsSync(join(dir, 'node_modules/@herald/client/dist/index.js'))).toBe(true);
    expect(existsSync(join(dir, 'node_modules/@herald/client/dist/index.d.ts'))).toBe(true);
  });

  it("type-checks an app's TypeScript against the package's declarations", async () => {
    await writeFile(
      join(dir, 'app.ts'),
      `import { createInboxStore, createHeraldClient, createTicketStream, type InboxState } from '@herald/client';
const store = createInboxStore({ url: 'http://localhost:4000/graphql', headers: () => ({ authorization: 'Bearer x' }) });
const unsubscribe: () => void = store.subscribe((state: InboxState) => console.log(state.items[0]?.title, state.unreadCount));
const client = createHeraldClient({ url: 'http://localhost:4000/graphql' });
export { unsubscribe, client, createTicketStream };
`,
    );
    const tsc = join(root, 'node_modules/typescript/bin/tsc');
    const args = [
      '--noEmit',
      '--strict',
      '--module',
      'nodenext',
      '--moduleResolution',
      'nodenext',
      '--target',
      'es2022',
      '--lib',
      'es2022,dom',
    ];
    await run(process.execPath, [tsc, ...args, 'app.ts'], { cwd: dir });
    // And a wrong use is refused, so the check above is a check.
    await writeFile(join(dir, 'wrong.ts'), `import { createInboxStore } from '@herald/client';\ncreateInboxStore({ pageSize: 5 });\n`);
    await expect(run(process.execPath, [tsc, ...args, 'wrong.ts'], { cwd: dir })).rejects.toMatchObject({
      stdout: expect.stringMatching(/Property 'url' is missing/),
    });
  }, 60_000);

  it('plain Node 20 imports it and follows an inbox live: a notification arrives, a read moves the count', async () => {
    await writeFile(
      join(dir, 'follow.mjs'),
      `import { createHeraldClient, createInboxStore } from '@herald/client';
const url = process.env.HERALD_URL;
const headers = () => ({ authorization: 'Bearer ' + process.env.HERALD_TOKEN });
const out = (line) => process.stdout.write(JSON.stringify(line) + '\\n');
const store = createInboxStore({ url, headers });
store.subscribe((s) => out({ store: { status: s.status, titles: s.items.map((n) => n.title), read: s.items.map((n) => n.read), unreadCount: s.unreadCount } }));
await store.start();
const client = createHeraldClient({ url, headers });
client.subscribe(
  { query: 'subscription($after: String) { notificationAdded(after: $after) { title } }', variables: { after: store.getState().cursor } },
  { next: (r) => out({ added: r.data.notificationAdded.title }), error: (e) => out({ error: String(e) }), complete: () => {} },
  { connected: () => out({ connected: true }) },
);
`,
    );
    const user = 'pack-user';
    const token = await t.token(user);
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HERALD_URL: `${base}/graphql`, HERALD_TOKEN: token };
    const child = spawn(process.execPath, ['follow.mjs'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    const lines: Record<string, unknown>[] = [];
    let stderr = '';
    child.stderr?.on('data', (chunk) => {
      stderr += String(chunk);
    });
    if (child.stdout) createInterface({ input: child.stdout }).on('line', (line) => lines.push(JSON.parse(line)));
    type StoreLine = { status: string; titles: string[]; read: boolean[]; unreadCount: number };
    const lastStore = () => lines.filter((l) => 'store' in l).at(-1)?.store as StoreLine | undefined;
    const check = (ok: () => boolean) => () => {
      if (child.exitCode !== null) throw new Error(`the Node process exited: ${stderr}`);
      return ok();
    };

    await until(
      check(() => lastStore()?.status === 'live' && lines.some((l) => l.connected)),
      'both streams to open',
    );
    const producer = await t.producerToken();
    const emitted = await t.execute(
      Emit,
      { input: { recipientIds: [user], title: 'from the tarball', body: 'b', type: 'UPDATE' } },
      producer,
    );
    const id = emitted.data?.emitNotification.deliveries[0]?.notification?.id;
    if (!id) throw new Error(`emit failed: ${JSON.stringify(emitted)}`);
    await until(
      check(() => lines.some((l) => l.added === 'from the tarball')),
      'the notification over createHeraldClient',
    );
    await until(
      check(() => lastStore()?.titles[0] === 'from the tarball' && lastStore()?.unreadCount === 1),
      'the notification in the store',
    );
    await t.execute(MarkRead, { ids: [id] }, token);
    await until(
      check(() => lastStore()?.read[0] === true && lastStore()?.unreadCount === 0),
      'the read in the store',
    );
    expect(stderr).toBe('');
  });
});
