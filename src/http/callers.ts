import { type Authenticator, EMIT_SCOPE } from '../auth/tokens.ts';
import type { NodeRequest } from '../node-http.ts';
import { limitDocumentTokens } from '../pipeline/limits.ts';
import type { RateLimit, Refusal } from '../ratelimit/limits.ts';

/**
 * Who sends a request, found from its headers before its body is read, and what that caller may
 * send. Producers (tokens with the emit scope) may send the API's largest requests (a
 * 10,000-recipient emit written inline); everyone else, users and callers without credentials,
 * sends documents of a few hundred tokens (Herald's own user documents use under 200; 1,000 ids
 * inline, the most a user mutation takes, are about 1,000), so their bounds are far tighter: a
 * 190 KB document of 10,000 aliases from a user is refused from its Content-Length, unread. And
 * every request of a user counts against RATE_LIMIT_USER_REQUESTS, every request without a
 * credential against RATE_LIMIT_ANONYMOUS_REQUESTS_PER_IP, before anything reads it: a refused
 * document (over a limit, invalid) costs its sender as much as an accepted one.
 */
export type Caller =
  | { kind: 'producer' }
  | { kind: 'user'; userId: string }
  /** A stream ticket in the URL and no header (verified, and used up, when its stream opens). */
  | { kind: 'ticket' }
  /** No credential, or one that was refused (the operation then answers UNAUTHENTICATED). */
  | { kind: 'anonymous' };

/** What a caller may send. */
export interface RequestBounds {
  /** Bytes of body (413 beyond), and the setting that says so. */
  maxBodyBytes: number;
  bodySetting: string;
  /** Lexical tokens of the document (GRAPHQL_PARSE_FAILED beyond). */
  maxTokens: number;
}

export interface CallerOptions {
  authenticator: Pick<Authenticator, 'verifyBearer'>;
  /** MAX_REQUEST_BODY_BYTES and MAX_DOCUMENT_TOKENS. */
  producer: RequestBounds;
  /** USER_MAX_REQUEST_BODY_BYTES and USER_MAX_DOCUMENT_TOKENS. */
  others: RequestBounds;
  /** RATE_LIMIT_USER_REQUESTS, per user id. */
  userRequests: RateLimit;
  /** RATE_LIMIT_ANONYMOUS_REQUESTS_PER_IP, per client address. */
  anonymousRequests: RateLimit;
}

export type Admission = { refused: Refusal } | { refused: null; bounds: RequestBounds };

export function createCallers(options: CallerOptions) {
  const { producer, others } = options;

  async function identify(req: NodeRequest, query: string): Promise<Caller> {
    const authorization = req.headers.authorization;
    if (authorization === undefined) return new URLSearchParams(query).has('ticket') ? { kind: 'ticket' } : { kind: 'anonymous' };
    const token = /^Bearer\s+(\S+)$/i.exec(authorization)?.[1];
    if (token === undefined) return { kind: 'anonymous' };
    try {
      // Verified tokens are cached by the authenticator: the context's verification is a lookup.
      const auth = await options.authenticator.verifyBearer(token);
      return auth.scopes.has(EMIT_SCOPE) ? { kind: 'producer' } : { kind: 'user', userId: auth.userId };
    } catch {
      return { kind: 'anonymous' };
    }
  }

  return {
    /**
     * Identifies the caller of a GraphQL request (`query`: its URL's query string), counts the
     * request against the caller's rate limit, and says what the caller may send; the document's
     * token bound reaches the parser through `limitDocumentTokens`.
     */
    async admit(req: NodeRequest, query: string, address: string): Promise<Admission> {
      const caller = await identify(req, query);
      const refused = await (caller.kind === 'user'
        ? options.userRequests.consume(caller.userId)
        : caller.kind === 'anonymous'
          ? options.anonymousRequests.consume(address)
          : null
      )?.catch(() => null); // never expected (the limits fall back to memory when Redis fails): serve
      if (refused) return { refused };
      const bounds = caller.kind === 'producer' ? producer : others;
      limitDocumentTokens(req, bounds.maxTokens);
      return { refused: null, bounds };
    },
  };
}

export type Callers = ReturnType<typeof createCallers>;
