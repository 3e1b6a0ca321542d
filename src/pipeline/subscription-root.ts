import {
  type ASTVisitor,
  type FieldNode,
  GraphQLError,
  Kind,
  type SelectionSetNode,
  SingleFieldSubscriptionsRule,
  specifiedRules,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';

/**
 * The GraphQL spec's "single root field" rule for subscriptions, as the spec now reads (graphql-js
 * 17 checks it so): exactly one root field, not an introspection field, and no `@skip` or
 * `@include` on the root selection (on its fields or on the fragments that hold them), so that
 * which field a subscription opens never depends on variables.
 *
 * It replaces graphql-js 16's SingleFieldSubscriptionsRule, which evaluates those directives
 * with no variables while validating: `@include(if: $on)` or `@include` without `if` made it throw
 * out of validation (an error without a code), and `@include(if: false)` on the only root field
 * passed validation and then failed subscribing with a TypeError (no root field left), a 500.
 */
export function SubscriptionRootRule(context: ValidationContext): ASTVisitor {
  return {
    OperationDefinition(node) {
      if (node.operation !== 'subscription') return;
      const name = node.name ? `"${node.name.value}" ` : '';
      const fields: FieldNode[] = [];
      let conditional = false;
      const seen = new Set<string>();
      const collect = (set: SelectionSetNode) => {
        for (const selection of set.selections) {
          if (selection.directives?.some((d) => d.name.value === 'skip' || d.name.value === 'include')) conditional = true;
          if (selection.kind === Kind.FIELD) fields.push(selection);
          else if (selection.kind === Kind.INLINE_FRAGMENT) collect(selection.selectionSet);
          else if (!seen.has(selection.name.value)) {
            seen.add(selection.name.value);
            const fragment = context.getFragment(selection.name.value);
            if (fragment) collect(fragment.selectionSet);
          }
        }
      };
      collect(node.selectionSet);
      if (conditional) {
        context.reportError(
          new GraphQLError(`Subscription ${name}must not use @skip or @include directives in the top level selection.`, { nodes: node }),
        );
      }
      const keys = new Set(fields.map((f) => f.alias?.value ?? f.name.value));
      if (keys.size > 1)
        context.reportError(new GraphQLError(`Subscription ${name}must select only one top level field.`, { nodes: fields.slice(1) }));
      const introspection = fields.filter((f) => f.name.value.startsWith('__'));
      if (introspection.length) {
        context.reportError(
          new GraphQLError(`Subscription ${name}must not select an introspection top level field.`, { nodes: introspection }),
        );
      }
    },
  };
}

/** Validation with SubscriptionRootRule in place of graphql-js's SingleFieldSubscriptionsRule, on every transport. */
export function useSubscriptionRootRule(): Plugin {
  return {
    onValidate({ validateFn, setValidationFn }) {
      setValidationFn((schema, document, rules, ...rest) =>
        validateFn(
          schema,
          document,
          [...(rules ?? specifiedRules).filter((rule: ValidationRule) => rule !== SingleFieldSubscriptionsRule), SubscriptionRootRule],
          ...rest,
        ),
      );
    },
  };
}
