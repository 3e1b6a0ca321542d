import { costLimitPlugin } from '@escape.tech/graphql-armor-cost-limit';
import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesPlugin } from '@escape.tech/graphql-armor-max-directives';
import type { GraphQLError } from 'graphql';
import { createGraphQLError, type Plugin } from 'graphql-yoga';

export interface QueryLimits {
  /** MAX_QUERY_ALIASES. */
  maxAliases: number;
  /** MAX_QUERY_DEPTH. */
  maxDepth: number;
  /** MAX_QUERY_DIRECTIVES. */
  maxDirectives: number;
  /** MAX_QUERY_COST. */
  maxCost: number;
}

/**
 * graphql-armor's limits on the shape of an operation, checked when validation enters it, before
 * any other rule walks its selections and before anything runs: a refused operation costs one walk
 * of its document. graphql-armor throws a bare error; it is answered as Yoga answers any invalid
 * document (GRAPHQL_VALIDATION_FAILED, 400 under application/graphql-response+json), so clients
 * handle one code for "this document is not accepted".
 */
export function useQueryLimits(limits: QueryLimits): Plugin[] {
  const reject = [refuse];
  return [
    maxAliasesPlugin({ n: limits.maxAliases, onReject: reject }),
    maxDepthPlugin({ n: limits.maxDepth, onReject: reject }),
    maxDirectivesPlugin({ n: limits.maxDirectives, onReject: reject }),
    costLimitPlugin({ maxCost: limits.maxCost, onReject: reject }),
  ];
}

function refuse(_context: unknown, error: GraphQLError): never {
  throw createGraphQLError(error.message.replace(/^Syntax Error: /, ''), {
    extensions: { code: 'GRAPHQL_VALIDATION_FAILED', http: { status: 400, spec: true } },
  });
}
