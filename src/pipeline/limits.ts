import { characterLimitPlugin } from '@escape.tech/graphql-armor-character-limit';
import { createGraphQLError, type Plugin } from 'graphql-yoga';

export interface DocumentLimits {
  /** MAX_DOCUMENT_TOKENS. */
  maxTokens: number;
  /** MAX_DOCUMENT_CHARACTERS. */
  maxCharacters: number;
}

/**
 * Limits on a document, checked while it is parsed, before it costs anything else: the character
 * limit is a length comparison made before the lexer starts; the token limit stops the lexer at
 * the limit (a 24 MB token-dense document took 12.8 s and 3 GB to parse before); a
 * document nested deeper than the parser's recursion can go (thousands of `[` in a literal) is a
 * parse error, not a stack overflow answered with 500. Yoga answers all three GRAPHQL_PARSE_FAILED.
 */
export function useDocumentLimits(limits: DocumentLimits): Plugin[] {
  // The character limit wraps the parser last, so it runs first: no token is read past it.
  return [useTokenLimit(limits.maxTokens), useNestingGuard(), characterLimitPlugin({ maxLength: limits.maxCharacters })];
}

/**
 * graphql-js's own token limit (`parse`'s `maxTokens`, graphql 16.7+). graphql-armor's max-tokens
 * plugin did the same through a Proxy around the lexer that made every token several times
 * dearer: a 10,000-alias document took 10 ms to refuse there and 1-2 ms here, and varied such
 * documents sent 53 a second by one client filled the server's core.
 */
function useTokenLimit(maxTokens: number): Plugin {
  return {
    onParse({ context, parseFn, setParseFn }) {
      const limit = requestOf(context);
      const tokens = (limit && tokenBounds.get(limit)) ?? maxTokens;
      setParseFn((source, options) => parseFn(source, { ...options, maxTokens: tokens }));
    },
  };
}

/** Token bounds the front door set per request (http/callers.ts), keyed by Node's request. */
const tokenBounds = new WeakMap<object, number>();

/**
 * Bounds the tokens of the document this request carries (tighter than MAX_DOCUMENT_TOKENS for
 * callers without the emit scope). The request is Node's (HTTP/1.1 or HTTP/2), which the fast path and
 * Yoga's node adapter both put in the context as `req`.
 */
export function limitDocumentTokens(req: object, maxTokens: number): void {
  tokenBounds.set(req, maxTokens);
}

function requestOf(context: object): object | undefined {
  const req: unknown = 'req' in context ? context.req : undefined;
  return typeof req === 'object' && req !== null ? req : undefined;
}

function useNestingGuard(): Plugin {
  return {
    onParse({ parseFn, setParseFn }) {
      setParseFn((source, options) => {
        try {
          return parseFn(source, options);
        } catch (error) {
          if (error instanceof RangeError) {
            throw createGraphQLError('Syntax Error: the document is nested too deeply.', {
              extensions: { code: 'GRAPHQL_PARSE_FAILED', http: { status: 400, spec: true } },
            });
          }
          throw error;
        }
      });
    },
  };
}
