import { getOperationAST } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { EMIT_SCOPE } from '../auth/tokens.ts';
import type { Context } from '../context.ts';
import { type RateLimit, rateLimited } from '../ratelimit/limits.ts';

export interface UserRateLimits {
  /** RATE_LIMIT_USER_MUTATIONS. */
  mutations: RateLimit;
  /** RATE_LIMIT_STREAM_OPENS_PER_USER. */
  streamOpens: RateLimit;
}

/**
 * The per-operation user limits, on the envelop pipeline so that every transport counts them:
 * POSTed and GET operations on the fast path and in Yoga's handler, SSE streams in both modes,
 * batches. One point per operation of a signed-in user: each mutation against
 * RATE_LIMIT_USER_MUTATIONS (not producers': their emits are counted by recipients,
 * notifications/emit.ts), each subscription against the stream opens. Counted once the operation
 * is valid, before it runs; a refused one runs nothing and answers RATE_LIMITED (HTTP 429 with
 * Retry-After, and for an event stream before the stream starts: http/graphql.ts). Every request
 * of a user, valid or not, is counted before that by the front door (RATE_LIMIT_USER_REQUESTS,
 * http/callers.ts), like the per-address limits.
 */
export function useUserRateLimits(limits: UserRateLimits): Plugin<Context> {
  return {
    async onExecute({ args, setResultAndStopExecution }) {
      const auth = args.contextValue.auth;
      if (!auth || auth.scopes.has(EMIT_SCOPE)) return;
      if (getOperationAST(args.document, args.operationName)?.operation !== 'mutation') return;
      const refusal = await limits.mutations.consume(auth.userId);
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
