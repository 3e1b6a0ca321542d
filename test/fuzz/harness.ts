import type fc from 'fast-check';
import { EMIT_SCOPE, signToken } from '../../src/auth/tokens.ts';
import { TEST_SECRET } from '../helpers/app.ts';
import type { Instance } from '../helpers/cluster.ts';
import { ANSWER_BOUND_MS, type HttpRequest, type RawAnswer, refusedByNode, send } from '../helpers/raw-http.ts';
import { ProductionServers } from '../security/server.ts';
import type { Operation, Pools } from './arbitraries.ts';

export { type RawAnswer, send };

/**
 * The fuzzing suite's world: Herald server processes (one in production mode, one in development
 * mode: masking, CORS and suggestions differ), two users A and B with known notifications (their
 * titles are secrets no request ever contains), a sink user the fuzzer may emit to, a producer; a
 * raw HTTP/1.1 client that sends any bytes and bounds every answer; and the invariants.
 *
 * Environment (tests may read process.env; the service never does outside config.ts):
 * - FUZZ_RUNS: runs per property (default 60: the whole suite stays under a minute in `npm test`;
 *   `npm run fuzz` runs 5,000).
 * - FUZZ_SEED: the seed to replay (printed by every property when it starts, and by fast-check with
 *   the counterexample's path on failure); FUZZ_PATH: that path, to replay only the counterexample.
 *
 * Rate limits: the properties run as a handful of users, at most a few thousand requests each for
 * `npm run fuzz`. A refusal for a rate limit (429 RATE_LIMITED) is an answer like any other here:
 * it has a code and writes nothing, so the invariants hold whether or not limits are configured.
 */
export const FUZZ_RUNS = Number(process.env.FUZZ_RUNS ?? 60);
const FUZZ_SEED = process.env.FUZZ_SEED;
const FUZZ_PATH = process.env.FUZZ_PATH;

/** fast-check's parameters for a property, its seed printed first so that even a crash of the run can be replayed. */
export function parameters<T>(name: string, runs = FUZZ_RUNS): fc.Parameters<T> {
  const seed = FUZZ_SEED !== undefined ? Number(FUZZ_SEED) : (Date.now() ^ (Math.random() * 2 ** 31)) | 0;
  console.log(
    `fuzz ${name}: seed=${seed} runs=${runs}${FUZZ_PATH ? ` path=${FUZZ_PATH}` : ''} (replay: FUZZ_SEED=${seed} [FUZZ_PATH=...])`,
  );
  return { seed, numRuns: runs, ...(FUZZ_PATH ? { path: FUZZ_PATH } : {}), endOnFailure: true };
}

/** A vitest timeout for a property of `runs` runs, each at most `perRunMs`. */
export const budget = (runs: number, perRunMs: number) => 60_000 + runs * perRunMs;

/** An operation as a POST request (JSON), with the caller's token. */
export function postOperation(
  op: Pick<Operation, 'query' | 'variables' | 'operationName'>,
  host: string,
  authorization: string | undefined,
  accept = 'application/json',
): HttpRequest {
  const parts = [`"query":${JSON.stringify(op.query)}`];
  if (op.variables !== undefined) parts.push(`"variables":${op.variables}`);
  if (op.operationName !== undefined) parts.push(`"operationName":${JSON.stringify(op.operationName)}`);
  const headers: [string, string][] = [
    ['host', host],
    ['content-type', 'application/json'],
    ['accept', accept],
  ];
  if (authorization !== undefined) headers.push(['authorization', authorization]);
  return { method: 'POST', target: '/graphql', headers, body: Buffer.from(`{${parts.join(',')}}`) };
}

// ---------------------------------------------------------------------------------------------
// The world

export type Caller = 'A' | 'B' | 'sink' | 'producer' | 'stranger' | 'anonymous' | 'garbage';

export interface Target {
  mode: 'production' | 'development';
  instance: Instance;
  port: number;
  host: string;
  /** Authorization header per caller (undefined: none). */
  authorization: Record<Caller, string | undefined>;
  /** The seeded notifications: ids and secret titles/bodies per user. */
  seeded: Record<'A' | 'B', { ids: string[]; secrets: string[] }>;
  pools: Pools;
}

const USERS = { A: 'fuzz-user-a', B: 'fuzz-user-b', sink: 'fuzz-sink' } as const;

/** Starts the servers a fuzz file uses (each file its own: files run in parallel). */
export async function startWorld(name: string): Promise<{ targets: Target[]; close: () => Promise<void> }> {
  const servers = new ProductionServers();
  // One after the other: an embedded server's start (PGlite, migrations) is CPU-bound, and the
  // other fuzz file starts two more at the same time (each must be ready within 30 s).
  // The fuzzers send as fast as they are answered, as two users: a user's request limits would
  // refuse most of it before it reaches what is fuzzed (they have tests of their own).
  const unlimited = { RATE_LIMIT_USER_REQUESTS: 'off', RATE_LIMIT_BURST_FACTOR: '0' };
  const prod = await servers.start(`fuzz_${name}_prod`, unlimited);
  const dev = await servers.start(`fuzz_${name}_dev`, { NODE_ENV: 'development', ...unlimited });
  const targets = await Promise.all([prepare('production', prod), prepare('development', dev)]);
  return { targets, close: () => servers.close() };
}

