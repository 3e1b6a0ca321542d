import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import { createGraphQLError, type Plugin } from 'graphql-yoga';

/**
 * Limits on a document, checked while it is parsed, before it costs anything else:
 * graphql-armor's token limit stops the lexer at the limit (a 24 MB token-dense document took
 * 12.8 s and 3 GB to parse before), and a document nested deeper than the parser's recursion can
 * go (thousands of `[` in a literal) is a parse error, not a stack overflow answered with 500.
 */
export function useDocumentLimits(maxTokens: number): Plugin[] {
  return [maxTokensPlugin({ n: maxTokens }), useNestingGuard()];
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
