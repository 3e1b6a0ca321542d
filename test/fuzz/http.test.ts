import fc from 'fast-check';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { ENDPOINT_LIKE, type HttpRequest, httpRequest } from './arbitraries.ts';
import {
  budget,
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

// Issue 13, the fuzzing suite over the HTTP layer: random methods, request targets (endpoint-like
// ones included: /graphql/, /x/graphql, /health?/graphql, /graphql/stream), headers (Accept,
// Content-Type, Origin, Host, Authorization garbage, x-request-id) and bodies (malformed JSON,
// huge, batches), sent byte for byte. Besides checkAnswer's invariants: a request from a foreign
// origin to a production server never runs (no data, nothing written), a request refused with an
// HTTP error writes nothing, the server answers /health after every request, and concurrent
// requests get an answer each.

const header = (request: HttpRequest, name: string) => request.headers.find(([n]) => n === name)?.[1];

/** An Origin that is not the server's own (production allows none: CORS_ORIGINS is unset). */
function foreignOrigin(request: HttpRequest): boolean {
  const origin = header(request, 'origin');
  return origin !== undefined && origin !== `http://${header(request, 'host')}`;
}

describe('fuzz: HTTP', () => {
  let world: Awaited<ReturnType<typeof startWorld>>;
  beforeAll(async () => {
    world = await startWorld('http');
  }, 120_000);
  afterAll(() => world?.close());

  for (const mode of ['production', 'development'] as const) {
    const target = () => world.targets.find((t) => t.mode === mode) ?? fail(mode);
    const context = (t: Target) => ({
      host: t.host,
      authorizations: Object.values(t.authorization).filter((a) => a !== undefined),
      pools: t.pools,
    });

    /** The request must not have run or written when it was refused (or came from a foreign origin in production). */
    async function checkRefusal(t: Target, request: HttpRequest, answer: RawAnswer, before: string | null): Promise<string | null> {
      const blocked = t.mode === 'production' && foreignOrigin(request);
      if (blocked && hasData(answer))
        throw new Error(
          `a foreign origin's request ran (${mode}): ${answer.status} ${answer.body.slice(0, 300)}\nrequest: ${describeRequest(request)}`,
        );
      if (before === null) return null;
      const after = await worldState(t);
      if ((blocked || answer.status >= 400) && after !== before) {
        throw new Error(
          `a refused request wrote (${mode}): ${answer.status} ${answer.body.slice(0, 300)}\nrequest: ${describeRequest(request)}`,
        );
      }
      return after;
    }

    const mayWrite = (request: HttpRequest) =>
      /mutation/.test(decodeURIComponent(request.target.replace(/%(?![0-9a-f]{2})/gi, '')) + (request.body?.toString() ?? ''));

    it(
      `${mode}: any request`,
      async () => {
        const t = target();
        let state: string | null = null;
        await fc.assert(
          fc.asyncProperty(httpRequest(context(t)), async (request) => {
            const before = mayWrite(request) ? (state ?? (await worldState(t))) : null;
            const answer = await send(t.port, request);
            checkAnswer(t, request, answer);
            state = (await checkRefusal(t, request, answer, before)) ?? state;
            await checkHealthy(t);
          }),
          parameters(`http ${mode}`),
        );
        await checkCounts(t);
      },
      budget(FUZZ_RUNS, 1_500),
    );

    it(
      `${mode}: endpoint-like paths never serve GraphQL past the front door`,
      async () => {
        const t = target();
        await fc.assert(
          fc.asyncProperty(
            fc.constantFrom(...ENDPOINT_LIKE),
            fc.constantFrom('POST', 'GET'),
            fc.constantFrom(undefined, 'https://evil.example'),
            fc.constantFrom('application/json', 'text/event-stream'),
            async (path, method, origin, accept) => {
              const base = postOperation(
                { query: '{ unreadCount }', variables: undefined, operationName: undefined },
                t.host,
                t.authorization.A,
                accept,
              );
              const request: HttpRequest =
                method === 'POST'
                  ? { ...base, target: path }
                  : {
                      method,
                      target: `${path}${path.includes('?') ? '&' : '?'}query=${encodeURIComponent('{ unreadCount }')}`,
                      headers: base.headers,
                      body: undefined,
                    };
              if (origin) request.headers.push(['origin', origin]);
              const answer = await send(t.port, request);
              checkAnswer(t, request, answer);
              if (hasData(answer) || answer.status < 400) {
                throw new Error(`${method} ${path} was answered ${answer.status} ${answer.body.slice(0, 200)} (expected 404)`);
              }
            },
          ),
          parameters(`endpoint-like ${mode}`, Math.min(FUZZ_RUNS, 80)),
        );
      },
      budget(80, 500),
    );

    it(
      `${mode}: concurrent requests each get an answer`,
      async () => {
        const t = target();
        await fc.assert(
          fc.asyncProperty(fc.array(httpRequest(context(t)), { minLength: 4, maxLength: 12 }), async (requests) => {
            const answers = await Promise.all(requests.map((r) => send(t.port, r, { timeoutMs: 10_000 })));
            answers.forEach((answer, i) => {
              const request = requests[i];
              if (request) checkAnswer(t, request, answer);
            });
            await checkHealthy(t);
          }),
          parameters(`concurrent ${mode}`, Math.max(3, Math.ceil(FUZZ_RUNS / 10))),
        );
        await checkCounts(t);
      },
      budget(FUZZ_RUNS, 2_000),
    );
  }
});

function fail(what: string): never {
  throw new Error(`no ${what} server`);
}
