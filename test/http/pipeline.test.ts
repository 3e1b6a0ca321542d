import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { type DocumentNode, getOperationAST, NoSchemaIntrospectionCustomRule } from 'graphql';
import { createClient } from 'graphql-sse';
import type { Plugin } from 'graphql-yoga';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamTicket } from '../documents.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { DEPLOYED_BACKEND } from '../helpers/backends.ts';
import { operationNameOf } from '../helpers/plugins.ts';
import { SseReader } from '../helpers/sse.ts';

// Issue 12: "every Yoga plugin applies to every request". createApp's `plugins` must run on every
// transport: Herald's own endpoints (POSTed queries and mutations, SSE subscriptions by GET, POST
// or ticket) as well as the requests Yoga serves (Origin, GET, graphql-sse single-connection mode).
// A probe plugin counts, per operation name, the envelop hooks each request went through
// (onContextBuilding reads the operation from the context's `params`, as Yoga's context holds
// them). The same app also runs graphql-armor's max-depth plugin (n: 3) and a plugin adding
// graphql's NoSchemaIntrospectionCustomRule, which must refuse what they refuse on every transport.
//
// On main the rows served by Herald's own endpoints fail: the POSTed query without Origin, the
// POSTed emit, and the three SSE subscriptions run no plugin hook at all, so the depth-4 query and
// the introspection query are answered on the POST without Origin and the depth-4 subscriptions
// stream. Rows Yoga serves (POST with Origin, GET, single-connection mode) pass on main. A refusal
// is a GraphQL error result (graphql-armor throws its GraphQLError from inside validation), never a
// 500.

const ORIGIN = 'https://app.example';

type Hook = 'parse' | 'validate' | 'context' | 'execute' | 'subscribe';
const counts = new Map<string, Record<Hook, number>>();

function count(name: string | undefined, hook: Hook) {
  const key = name ?? '(anonymous)';
  const entry = counts.get(key) ?? { parse: 0, validate: 0, context: 0, execute: 0, subscribe: 0 };
  entry[hook]++;
  counts.set(key, entry);
}

const firstOperationName = (document: DocumentNode) => getOperationAST(document)?.name?.value;
const nameInSource = (query: unknown) =>
  typeof query === 'string' ? /\b(?:query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]*)/.exec(query)?.[1] : undefined;

const probe: Plugin = {
  onParse() {
    return ({ result }) => {
      if (result && typeof result === 'object' && 'kind' in result) count(firstOperationName(result as DocumentNode), 'parse');
    };
  },
  onValidate({ params }) {
    count(firstOperationName(params.documentAST), 'validate');
  },
  onContextBuilding({ context }) {
    const params = (context as { params?: { operationName?: string | null; query?: string } }).params;
    count(params?.operationName ?? nameInSource(params?.query), 'context');
  },
  onExecute({ args }) {
    count(operationNameOf(args), 'execute');
  },
  onSubscribe({ args }) {
    count(operationNameOf(args), 'subscribe');
  },
};

const noIntrospection: Plugin = {
  onValidate({ addValidationRule }) {
    addValidationRule(NoSchemaIntrospectionCustomRule);
  },
};

interface GraphQLResult {
  data?: unknown;
  errors?: { message: string; extensions?: { code?: string } }[];
}

/** What a transport got: the first result (a JSON answer, or a stream's first event), and how to let go. */
interface Outcome {
  /** The HTTP status (of the stream's response for SSE; 200 for graphql-sse's client). */
  status: number;
  result: () => Promise<GraphQLResult>;
  close: () => Promise<void>;
}

interface Env {
  t: TestApp;
  base: string;
  user: string;
  producer: string;
}

interface Transport {
  name: string;
  operation: 'query' | 'mutation' | 'subscription';
  send: (env: Env, query: string, variables?: Record<string, unknown>) => Promise<Outcome>;
}

