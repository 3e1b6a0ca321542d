import { getOperationAST } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { EMIT_SCOPE } from '../auth/tokens.ts';
import type { Context } from '../context.ts';
import { type RateLimit, rateLimited } from '../ratelimit/limits.ts';

export interface UserRateLimits {
  /** RATE_LIMIT_USER_QUERIES. */
  queries: RateLimit;
  /** RATE_LIMIT_USER_MUTATIONS. */
  mutations: RateLimit;
  /** RATE_LIMIT_STREAM_OPENS_PER_USER. */
  streamOpens: RateLimit;
}

/**
 * The per-user rate limits, on the envelop pipeline so that every transport counts them: POSTed
 * and GET operations on the fast path and in Yoga's handler, SSE streams in both modes, batches.
 * One point per operation of a signed-in user: queries and mutations against their own limits
 * (not producers': their emits are counted by recipients, notifications/emit.ts), every
 * subscription against the stream opens. Counted once the operation is valid, before it runs; a
 * refused one runs nothing and answers RATE_LIMITED (HTTP 429 with Retry-After, and for an event
 * stream before the stream starts: http/graphql.ts). Per-address limits are the front door's
 * (http/handler.ts), before any work.
 */
export function useUserRateLimits(limits: UserRateLimits): Plugin<Context> {
  return {
    async onExecute({ args, setResultAndStopExecution }) {
      const auth = args.contextValue.auth;
      if (!auth || auth.scopes.has(EMIT_SCOPE)) return;
      const mutation = getOperationAST(args.document, args.operationName)?.operation === 'mutation';
      const refusal = await (mutation ? limits.mutations : limits.queries).consume(auth.userId);
      if (refusal) setResultAndStopExecution({ errors: [rateLimited(refusal)] });
    },
    async onSubscribe({ args, setResultAndStopExecution }) {
      const auth = args.contextValue.auth;
      if (!auth) return;
      const refusal = await limits.streamOpens.consume(auth.userId);
      if (refusal) setResultAndStopExecution({ errors: [rateLimited(refusal)] });
    },
  };
}
