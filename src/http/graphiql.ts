import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { NodeRequest, NodeResponse } from '../node-http.ts';
import type { Headers } from './graphql.ts';

/**
 * GraphiQL served by Herald itself: the page at the GraphQL endpoint and its scripts, styles and
 * editor workers under `assetsPath`, nothing from a CDN. Yoga's own page loads them from unpkg.com,
 * which is a blank page without internet or under a Content-Security-Policy that allows only the
 * page's origin.
 *
 * The assets are Yoga's GraphiQL build (`@graphql-yoga/graphiql`) as `@graphql-yoga/render-graphiql`
 * ships it: the same files as strings, in a package without dependencies (the former declares its
 * build's dependencies, among them graphql 17, which refuses Node 20). They are loaded on the
 * first request, so a server with GraphiQL on but unused holds none of their ~10 MB.
 *
 * Asset URLs carry a hash of the whole set (`/graphiql/assets/<hash>/graphiql.js`), so they are
 * cached for a year and a new version is a new URL; the page itself is `no-cache`. The page runs
 * no inline script (its options are a JSON data block read by `start.js`) and is sent with a CSP
 * that allows only its own origin: scripts, styles, workers and requests. Monaco adds `<style>`
 * elements at run time, hence `style-src 'unsafe-inline'`.
 */
export interface GraphiqlOptions {
  /** The GraphQL endpoint (queries, mutations, subscriptions over SSE). */
  endpoint: string;
  /** Where the assets are served, e.g. `/graphiql/assets`. */
  assetsPath: string;
  title: string;
}

export interface Graphiql {
  /** Whether the path is under the assets path (then `asset` answers it). */
  isAsset(path: string): boolean;
  /** Answers GET/HEAD of an asset: 200 (gzip when accepted), 304 for a matching If-None-Match, 404 otherwise. */
  asset(req: NodeRequest, res: NodeResponse, path: string, headers: Headers): void;
  /** Answers the page (a browser's GET of the endpoint). */
  page(req: NodeRequest, res: NodeResponse, headers: Headers): void;
}

interface Asset {
  type: string;
  body: Buffer;
  /** Of the body: the ETag's text. */
  hash: string;
  gzipped?: Promise<Buffer>;
}

interface Assets {
  /** The hash of the whole set, the URLs' version segment. */
  version: string;
  files: Map<string, Asset>;
}

const JS = 'text/javascript; charset=utf-8';
const YEAR = 'public, max-age=31536000, immutable';

/**
 * Herald's start script: points Monaco at the workers served beside it, then renders GraphiQL with
 * the options the page carries (Yoga's `renderYogaGraphiQL`, which its own page calls inline).
 */
const START = `(() => {
  const { workers, ...options } = JSON.parse(document.getElementById('graphiql-options').textContent);
  self.MonacoEnvironment = { globalAPI: false, getWorkerUrl: (_moduleId, label) => workers[label] };
  YogaGraphiQL.renderYogaGraphiQL(document.getElementById('root'), options);
})();
`;