/** A JSON answer; anything else (a 500 with an empty body, an HTML page) fails saying what came. */
async function jsonOutcome(response: Response): Promise<Outcome> {
  const text = await response.text();
  let body: GraphQLResult;
  try {
    body = JSON.parse(text) as GraphQLResult;
  } catch {
    throw new Error(`expected a GraphQL result, got HTTP ${response.status} with ${JSON.stringify(text.slice(0, 200))}`);
  }
  return { status: response.status, result: async () => body, close: async () => {} };
}

/** A JSON refusal, or a stream whose first event is the result. */
async function streamOutcome(response: Response): Promise<Outcome> {
  if (!(response.headers.get('content-type') ?? '').startsWith('text/event-stream')) return jsonOutcome(response);
  const reader = new SseReader(response);
  return { status: response.status, result: async () => (await reader.nextResult(15_000)).result, close: () => reader.close() };
}

/** Opens a distinct-connections SSE subscription by GET (token or ticket) or POST. */
function openSse(
  env: Env,
  method: 'GET' | 'POST',
  credentials: { token?: string; ticket?: string },
  query: string,
  variables?: Record<string, unknown>,
): Promise<Response> {
  const headers: Record<string, string> = { accept: 'text/event-stream' };
  if (credentials.token) headers.authorization = `Bearer ${credentials.token}`;
  const signal = AbortSignal.timeout(60_000);
  if (method === 'POST') {
    return fetch(`${env.base}/graphql`, {
      method,
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ query, variables }),
      signal,
    });
  }
  const url = new URL(`${env.base}/graphql`);
  url.searchParams.set('query', query);
  if (variables) url.searchParams.set('variables', JSON.stringify(variables));
  if (credentials.ticket) url.searchParams.set('ticket', credentials.ticket);
  return fetch(url, { headers, signal });
}

