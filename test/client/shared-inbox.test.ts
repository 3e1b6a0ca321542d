import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Emit } from '../documents.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { DEPLOYED_BACKEND } from '../helpers/backends.ts';
import { launchBrowser } from '../helpers/browser.ts';
import { until } from './harness.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));

/**
 * A page on its own origin loading @herald/client's build (and graphql-sse's ESM build) through an
 * import map, as an app's page would without a bundler. `/?token=...` starts a shared inbox store.
 */
async function servePackagePage(herald: string, build: string): Promise<{ origin: string; close: () => Promise<void> }> {
  const dirs: Record<string, string> = {
    '/pkg/': `${build}/`,
    '/graphql-sse/': join(root, 'node_modules/graphql-sse/lib/'),
  };
  const page = `<!doctype html><title>tab</title>
<script type="importmap">{ "imports": { "@herald/client": "/pkg/index.js", "graphql-sse": "/graphql-sse/client.mjs" } }</script>
<script type="module">
import { createSharedInboxStore } from '@herald/client';
const token = new URLSearchParams(location.search).get('token');
const store = createSharedInboxStore({ url: ${JSON.stringify(`${herald}/graphql`)}, headers: () => ({ authorization: 'Bearer ' + token }) });
window.inbox = store;
window.seen = [];
store.subscribe((s) => window.seen.push(s.items.map((n) => n.id)));
store.start();
</script>`;
  const server: Server = createServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/') return void res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
    const [prefix, dir] = Object.entries(dirs).find(([p]) => path.startsWith(p)) ?? ['', ''];
    const file = normalize(join(dir, path.slice(prefix.length)));
    if (!prefix || !file.startsWith(dir)) return void res.writeHead(404).end();
    try {
      const body = await readFile(file);
      const type = ['.js', '.mjs'].includes(extname(file)) ? 'text/javascript' : 'application/octet-stream';
      res.writeHead(200, { 'content-type': type }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { origin, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

interface TabState {
  leader: boolean;
  status: string;
  ids: string[];
  titles: string[];
  unreadCount: number;
}

const tabState = (page: Page): Promise<TabState> =>
  page.evaluate(() => {
    const store = (
      window as unknown as {
        inbox: { leader: boolean; getState(): { status: string; items: { id: string; title: string }[]; unreadCount: number } };
      }
    ).inbox;
    const s = store.getState();
    return {
      leader: store.leader,
      status: s.status,
      ids: s.items.map((n) => n.id),
      titles: s.items.map((n) => n.title),
      unreadCount: s.unreadCount,
    };
  });

describe('createSharedInboxStore in chromium: four tabs, one stream', () => {
  let t: TestApp;
  let browser: Browser;
  let context: BrowserContext;
  let site: { origin: string; close: () => Promise<void> };
  let build: string;

  beforeAll(async () => {
    // The page loads the package's build, made from the source under test into a folder of its own
    // (the packaging test builds packages/client/dist meanwhile).
    build = await mkdtemp(join(tmpdir(), 'herald-client-build-'));
    const tsc = join(root, 'node_modules/typescript/bin/tsc');
    await promisify(execFile)(process.execPath, [tsc, '-p', join(root, 'packages/client/tsconfig.build.json'), '--outDir', build], {
      cwd: root,
    });
    t = await startTestApp(DEPLOYED_BACKEND, { CORS_ORIGINS: '*' });
    const herald = await t.listen();
    site = await servePackagePage(herald, build);
    browser = await launchBrowser();
    context = await browser.newContext();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await site?.close();
    if (build) await rm(build, { recursive: true, force: true });
  });

  it('one tab holds the stream and shares it; when it closes another takes over with nothing lost or repeated', async () => {
    const user = 'shared-tabs-user';
    const token = await t.token(user);
    const producer = await t.producerToken();
    const emit = (title: string) => t.execute(Emit, { input: { recipientIds: [user], title, body: 'b', type: 'UPDATE' } }, producer);
    const streams = () => t.app.sse.stats().sseStreams;

    const tabs: Page[] = [];
    for (let i = 0; i < 4; i++) {
      const page = await context.newPage();
      await page.goto(`${site.origin}/?token=${encodeURIComponent(token)}`);
      tabs.push(page);
    }
    const states = () => Promise.all(tabs.map(tabState));
    const waitFor = async (check: (s: TabState[]) => boolean, what: string) => {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const last = await states();
        if (check(last)) return last;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(last)}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };

    let now = await waitFor((s) => s.every((tab) => tab.status === 'live'), 'every tab live');
    expect(now.filter((tab) => tab.leader).length).toBe(1);
    expect(streams()).toBe(1);

    await emit('one');
    // The count follows the addition as an event of its own.
    await waitFor((s) => s.every((tab) => tab.titles.join() === 'one' && tab.unreadCount === 1), "'one' in every tab");
    expect(streams()).toBe(1);

    // The leader's tab closes; 'during' is emitted before anyone has taken over.
    now = await states();
    const leaderIndex = now.findIndex((tab) => tab.leader);
    const [closing] = tabs.splice(leaderIndex, 1);
    await closing?.close();
    await emit('during');
    await waitFor((s) => s.filter((tab) => tab.leader).length === 1 && s.every((tab) => tab.status === 'live'), 'a new leader');
    await emit('two');
    now = await waitFor(
      (s) => s.every((tab) => tab.titles.join() === 'two,during,one' && tab.unreadCount === 3),
      'every emit in every remaining tab',
    );
    for (const tab of now) expect(new Set(tab.ids).size).toBe(tab.ids.length);
    await until(() => streams() === 1, 'the closed leader stream to be released');

    // No tab ever showed a notification twice along the way.
    const histories = await Promise.all(tabs.map((page) => page.evaluate(() => (window as unknown as { seen: string[][] }).seen)));
    for (const history of histories) for (const ids of history) expect(new Set(ids).size).toBe(ids.length);
  }, 90_000);
});
