import { type FieldNode, type FragmentDefinitionNode, getOperationAST, Kind, type SelectionSetNode, valueFromASTUntyped } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { LIMITS } from '../domain/model.ts';
import { badInput } from '../errors.ts';

/**
 * Bounds what an emit answers. `deliveries` has one entry per recipient, and each entry's
 * `notification` repeats the emit's content: 10,000 recipients selecting `body` and `data` turned
 * a request of a few kilobytes into a 101 MB response (2.1 s, +412 MB), which graphql-armor's cost
 * limit cannot see (it does not know how long a list in the input is). So before the emit runs,
 * nothing stored yet, its response is estimated from the input (recipients times the selected
 * content's length, plus a fixed allowance per entry) and refused with BAD_USER_INPUT over
 * `maxBytes`. What the README's emit selects (ids, statuses, cursors) stays far below: about
 * 190 bytes per recipient.
 */
export function useEmitResponseLimit(maxBytes: number): Plugin {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const operation = getOperationAST(args.document, args.operationName);
      if (operation?.operation !== 'mutation') return;
      const fragments = fragmentsOf(args.document.definitions);
      const variables = args.variableValues ?? undefined;
      let estimate = 0;
      for (const emit of fieldsNamed(operation.selectionSet, 'emitNotification', fragments)) {
        const perDelivery = deliveryBytes(emit, fragments, () => contentOf(emit, variables));
        if (perDelivery === 0) continue;
        estimate += recipientsOf(emit, variables) * perDelivery;
      }
      if (estimate <= maxBytes) return;
      setResultAndStopExecution({
        errors: [
          badInput(
            `This emit would answer about ${Math.round(estimate / 1_048_576)} MB (deliveries × the notification content selected), over the limit of ${maxBytes} bytes (MAX_EMIT_RESPONSE_BYTES). Select fewer fields of deliveries.notification (title, body, data), or emit to fewer recipients at a time. Nothing was stored.`,
          ),
        ],
      });
    },
  };
}

/** A delivery entry without its notification, and a notification's fields besides its content. */
const ENTRY_BYTES = 120;
const NOTIFICATION_BYTES = 320;
const CONTENT_FIELDS = ['title', 'body', 'data', 'category', 'url', 'actor'] as const;
type Content = Record<(typeof CONTENT_FIELDS)[number], number>;

/** Estimated bytes of one `deliveries` entry as selected (0 when `deliveries` is not selected). */
function deliveryBytes(emit: FieldNode, fragments: Fragments, content: () => Content): number {
  let bytes = 0;
  let sizes: Content | undefined;
  for (const deliveries of fieldsNamed(emit.selectionSet, 'deliveries', fragments)) {
    bytes += ENTRY_BYTES;
    for (const notification of fieldsNamed(deliveries.selectionSet, 'notification', fragments)) {
      bytes += NOTIFICATION_BYTES;
      for (const name of CONTENT_FIELDS) {
        const selected = fieldsNamed(notification.selectionSet, name, fragments).length;
        if (selected === 0) continue;
        sizes ??= content();
        bytes += selected * sizes[name];
      }
    }
  }
  return bytes;
}

function inputOf(emit: FieldNode, variables: Record<string, unknown> | undefined): Record<string, unknown> {
  const argument = emit.arguments?.find((a) => a.name.value === 'input');
  const value: unknown = argument ? valueFromASTUntyped(argument.value, variables) : undefined;
  return typeof value === 'object' && value !== null ? { ...value } : {};
}

function recipientsOf(emit: FieldNode, variables: Record<string, unknown> | undefined): number {
  const ids = inputOf(emit, variables).recipientIds;
  return Array.isArray(ids) ? ids.length : 1;
}

function contentOf(emit: FieldNode, variables: Record<string, unknown> | undefined): Content {
  const input = inputOf(emit, variables);
  return {
    title: lengthOf(input.title),
    body: lengthOf(input.body),
    data: lengthOf(input.data),
    category: lengthOf(input.category),
    url: lengthOf(input.url),
    actor: lengthOf(input.actor),
  };
}

function lengthOf(value: unknown): number {
  if (typeof value === 'string') return value.length;
  if (value === undefined) return 0;
  try {
    return JSON.stringify(value)?.length ?? 0;
  } catch {
    // Nested too deep to serialize: the emit refuses such data (BAD_USER_INPUT); count the most data can be.
    return LIMITS.maxDataBytes;
  }
}

type Fragments = ReadonlyMap<string, FragmentDefinitionNode>;

function fragmentsOf(definitions: readonly { kind: Kind }[]): Fragments {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of definitions) {
    if (isFragment(definition)) fragments.set(definition.name.value, definition);
  }
  return fragments;
}

function isFragment(definition: { kind: Kind }): definition is FragmentDefinitionNode {
  return definition.kind === Kind.FRAGMENT_DEFINITION;
}

/** The fields called `name` in a selection set, through fragments (each fragment once per set). */
function fieldsNamed(set: SelectionSetNode | undefined, name: string, fragments: Fragments, seen = new Set<string>()): FieldNode[] {
  const found: FieldNode[] = [];
  for (const selection of set?.selections ?? []) {
    if (selection.kind === Kind.FIELD) {
      if (selection.name.value === name) found.push(selection);
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      found.push(...fieldsNamed(selection.selectionSet, name, fragments, seen));
    } else if (!seen.has(selection.name.value)) {
      seen.add(selection.name.value);
      found.push(...fieldsNamed(fragments.get(selection.name.value)?.selectionSet, name, fragments, seen));
    }
  }
  return found;
}
