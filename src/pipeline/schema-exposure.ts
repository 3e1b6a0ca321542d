import { blockFieldSuggestionsPlugin } from '@escape.tech/graphql-armor-block-field-suggestions';
import { NoSchemaIntrospectionCustomRule } from 'graphql';
import type { Plugin } from 'graphql-yoga';

export interface SchemaExposure {
  /** INTROSPECTION_ENABLED (default: off in production). */
  introspection: boolean;
  /** Whether errors may suggest names ("Did you mean …"): off in production. */
  suggestions: boolean;
}

/**
 * What the schema tells a client who does not know it. In production, introspection (`__schema`,
 * `__type`) is a validation error, and no validation error suggests a field, argument, type or
 * enum value (graphql-armor strips "Did you mean …"), so the schema cannot be read by guessing
 * either. Variables are coerced by graphql-jit, whose messages name no alternative
 * (test/security/production-defaults.test.ts checks one).
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
  if (!exposure.suggestions) plugins.push(blockFieldSuggestionsPlugin({ mask: '' }));
  return plugins;
}
