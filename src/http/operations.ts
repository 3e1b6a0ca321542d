import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ExecutionResult, GraphQLError } from 'graphql';
import { processRegularResult, type YogaServerInstance } from 'graphql-yoga';
import { type Context, type Credentials, releaseContext } from '../context.ts';
import type { PlanCache } from './plans.ts';
import { credentialsOf, maskResult, parseParams, readBody, splitUrl, withBody } from './request.ts';

/**
 * Queries and mutations POSTed as JSON, served without Yoga's per-request pipeline.
 *
 * Why: every emit is one of these requests, and through Yoga each one built a WHATWG Request,
 * Headers, an AbortController (whose abort on completion creates a DOMException), a body stream
 * pipeline and a Response, and ran the plugin chain. Profiled at 1,000 emits/s with 10,000 open
 * streams (bench/), that machinery and the garbage it left took about a third of the server's
 * CPU. Here the body is read with Node's own request, the document's plan comes from the shared
 * PlanCache (parsed, validated and compiled with graphql-jit once), and the result is written
 * straight to the response. The schema, the context, the error masking and the answer are
 * Yoga's: a result with errors is turned into a response by Yoga's own `processRegularResult`,
 * so status codes and bodies are the same as Yoga's (a test compares the two request by request).
 *
 * Served here: POST on the GraphQL endpoint, `Content-Type: application/json`, no `Origin`
 * (browsers' requests go through Yoga's CORS handling), an `Accept` that Yoga answers with
 * JSON, a body with one valid query or mutation. Everything else goes to Yoga unchanged.
 */
export interface OperationsEndpointOptions {
  path: string;
  plans: PlanCache;
  context: (credentials: Credentials) => Promise<Context>;
  /** The same error masking Yoga applies. */
  maskError: (error: unknown) => GraphQLError;
  /** Where requests this endpoint does not serve go (Yoga's node handler). */
  fallback: (req: IncomingMessage, res: ServerResponse) => void;
  /** Yoga's fetch API, for turning a result with errors into Yoga's response. */
  fetchAPI: YogaServerInstance<Record<string, unknown>, Context>['fetchAPI'];
}

export interface OperationsStats {
  /** Requests answered here. */
  served: number;
  /** Requests handed to Yoga after their body was read (not a single valid query or mutation). */
  handedOver: number;
}

const RESPONSE_TYPES = ['application/graphql-response+json', 'application/json'] as const;
type ResponseType = (typeof RESPONSE_TYPES)[number];

export function createOperationsEndpoint(options: OperationsEndpointOptions) {
  const { plans, fallback, fetchAPI } = options;
  const stats: OperationsStats = { served: 0, handedOver: 0 };

  async function serve(req: IncomingMessage, res: ServerResponse, type: ResponseType) {
    const body = await readBody(req);
    const params = parseParams(body);
    const plan = params ? plans.get(params.query, params.operationName) : null;
    if (!params || !plan?.compiled || plan.operation.operation === 'subscription') {
      stats.handedOver++;
      fallback(withBody(req, body), res);
      return;
    }
    stats.served++;
    const context = await options.context(credentialsOf(req, null));
    let result: ExecutionResult;
    try {
      result = (await plan.compiled.query(undefined, context, params.variables ?? null)) as ExecutionResult;
    } finally {
      releaseContext(context);
    }
    if (!result.errors?.length) {
      const text = JSON.stringify(result);
      res.writeHead(200, { 'content-type': `${type}; charset=utf-8`, 'content-length': Buffer.byteLength(text) });
      res.end(text);
      return;
    }
    await send(res, processRegularResult(maskResult(result, options.maskError), fetchAPI, type));
  }

  function handle(req: IncomingMessage, res: ServerResponse) {
    const type = req.method === 'POST' && !req.headers.origin && isJson(req) ? responseType(req.headers.accept) : null;
    if (!type || splitUrl(req.url).path !== options.path) {
      fallback(req, res);
      return;
    }
    serve(req, res, type).catch(async (error) => {
      // Not expected (resolver errors are results): answer as Yoga does for an unexpected error.
      if (res.headersSent) {
        res.destroy();
        return;
      }
      await send(res, processRegularResult({ errors: [options.maskError(error)] }, fetchAPI, type)).catch(() => res.destroy());
    });
  }

  return Object.assign(handle, { stats: () => ({ ...stats }) });
}

async function send(res: ServerResponse, response: Response) {
  const text = await response.text();
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  headers['content-length'] = String(Buffer.byteLength(text));
  res.writeHead(response.status, headers);
  res.end(text);
}

function isJson(req: IncomingMessage) {
  const type = req.headers['content-type'];
  return typeof type === 'string' && /^application\/json\s*(;|$)/i.test(type);
}

/**
 * The media type Yoga answers a single result with for this Accept header (its result-processor
 * negotiation: the last match, over the accepted types in reverse order, wins), or null when Yoga
 * would pick another processor or answer 406.
 */
export function responseType(accept: string | undefined): ResponseType | null {
  const requested: string[] = [];
  for (const entry of (accept || '*/*').replace(/\s/g, '').toLowerCase().split(',')) {
    const [mediaType, ...params] = entry.split(';');
    const charset = params.find((p) => p.includes('charset=')) ?? 'charset=utf-8';
    if (mediaType !== undefined && charset === 'charset=utf-8') requested.push(mediaType);
  }
  let chosen: ResponseType | null = null;
  for (const asked of requested.reverse()) {
    const [askedType, askedSub] = asked.split('/');
    for (const candidate of RESPONSE_TYPES) {
      const [type, sub] = candidate.split('/');
      if ((askedType === '*' || askedType === type) && (askedSub === '*' || askedSub === sub)) chosen = candidate;
    }
  }
  return chosen;
}