const postJson = (env: Env, headers: Record<string, string>, query: string, variables?: Record<string, unknown>) =>
  fetch(`${env.base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(15_000),
  }).then(jsonOutcome);

const transports: Transport[] = [
  { name: 'POST JSON without Origin', operation: 'query', send: (env, query, v) => postJson(env, {}, query, v) },
  { name: 'POST JSON with an allowed Origin', operation: 'query', send: (env, query, v) => postJson(env, { origin: ORIGIN }, query, v) },
  {
    name: 'GET',
    operation: 'query',
    send: async (env, query) =>
      jsonOutcome(
        await fetch(`${env.base}/graphql?query=${encodeURIComponent(query)}`, {
          headers: { accept: 'application/json' },
          signal: AbortSignal.timeout(15_000),
        }),
      ),
  },
  {
    name: 'POST mutation (emit)',
    operation: 'mutation',
    send: (env, query, v) => postJson(env, { authorization: `Bearer ${env.producer}` }, query, v),
  },
  {
    name: 'SSE GET with Authorization',
    operation: 'subscription',
    send: async (env, query, v) => streamOutcome(await openSse(env, 'GET', { token: env.user }, query, v)),
  },
  {
    name: 'SSE POST',
    operation: 'subscription',
    send: async (env, query, v) => streamOutcome(await openSse(env, 'POST', { token: env.user }, query, v)),
  },
  {
    name: 'SSE GET with a ticket',
    operation: 'subscription',
    send: async (env, query, v) => {
      const minted = await env.t.execute(StreamTicket, {}, env.user);
      const ticket = minted.data?.createStreamTicket.ticket;
      if (!ticket) throw new Error(`no ticket: ${JSON.stringify(minted.errors)}`);
      return streamOutcome(await openSse(env, 'GET', { ticket }, query, v));
    },
  },
  {
    name: 'graphql-sse single-connection mode',
    operation: 'subscription',
    send: async (env, query, variables) => {
      const client = createClient({
        singleConnection: true,
        url: `${env.base}/graphql/stream`,
        headers: { authorization: `Bearer ${env.user}` },
        retryAttempts: 0,
      });
      let resolve: (r: GraphQLResult) => void = () => {};
      const first = new Promise<GraphQLResult>((r) => {
        resolve = r;
      });
      const dispose = client.subscribe(
        { query, ...(variables ? { variables } : {}) },
        {
          next: (value) => resolve(value as GraphQLResult),
          error: (error) => resolve({ errors: [{ message: error instanceof Error ? error.message : JSON.stringify(error) }] }),
          complete: () => {},
        },
      );
      return {
        status: 200,
        result: () => first,
        close: async () => {
          dispose();
          client.dispose();
        },
      };
    },
  },
];

const rowName = (transport: Transport) => transport.name.replace(/[^A-Za-z0-9]+/g, '_');

/** A shallow operation of the transport's kind, named after the row (depth 2 at most). */
function operationFor(transport: Transport, name: string): { query: string; variables?: Record<string, unknown> } {
  switch (transport.operation) {
    case 'query':
      return { query: `query ${name} { __typename }` };
    case 'mutation':
      return {
        query: `mutation ${name}($input: EmitNotificationInput!) { emitNotification(input: $input) { deliveredCount } }`,
        variables: { input: { recipientIds: ['pipeline-user'], title: 'probe', body: 'b', type: 'UPDATE' } },
      };
    case 'subscription':
      return { query: `subscription ${name} { notificationAdded { id } }` };
  }
}

describe('every plugin applies to every transport', () => {
  let env: Env;
  beforeAll(async () => {
    const t = await startTestApp(DEPLOYED_BACKEND, {}, { plugins: [probe, maxDepthPlugin({ n: 3 }), noIntrospection] });
    env = { t, base: await t.listen(), user: await t.token('pipeline-user'), producer: await t.producerToken() };
  });
  afterAll(() => env?.t.close());

  it.each(transports)('$name: parse, validate, context and execute/subscribe hooks run', async (transport) => {
    const name = `Probe_${rowName(transport)}`;
    const { query, variables } = operationFor(transport, name);
    const outcome = await transport.send(env, query, variables);
    try {
      if (transport.operation !== 'subscription') {
        const result = await outcome.result();
        expect(result.errors).toBeUndefined();
      }
      const ran = transport.operation === 'subscription' ? 'subscribe' : 'execute';
      await expect
        .poll(
          () => {
            const c = counts.get(name);
            return {
              parse: (c?.parse ?? 0) > 0,
              validate: (c?.validate ?? 0) > 0,
              context: (c?.context ?? 0) > 0,
              [ran]: (c?.[ran] ?? 0) > 0,
            };
          },
          { timeout: 10_000 },
        )
        .toEqual({ parse: true, validate: true, context: true, [ran]: true });
    } finally {
      await outcome.close();
    }
  });

  const queryRows = transports.filter((t) => t.operation === 'query');
  const streamRows = transports.filter((t) => t.name === 'SSE GET with Authorization' || t.name === 'SSE POST');

  it.each(queryRows)('$name: max-depth refuses a depth-4 query', async (transport) => {
    const outcome = await transport.send(env, `query Deep_${rowName(transport)} { notifications { edges { node { id } } } }`);
    const result = await outcome.result();
    expect(outcome.status).toBeLessThan(500);
    expect(result.data ?? null).toBeNull();
    expect(result.errors?.[0]?.message).toMatch(/depth limit of 3 exceeded/);
  });

  it.each(streamRows)('$name: max-depth refuses a depth-4 subscription', async (transport) => {
    // inboxEvents, the inline fragment, notification, id: depth 4 (armor counts fragments).
    const outcome = await transport.send(
      env,
      `subscription Deep_${rowName(transport)} { inboxEvents { ... on NotificationAddedEvent { notification { id } } } }`,
    );
    try {
      const result = await outcome.result();
      expect(outcome.status).toBeLessThan(500);
      expect(result.data ?? null).toBeNull();
      expect(result.errors?.[0]?.message).toMatch(/depth limit of 3 exceeded/);
    } finally {
      await outcome.close();
    }
  });

  it.each(queryRows)('$name: NoSchemaIntrospectionCustomRule refuses __schema', async (transport) => {
    const outcome = await transport.send(env, `query Intro_${rowName(transport)} { __schema { queryType { name } } }`);
    const result = await outcome.result();
    expect(outcome.status).toBeLessThan(500);
    expect(result.data ?? null).toBeNull();
    expect(result.errors?.[0]?.message).toMatch(/introspection has been disabled/);
  });
});