async function prepare(mode: Target['mode'], instance: Instance): Promise<Target> {
  const bearer = async (sub: string, scope?: string) => `Bearer ${await signToken(TEST_SECRET, { sub, scope })}`;
  const authorization: Record<Caller, string | undefined> = {
    A: await bearer(USERS.A),
    B: await bearer(USERS.B),
    sink: await bearer(USERS.sink),
    producer: await bearer('fuzz-producer', EMIT_SCOPE),
    stranger: await bearer('fuzz-stranger'),
    anonymous: undefined,
    garbage: 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.garbage',
  };
  const host = `127.0.0.1:${instance.port}`;
  const seeded = { A: { ids: [] as string[], secrets: [] as string[] }, B: { ids: [] as string[], secrets: [] as string[] } };
  for (const user of ['A', 'B'] as const) {
    for (let i = 0; i < 4; i++) {
      const secret = `secret-${user}-${i}-${Math.random().toString(36).slice(2, 10)}`;
      const answer = await send(
        instance.port,
        postOperation(
          {
            query: 'mutation ($input: EmitNotificationInput!) { emitNotification(input: $input) { deliveries { notification { id } } } }',
            variables: JSON.stringify({
              input: { recipientIds: [USERS[user]], title: secret, body: `${secret}-body`, type: 'ALERT', category: 'fuzz.seed' },
            }),
            operationName: undefined,
          },
          host,
          authorization.producer,
        ),
      );
      const id = JSON.parse(answer.body)?.data?.emitNotification?.deliveries?.[0]?.notification?.id;
      if (typeof id !== 'string') throw new Error(`seeding failed: ${answer.status} ${answer.body}`);
      seeded[user].ids.push(id);
      seeded[user].secrets.push(secret);
    }
  }
  // One of each read; one of A's archived.
  await send(
    instance.port,
    postOperation(
      {
        query: `mutation { markNotificationsRead(ids: ["${seeded.A.ids[0]}"]) { changedCount } }`,
        variables: undefined,
        operationName: undefined,
      },
      host,
      authorization.A,
    ),
  );
  await send(
    instance.port,
    postOperation(
      {
        query: `mutation { archiveNotifications(ids: ["${seeded.A.ids[1]}"]) { changedCount } }`,
        variables: undefined,
        operationName: undefined,
      },
      host,
      authorization.A,
    ),
  );
  await send(
    instance.port,
    postOperation(
      {
        query: `mutation { markNotificationsRead(ids: ["${seeded.B.ids[0]}"]) { changedCount } }`,
        variables: undefined,
        operationName: undefined,
      },
      host,
      authorization.B,
    ),
  );
  return {
    mode,
    instance,
    port: instance.port,
    host,
    authorization,
    seeded,
    pools: { ids: [...seeded.A.ids, ...seeded.B.ids], users: [USERS.A, USERS.B, USERS.sink, 'fuzz-stranger', 'fuzz-producer'] },
  };
}

/** Who a request speaks for, from its Authorization header. */
export function callerOf(target: Target, request: HttpRequest): Caller {
  const given = request.headers.find(([name]) => name.toLowerCase() === 'authorization')?.[1];
  if (given === undefined) return 'anonymous';
  for (const [caller, value] of Object.entries(target.authorization)) if (value === given) return caller as Caller;
  return 'garbage';
}

// ---------------------------------------------------------------------------------------------
// Invariants

/** A short description of a request for failure messages (bodies cut). */
export function describeRequest(request: HttpRequest): string {
  const body = request.body === undefined ? '' : `\n  body (${request.body.length} bytes): ${request.body.subarray(0, 400).toString()}`;
  const target = request.target.length > 300 ? `${request.target.slice(0, 300)}…` : request.target;
  const headers = request.headers.map(([n, v]) => `\n  ${n}: ${v.length > 120 ? `${v.slice(0, 120)}…` : v}`).join('');
  return `${request.method} ${target}${headers}${body}`;
}

/** The GraphQL errors of an answer (its JSON body or its first event), or null when it has none or is not JSON. */
function resultOf(answer: RawAnswer): { data?: unknown; errors?: unknown } | null {
  const text = answer.event ?? answer.body;
  if (!text.trimStart().startsWith('{') && !text.trimStart().startsWith('[')) return null;
  try {
    const parsed: unknown = JSON.parse(text);
    const first = Array.isArray(parsed) ? parsed[0] : parsed;
    return typeof first === 'object' && first !== null ? first : null;
  } catch {
    return null;
  }
}

/** Whether GraphQL data came back (the request ran). */
export function hasData(answer: RawAnswer): boolean {
  const result = resultOf(answer);
  return result !== null && result.data !== undefined && result.data !== null;
}

