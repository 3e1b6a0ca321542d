import fc from 'fast-check';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { anyOperation, generatedOperation, type HttpRequest, type Operation, ROOT_FIELDS } from './arbitraries.ts';
import {
  budget,
  type Caller,
  checkAnswer,
  checkCounts,
  checkHealthy,
  describeRequest,
  FUZZ_RUNS,
  hasData,
  parameters,
  postOperation,
  type RawAnswer,
  send,
  startWorld,
  type Target,
  worldState,
} from './harness.ts';

// Issue 13, "a fuzzing suite … over every query, mutation and subscription": random operations
// built from the schema (and mutated, and hostile ones), random variables, sent as any caller over
// every transport a client uses (POST JSON in both media types, POST and GET asking for an event
// stream, GET), against a production-mode and a development-mode server. Every answer keeps the
// invariants of harness.ts's checkAnswer (an answer within 5 s, no 5xx, every error coded, no other
// user's data); a refused request writes nothing (A's, B's and the sink's inboxes unchanged); the
// unread counts are exact afterwards and the servers still answer /health.

type Transport = 'post' | 'post-graphql-response' | 'post-sse' | 'get' | 'get-sse' | 'post-unacceptable';

const CALLERS: Caller[] = ['A', 'A', 'B', 'B', 'sink', 'producer', 'producer', 'stranger', 'anonymous', 'garbage'];
const transports = fc.constantFrom<Transport>('post', 'post', 'post-graphql-response', 'post-sse', 'get', 'get-sse', 'post-unacceptable');

function requestFor(target: Target, op: Operation, caller: Caller, transport: Transport): HttpRequest {
  const authorization = target.authorization[caller];
  switch (transport) {
    case 'post':
      return postOperation(op, target.host, authorization);
    case 'post-graphql-response':
      return postOperation(op, target.host, authorization, 'application/graphql-response+json');
    case 'post-sse':
      return postOperation(op, target.host, authorization, 'text/event-stream');
    case 'post-unacceptable':
      // A media type no result processor gives: answered 406, and nothing may run first.
      return postOperation(op, target.host, authorization, 'image/png');
    case 'get':
    case 'get-sse': {
      const search = new URLSearchParams({ query: op.query.length > 30_000 ? op.query.slice(0, 30_000) : op.query });
      if (op.variables !== undefined && op.variables.length < 30_000) search.set('variables', op.variables);
      if (op.operationName !== undefined) search.set('operationName', op.operationName);
      const headers: [string, string][] = [
        ['host', target.host],
        ['accept', transport === 'get' ? 'application/json' : 'text/event-stream'],
      ];
      if (authorization !== undefined) headers.push(['authorization', authorization]);
      return { method: 'GET', target: `/graphql?${search}`, headers, body: undefined };
    }
  }
}

/**
 * Refused: nothing may have been written. An HTTP error status, or errors without data from an
 * operation of one root field (mutations are all or nothing; with two, the first may have run).
 */
function refused(op: Operation, answer: RawAnswer): boolean {
  if (answer.status >= 400) return true;
  return op.rootFields === 1 && !hasData(answer);
}

describe('fuzz: operations', () => {
  let world: Awaited<ReturnType<typeof startWorld>>;
  beforeAll(async () => {
    world = await startWorld('ops');
  }, 120_000);
  afterAll(() => world?.close());

  for (const mode of ['production', 'development'] as const) {
    const target = () => world.targets.find((t) => t.mode === mode) ?? fail(mode);

    /** Sends one operation, checks the answer; a refused one must leave every inbox as it was. */
    async function trial(t: Target, state: { before: string | null }, op: Operation, caller: Caller, transport: Transport) {
      const request = requestFor(t, op, caller, transport);
      const writes = /mutation/.test(op.query);
      if (writes && state.before === null) state.before = await worldState(t);
      const answer = await send(t.port, request);
      checkAnswer(t, request, answer);
      if (!writes) return;
      const after = await worldState(t);
      if (refused(op, answer) && after !== state.before) {
        throw new Error(
          `a refused request wrote (${mode}): ${answer.status} ${answer.body.slice(0, 400)}\nrequest: ${describeRequest(request)}`,
        );
      }
      state.before = after;
    }

    it(
      `${mode}: any operation, any caller, any transport`,
      async () => {
        const t = target();
        const state = { before: null as string | null };
        await fc.assert(
          fc.asyncProperty(anyOperation(t.pools), fc.constantFrom(...CALLERS), transports, (op, caller, transport) =>
            trial(t, state, op, caller, transport),
          ),
          parameters(`operations ${mode}`),
        );
        await checkCounts(t);
        await checkHealthy(t);
      },
      budget(FUZZ_RUNS, 1_000),
    );

    it(
      `${mode}: every root field, generated from the schema`,
      async () => {
        const t = target();
        const state = { before: null as string | null };
        const runs = Math.max(3, Math.ceil(FUZZ_RUNS / 10));
        for (const [kind, fields] of Object.entries(ROOT_FIELDS) as [Operation['kind'], string[]][]) {
          for (const field of fields) {
            await fc.assert(
              fc.asyncProperty(generatedOperation(kind, t.pools, field), fc.constantFrom(...CALLERS), transports, (op, caller, transport) =>
                trial(t, state, op, caller, transport),
              ),
              parameters(`${kind} ${field} ${mode}`, runs),
            );
          }
        }
        await checkCounts(t);
        await checkHealthy(t);
      },
      budget(FUZZ_RUNS * 2, 1_000),
    );
  }
});

function fail(what: string): never {
  throw new Error(`no ${what} server`);
}
