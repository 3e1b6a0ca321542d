import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signToken } from '../../src/auth/tokens.ts';
import { TEST_SECRET } from '../helpers/app.ts';
import { createScratchDatabase, DEPLOYED_BACKEND, TEST_REDIS_URL } from '../helpers/backends.ts';
import { Cluster, type Instance } from '../helpers/cluster.ts';

/**
 * Production-mode Herald processes for the security tests (NODE_ENV=production, the defaults a
 * deployment gets), on a scratch PostgreSQL database and Redis when the suite has them, embedded
 * otherwise. Each `start` gets a database of its own.
 */
export class ProductionServers {
  private readonly cluster = new Cluster({});
  private readonly cleanups: (() => Promise<void>)[] = [];

  async start(name: string, env: Record<string, string> = {}): Promise<Instance> {
    if (DEPLOYED_BACKEND === 'postgres+redis') {
      const scratch = await createScratchDatabase(`herald_${name}`);
      this.cleanups.push(scratch.drop);
      return this.cluster.start({
        DATABASE_URL: scratch.url,
        REDIS_URL: TEST_REDIS_URL ?? '',
        REDIS_PREFIX: `herald-${name}-${process.pid}`,
        AUTO_MIGRATE: 'true',
        ...env,
      });
    }
    const dir = await mkdtemp(join(tmpdir(), `herald-${name}-`));
    this.cleanups.push(() => rm(dir, { recursive: true, force: true }));
    return this.cluster.start({ HERALD_DATA_DIR: dir, ...env });
  }

  async close(): Promise<void> {
    await this.cluster.cleanup();
    for (const cleanup of this.cleanups) await cleanup();
  }
}

export interface Answer {
  status: number;
  ms: number;
  text: string;
  body: {
    data?: Record<string, unknown> | null;
    errors?: { message: string; extensions?: { code?: string; [k: string]: unknown } }[];
  } | null;
}

export const userToken = (sub: string) => signToken(TEST_SECRET, { sub });

/** POSTs a GraphQL request as JSON (or `raw` bytes) and reads the whole answer. */
export async function post(
  url: string,
  request: { query: string; variables?: unknown } | { raw: string },
  options: { token?: string; accept?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const started = performance.now();
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: options.accept ?? 'application/json',
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...options.headers,
    },
    body: 'raw' in request ? request.raw : JSON.stringify(request),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await response.text();
  return { status: response.status, ms: performance.now() - started, text, body: parseJson(text) };
}

export function parseJson(text: string): Answer['body'] {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

export const codeOf = (answer: Answer) => answer.body?.errors?.[0]?.extensions?.code;