/**
 * The invariants every answer keeps: an answer at all, within the bound; no 5xx; every GraphQL
 * error with an `extensions.code`; none of another user's secrets (titles, bodies: never in any
 * request) or notification ids (unless the request itself named them); the server still running.
 */
export function checkAnswer(target: Target, request: HttpRequest, answer: RawAnswer): void {
  const say = (what: string) =>
    new Error(
      `${what} (${target.mode}, ${answer.ms.toFixed(0)} ms)\nrequest: ${describeRequest(request)}\nanswer: ${answer.status} ${answer.body.slice(0, 600)}`,
    );
  if (target.instance.process.exitCode !== null || target.instance.process.signalCode !== null) throw say('the server process died');
  if (answer.timedOut) throw say(`no answer within ${ANSWER_BOUND_MS} ms`);
  if (answer.error !== undefined) {
    if (refusedByNode(request)) return;
    throw say(`the connection failed: ${answer.error}`);
  }
  if (answer.status >= 500) throw say(`HTTP ${answer.status}`);
  const result = resultOf(answer);
  // A refusal never echoes the request back (a 4 MB body answered with a 4 MB error took 9.5 s).
  if ((answer.status >= 400 || (result && !hasData(answer))) && answer.body.length > MAX_ERROR_ANSWER) {
    throw say(`an error answer of ${answer.body.length} bytes`);
  }
  if (result && Array.isArray(result.errors)) {
    for (const error of result.errors) {
      const code =
        typeof error === 'object' && error !== null && 'extensions' in error ? (error.extensions as { code?: unknown })?.code : undefined;
      if (typeof code !== 'string') throw say('an error without extensions.code');
    }
  }
  const caller = callerOf(target, request);
  const sent = request.target + (request.body?.toString() ?? '');
  for (const owner of ['A', 'B'] as const) {
    if (owner === caller) continue;
    const { ids, secrets } = target.seeded[owner];
    const text = answer.body;
    for (const secret of secrets) if (text.includes(secret)) throw say(`${caller} was shown ${owner}'s notification ${secret}`);
    for (const id of ids) if (text.includes(id) && !sent.includes(id)) throw say(`${caller} was shown ${owner}'s notification id ${id}`);
  }
}

/** The largest error answer: graphql-js reports at most 100 validation errors of a few hundred bytes. */
const MAX_ERROR_ANSWER = 100_000;

/** /health answers 200 within the bound (the process is up and serving). */
export async function checkHealthy(target: Target): Promise<void> {
  const answer = await send(target.port, { method: 'GET', target: '/health', headers: [['host', target.host]], body: undefined });
  if (answer.status !== 200)
    throw new Error(`/health answered ${answer.status} ${answer.error ?? ''} ${answer.timedOut ? 'timed out' : ''}`);
}

const PAGE = '{ id read archived }';

/**
 * A user's inbox as the API shows it: the unread count, and every notification (all pages,
 * archived or not) with its state. Two snapshots are equal when nothing of the user changed.
 */
export async function snapshot(target: Target, user: 'A' | 'B' | 'sink'): Promise<{ unreadCount: number; items: string[] }> {
  const items: string[] = [];
  let unreadCount = -1;
  for (const archived of [false, true]) {
    let after: string | null = null;
    for (let page = 0; page < 100; page++) {
      const answer = await send(
        target.port,
        postOperation(
          {
            query: `query ($after: String, $archived: Boolean) { unreadCount notifications(first: 100, after: $after, filter: { archived: $archived }) { edges { node ${PAGE} } pageInfo { hasNextPage endCursor } } }`,
            variables: JSON.stringify({ after, archived }),
            operationName: undefined,
          },
          target.host,
          target.authorization[user],
        ),
        { timeoutMs: 30_000 },
      );
      const data = JSON.parse(answer.body)?.data;
      if (!data) throw new Error(`snapshot of ${user} failed: ${answer.status} ${answer.body.slice(0, 300)}`);
      unreadCount = data.unreadCount;
      for (const { node } of data.notifications.edges) items.push(`${node.id}:${node.read ? 'r' : 'u'}:${node.archived ? 'a' : 'i'}`);
      if (!data.notifications.pageInfo.hasNextPage) break;
      after = data.notifications.pageInfo.endCursor;
    }
  }
  return { unreadCount, items: items.sort() };
}

/** The state of every user a request could write to. */
export async function worldState(target: Target): Promise<string> {
  const states = await Promise.all((['A', 'B', 'sink'] as const).map((u) => snapshot(target, u)));
  return JSON.stringify(states);
}

/** unreadCount is exact: it equals the unread, unarchived notifications the inbox lists. */
export async function checkCounts(target: Target): Promise<void> {
  for (const user of ['A', 'B', 'sink'] as const) {
    const { unreadCount, items } = await snapshot(target, user);
    const unread = items.filter((i) => i.endsWith(':u:i')).length;
    if (unreadCount !== unread)
      throw new Error(`${target.mode}: ${user}'s unreadCount is ${unreadCount}, the inbox lists ${unread} unread`);
  }
}