/** Monaco's worker labels (what it passes to getWorkerUrl) and the files that serve them. */
const WORKERS = { editorWorkerService: 'editor.worker.js', json: 'json.worker.js', graphql: 'graphql.worker.js' } as const;

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "worker-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export function createGraphiql(options: GraphiqlOptions): Graphiql {
  const prefix = `${options.assetsPath}/`;
  let loading: Promise<Assets> | undefined;
  const assets = () => {
    loading ??= loadAssets();
    return loading;
  };

  const url = (version: string, name: string) => `${prefix}${version}/${name}`;

  return {
    isAsset: (path) => path.startsWith(prefix),

    asset(req, res, path, headers) {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { ...headers, allow: 'GET, HEAD' }).end();
        return;
      }
      void assets().then(
        async ({ version, files }) => {
          const [asked, name, ...rest] = path.slice(prefix.length).split('/');
          const file = asked === version && rest.length === 0 && name !== undefined ? files.get(name) : undefined;
          if (!file) {
            res.writeHead(404, { ...headers, 'content-type': 'text/plain; charset=utf-8' }).end('Not found');
            return;
          }
          const zipped = acceptsGzip(req.headers['accept-encoding']);
          // Each encoding is a representation of its own, with its own tag (a cache may hold both).
          const etag = zipped ? `"${file.hash}-gz"` : `"${file.hash}"`;
          const common = {
            ...headers,
            'cache-control': YEAR,
            etag,
            vary: 'Accept-Encoding',
            'x-content-type-options': 'nosniff',
          };
          const given = req.headers['if-none-match'];
          if (given !== undefined && given.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag)) {
            res.writeHead(304, common).end();
            return;
          }
          if (zipped) file.gzipped ??= promisify(gzip)(file.body);
          const body = zipped && file.gzipped ? await file.gzipped : file.body;
          res.writeHead(200, {
            ...common,
            'content-type': file.type,
            'content-length': body.length,
            ...(zipped ? { 'content-encoding': 'gzip' } : {}),
          });
          if (req.method === 'HEAD') res.end();
          else res.end(body);
        },
        failed(res, headers),
      );
    },

    page(_req, res, headers) {
      void assets().then(
        ({ version }) => {
          const settings = {
            title: options.title,
            endpoint: options.endpoint,
            subscriptionsProtocol: 'GRAPHQL_SSE',
            workers: Object.fromEntries(Object.entries(WORKERS).map(([label, file]) => [label, url(version, file)])),
          };
          const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(options.title)} GraphiQL</title>
<link rel="icon" href="${url(version, 'favicon.ico')}">
<link rel="stylesheet" href="${url(version, 'graphiql.css')}">
<script type="application/json" id="graphiql-options">${JSON.stringify(settings).replace(/</g, '\\u003c')}</script>
</head>
<body id="body" class="no-focus-outline">
<noscript>GraphiQL needs JavaScript.</noscript>
<div id="root"></div>
<script src="${url(version, 'graphiql.js')}"></script>
<script src="${url(version, 'start.js')}"></script>
</body>
</html>
`;
          res.writeHead(200, {
            ...headers,
            'content-type': 'text/html; charset=utf-8',
            'content-length': Buffer.byteLength(html),
            'cache-control': 'no-cache',
            'content-security-policy': CSP,
            'x-content-type-options': 'nosniff',
            'referrer-policy': 'no-referrer',
          });
          res.end(html);
        },
        failed(res, headers),
      );
    },
  };
}

async function loadAssets(): Promise<Assets> {
  const build = await import('@graphql-yoga/render-graphiql/graphiql');
  const entries: [string, string, Buffer][] = [
    ['graphiql.js', JS, Buffer.from(build.js)],
    ['graphiql.css', 'text/css; charset=utf-8', Buffer.from(build.css)],
    ['start.js', JS, Buffer.from(START)],
    [WORKERS.editorWorkerService, JS, Buffer.from(build.editorWorkerService)],
    [WORKERS.json, JS, Buffer.from(build.jsonWorker)],
    [WORKERS.graphql, JS, Buffer.from(build.graphqlWorker)],
    ['favicon.ico', 'image/x-icon', Buffer.from(build.favicon.slice(build.favicon.indexOf(',') + 1), 'base64')],
  ];
  const whole = createHash('sha256');
  const files = new Map<string, Asset>();
  for (const [name, type, body] of entries) {
    const hash = createHash('sha256').update(body).digest('base64url').slice(0, 16);
    whole.update(hash);
    files.set(name, { type, body, hash });
  }
  return { version: whole.digest('base64url').slice(0, 12), files };
}

function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  return header.split(',').some((part) => {
    const [coding, ...params] = part.trim().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return coding?.trim().toLowerCase() === 'gzip' && (q === undefined || Number(q.slice(2)) > 0);
  });
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The assets could not be loaded (the package is missing) or compressed: 500. */
function failed(res: NodeResponse, headers: Headers) {
  return () => {
    if (!res.headersSent) res.writeHead(500, { ...headers, 'content-type': 'text/plain; charset=utf-8' }).end('GraphiQL is unavailable');
    else res.destroy();
  };
}
