import { randomUUID } from 'node:crypto';
import { get } from 'node:http';
import { gunzipSync } from 'node:zlib';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Emit } from '../documents.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { DEPLOYED_BACKEND } from '../helpers/backends.ts';
import { launchBrowser } from '../helpers/browser.ts';

// Issue 16: GraphiQL at /graphql loaded its scripts, styles and editor workers from unpkg.com: with
// no internet, or a Content-Security-Policy allowing only the page's origin, it was a blank page
// ("Loading Herald...", `YogaGraphiQL is not defined`). Herald now serves the page and its assets
// itself (/graphiql/assets/<version>/...), with a CSP that allows only its own origin, and
// subscriptions run in it over SSE with the Authorization header from GraphiQL's headers editor.
// On main the browser tests fail (every request beyond Herald's origin is aborted here, the page
// stays blank), and so do the asset tests (404: nothing is served under /graphiql/assets).

const TIMEOUT = 30_000;

describe('GraphiQL from local assets', () => {
  let t: TestApp;
  let base: string;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    t = await startTestApp(DEPLOYED_BACKEND);
    base = await t.listen();
    browser = await launchBrowser();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  /** The page's asset URLs, from the HTML Herald serves: its links and scripts, then the editor's workers (in its options). */
  async function assetUrls(): Promise<string[]> {
    const html = await (await fetch(`${base}/graphql`, { headers: { accept: 'text/html' } })).text();
    const linked = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] ?? '');
    const options: { workers: Record<string, string> } = JSON.parse(
      /<script type="application\/json"[^>]*>(.*?)<\/script>/s.exec(html)?.[1] ?? '{}',
    );
    return [...linked, ...Object.values(options.workers)].map((path) => new URL(path, base).href);
  }

  describe('over HTTP', () => {
    it('serves the page with a CSP allowing only its own origin, and no script inline', async () => {
      const response = await fetch(`${base}/graphql`, { headers: { accept: 'text/html' } });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(response.headers.get('cache-control')).toBe('no-cache');
      const csp = response.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("connect-src 'self'");
      const html = await response.text();
      expect(html).not.toMatch(/https?:\/\//);
      // Every <script> either loads a file of Herald's or is a JSON data block.
      for (const [tag] of html.matchAll(/<script[^>]*>/g)) expect(tag).toMatch(/src="\/graphiql\/assets\/|type="application\/json"/);
    });

    it('serves every asset with its content type, a year of caching and an ETag; gzip when accepted; 304 when unchanged', async () => {
      const urls = await assetUrls();
      expect(urls.map((u) => new URL(u).pathname.split('/').pop())).toEqual([
        'favicon.ico',
        'graphiql.css',
        'graphiql.js',
        'start.js',
        'editor.worker.js',
        'json.worker.js',
        'graphql.worker.js',
      ]);
      const types: Record<string, string> = {
        ico: 'image/x-icon',
        css: 'text/css; charset=utf-8',
        js: 'text/javascript; charset=utf-8',
      };
      for (const url of urls) {
        const plain = await fetch(url, { headers: { 'accept-encoding': 'identity' } });
        expect(plain.status, url).toBe(200);
        expect(plain.headers.get('content-type')).toBe(types[url.split('.').pop() ?? '']);
        expect(plain.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
        expect(plain.headers.get('x-content-type-options')).toBe('nosniff');
        expect(plain.headers.get('content-encoding')).toBeNull();
        const body = Buffer.from(await plain.arrayBuffer());
        expect(body.length).toBe(Number(plain.headers.get('content-length')));
        const etag = plain.headers.get('etag');
        expect(etag).toMatch(/^"[\w-]+"$/);

        // Node's fetch decodes gzip itself: read the raw bytes with the header of our own.
        const zipped = await rawGet(url, { 'accept-encoding': 'gzip, br' });
        expect(zipped.headers['content-encoding']).toBe('gzip');
        expect(gunzipSync(zipped.body).equals(body)).toBe(true);

        // Each encoding has its own tag, and each is answered 304 when the browser has it.
        expect(zipped.headers.etag).toMatch(/^"[\w-]+"$/);
        expect(zipped.headers.etag).not.toBe(etag);
        const again = await fetch(url, { headers: { 'accept-encoding': 'identity', 'if-none-match': etag ?? '' } });
        expect(again.status).toBe(304);
        const zippedAgain = await rawGet(url, { 'accept-encoding': 'gzip', 'if-none-match': String(zipped.headers.etag) });
        expect(zippedAgain.status).toBe(304);
      }
    });

    it('answers 404 for an unknown asset or another version, 405 for other methods', async () => {
      const [, , script] = await assetUrls();
      if (!script) throw new Error('no script on the page');
      expect((await fetch(script.replace('graphiql.js', 'nothing.js'))).status).toBe(404);
      expect((await fetch(script.replace(/assets\/[^/]+\//, 'assets/0000/'))).status).toBe(404);
      expect((await fetch(script, { method: 'POST', body: '{}' })).status).toBe(405);
    });
  });

  describe('in a browser that reaches nothing but Herald', () => {
    /** A page whose every request to another origin is aborted (and recorded). */
    async function isolatedPage(): Promise<{ page: Page; outside: string[]; problems: string[] }> {
      const context = await browser.newContext();
      contexts.push(context);
      const outside: string[] = [];
      const problems: string[] = [];
      const origin = new URL(base).origin;
      await context.route('**/*', (route) => {
        const url = route.request().url();
        if (new URL(url).origin === origin) return route.continue();
        outside.push(url);
        return route.abort();
      });
      const page = await context.newPage();
      page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
      page.on('console', (message) => {
        if (message.type() === 'error') problems.push(`console: ${message.text()}`);
      });
      return { page, outside, problems };
    }

    /** Opens GraphiQL with `query` in its editor and `token` typed into its headers editor. */
    async function openGraphiql(page: Page, query: string, token: string) {
      await page.goto(`${base}/graphql?query=${encodeURIComponent(query)}`);
      await page.getByRole('button', { name: 'Headers' }).click({ timeout: TIMEOUT });
      await page.locator('.graphiql-editor-tool .monaco-editor').last().click();
      await page.keyboard.insertText(JSON.stringify({ Authorization: `Bearer ${token}` }));
    }

    const result = (page: Page, text: string) => page.locator('.result-window', { hasText: text }).waitFor({ timeout: TIMEOUT });

    async function emitTo(user: string, title: string) {
      const r = await t.execute(Emit, { input: { recipientIds: [user], title } }, await t.producerToken());
      expect(r.data?.emitNotification.deliveredCount).toBe(1);
    }

    it(
      'loads and runs a query as the user of the token in the headers editor',
      async () => {
        const user = `gq-${randomUUID()}`;
        await emitTo(user, 'one unread');
        const { page, outside, problems } = await isolatedPage();
        await openGraphiql(page, '{ unreadCount }', await t.token(user));
        await page.getByRole('button', { name: /Execute query/ }).click();
        await result(page, '"unreadCount": 1');
        expect(outside).toEqual([]);
        expect(problems).toEqual([]);
      },
      TIMEOUT * 2,
    );

    it(
      'runs a subscription over SSE with that header and shows each notification emitted meanwhile',
      async () => {
        const user = `gq-${randomUUID()}`;
        const { page, outside, problems } = await isolatedPage();
        const token = await t.token(user);
        await openGraphiql(page, 'subscription { notificationAdded { title recipientId } }', token);
        const opened = page.waitForResponse(
          // GraphiQL (graphql-tools' url-loader) opens subscriptions as GET with Accept: text/event-stream.
          (r) => (r.request().headers().accept ?? '').includes('text/event-stream') && r.status() === 200,
          { timeout: TIMEOUT },
        );
        await page.getByRole('button', { name: /Execute query/ }).click();
        const stream = await opened;
        expect(stream.request().headers().authorization).toBe(`Bearer ${token}`);
        for (const title of ['first while listening', 'second while listening']) {
          await emitTo(user, title);
          await result(page, title);
        }
        await result(page, user);
        expect(outside).toEqual([]);
        expect(problems).toEqual([]);
      },
      TIMEOUT * 3,
    );
  });
});

/** A GET through node:http, bytes as they came (no decoding). */
function rawGet(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    get(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    }).on('error', reject);
  });
}
