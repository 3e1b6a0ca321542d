import { type DocumentNode, type GraphQLSchema, getOperationAST, type OperationDefinitionNode, parse, validate } from 'graphql';
import { type CompiledQuery, compileQuery, isCompiledQuery } from 'graphql-jit';

/** A GraphQL document that parsed and validated, with its graphql-jit plan when it compiles. */
export interface Plan {
  document: DocumentNode;
  operation: OperationDefinitionNode;
  operationName: string | undefined;
  /** Undefined when graphql-jit cannot compile the document. */
  compiled: CompiledQuery | undefined;
}

/**
 * Documents parsed, validated and compiled once, shared by Herald's own endpoints (SSE
 * subscriptions, POSTed queries and mutations). `null` is cached too: a document that does not
 * parse or validate, which the endpoints leave to Yoga to report. Oldest entries are evicted first.
 */
export class PlanCache {
  private readonly plans = new Map<string, Plan | null>();

  constructor(
    private readonly schema: GraphQLSchema,
    private readonly max = 500,
  ) {}

  get(query: string, operationName: string | undefined): Plan | null {
    const key = `${operationName ?? ''}\u0000${query}`;
    const cached = this.plans.get(key);
    if (cached !== undefined) return cached;
    const plan = this.build(query, operationName);
    if (this.plans.size >= this.max) this.plans.delete(this.plans.keys().next().value!);
    this.plans.set(key, plan);
    return plan;
  }

  private build(query: string, operationName: string | undefined): Plan | null {
    let document: DocumentNode;
    try {
      document = parse(query);
    } catch {
      return null;
    }
    const operation = getOperationAST(document, operationName);
    if (!operation || validate(this.schema, document).length > 0) return null;
    let compiled: CompiledQuery | undefined;
    try {
      const c = compileQuery(this.schema, document, operationName);
      if (isCompiledQuery(c)) compiled = c;
    } catch {
      // graphql-jit cannot compile it: callers fall back to graphql-js (or Yoga).
    }
    return { document, operation, operationName, compiled };
  }
}
