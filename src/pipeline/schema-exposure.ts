import { blockFieldSuggestionsPlugin } from '@escape.tech/graphql-armor-block-field-suggestions';
import { type ExecutionResult, GraphQLError, NoSchemaIntrospectionCustomRule } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';

export interface SchemaExposure {
  /** INTROSPECTION_ENABLED (default: off in production). */
  introspection: boolean;
  /** Whether errors may suggest names ("Did you mean …"): off in production. */
  suggestions: boolean;
}

const SUGGESTS = /Did you mean /;
const SUGGESTION = /\s*Did you mean [^?]+\?/g;

/**
 * What the schema tells a client who does not know it. In production, introspection (`__schema`,
 * `__type`) is a validation error and no error message suggests a field, argument, type or enum
 * value, so the schema cannot be read by guessing either. Validation errors are graphql-armor's
 * to clean; the plugin below does the same for the errors of variables' coercion, which graphql
 * reports while executing or subscribing.
 */
export function useSchemaExposure(exposure: SchemaExposure): Plugin[] {
  const plugins: Plugin[] = [];
  if (!exposure.introspection) {
    plugins.push({
      onValidate({ addValidationRule }) {
        addValidationRule(NoSchemaIntrospectionCustomRule);
      },
    });
  }
  if (!exposure.suggestions) plugins.push(blockFieldSuggestionsPlugin({ mask: '' }), useNoSuggestionsInResults());
  return plugins;
}

function useNoSuggestionsInResults(): Plugin {
  const clean = (result: ExecutionResult | AsyncIterable<ExecutionResult>, setResult: (r: ExecutionResult) => void) => {
    if (isAsyncIterable(result) || !result.errors?.some((e) => SUGGESTS.test(e.message))) return;
    setResult({ ...result, errors: result.errors.map(withoutSuggestion) });
  };
  return {
    onExecute: () => ({ onExecuteDone: ({ result, setResult }) => clean(result, setResult) }),
    onSubscribe: () => ({ onSubscribeResult: ({ result, setResult }) => clean(result, setResult) }),
  };
}

function withoutSuggestion(error: GraphQLError): GraphQLError {
  if (!SUGGESTS.test(error.message)) return error;
  return new GraphQLError(error.message.replace(SUGGESTION, ''), {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError,
    extensions: error.extensions,
  });
}
