import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import {
  buildSchema,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLInterfaceType,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLOutputType,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  isUnionType,
} from 'graphql';
import type { HttpRequest } from '../helpers/raw-http.ts';

/**
 * fast-check arbitraries for the fuzzing suite (test/fuzz): GraphQL documents built from Herald's
 * published schema (schema.graphql) over every query, mutation and subscription field, valid ones
 * with random arguments and selections and mutated or hostile ones; variables with NUL, lone
 * surrogates, huge strings, deep nesting and wrong types; and raw HTTP requests (methods, request
 * targets, headers, bodies) sent byte for byte by harness.ts's client.
 */

export const SCHEMA = buildSchema(readFileSync(new URL('../../schema.graphql', import.meta.url), 'utf8'));

/** What the generators draw ids, users and secrets from (the harness's seeded inboxes). */
export interface Pools {
  /** Notification ids that exist (both users'). */
  ids: string[];
  /** User ids (the seeded users, a sink, strangers). */
  users: string[];
}

/** A GraphQL request: the document, its variables as JSON text (so they can nest deeper than JSON.stringify goes), an operation name. */
export interface Operation {
  kind: 'query' | 'mutation' | 'subscription';
  query: string;
  /** JSON text of the variables object, or undefined for none. */
  variables: string | undefined;
  operationName: string | undefined;
  /** Generated from the schema unmutated (it may still be refused: a wrong id, a missing scope, a wrong variable type). */
  generated: boolean;
  /** Root fields selected (generated operations; 0 when unknown). */
  rootFields: number;
}

// ---------------------------------------------------------------------------------------------
// Strings and values

/** A string of `n` copies of `unit` (huge values without storing a generator's shrink tree). */
const repeat = (unit: string, n: number) => unit.repeat(n);

/** Strings that have broken parsers, encoders and databases before. */
export const nastyString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    'a\u0000b',
    '\ud800',
    '\udfff',
    'x\ud83dy',
    '\ud83d\ude00',
    '\u202e',
    '\ufeff',
    '%00',
    '\\',
    '"',
    "'; DROP TABLE notifications; --",
    '{"a":1}',
    '../../etc/passwd',
    '$1',
    'null',
    'undefined',
    '0',
    '-1',
    'NaN',
    '\n\r\t',
    '<script>alert(1)</script>',
  ),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.integer({ min: 0, max: 6 }).map((k) => repeat('x', [201, 1_001, 10_001, 65_536, 100_000, 1_048_577, 2_000_000][k] ?? 1)),
);

const int: fc.Arbitrary<number> = fc.oneof(
  fc.integer({ min: -5, max: 120 }),
  fc.constantFrom(0, 1, 20, 100, 101, 1000, 1001, -1, 2 ** 31 - 1, 2 ** 31, -(2 ** 31) - 1, Number.MAX_SAFE_INTEGER),
);

/** A JSON value nested `depth` deep (arrays or objects), as JSON text: deeper than a recursive generator could go. */
export const deepJson: fc.Arbitrary<string> = fc
  .record({ depth: fc.constantFrom(10, 100, 1_000, 10_000, 100_000), array: fc.boolean() })
  .map(({ depth, array }) => (array ? `${'['.repeat(depth)}1${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`));

/** Any JSON value, sometimes with nasty strings in it. */
const anyJson: fc.Arbitrary<unknown> = fc.oneof(fc.jsonValue({ maxDepth: 3 }), nastyString, int, fc.constant(null));

/** A JS value for an input type: mostly valid for it, sometimes of a wrong type or null where required. */
function inputValue(type: GraphQLInputType, pools: Pools, depth: number): fc.Arbitrary<unknown> {
  const valid = validInput(type, pools, depth);
  return fc.oneof({ weight: 8, arbitrary: valid }, { weight: 1, arbitrary: anyJson }, { weight: 1, arbitrary: fc.constant(null) });
}

function validInput(type: GraphQLInputType, pools: Pools, depth: number): fc.Arbitrary<unknown> {
  if (isNonNullType(type)) return validInput(type.ofType, pools, depth);
  if (isListType(type)) {
    const item = inputValue(type.ofType, pools, depth + 1);
    return fc.oneof(
      { weight: 6, arbitrary: fc.array(item, { maxLength: 4 }) },
      { weight: 1, arbitrary: fc.constant([]) },
      // Past the documented list limits (1,000 ids, 10,000 recipients).
      { weight: 1, arbitrary: fc.constantFrom(1_001, 10_001).map((n) => Array.from({ length: n }, (_, i) => `bulk-${i}`)) },
    );
  }
  if (isInputObjectType(type)) {
    if (depth > 3) return fc.constant({});
    const fields = Object.values(type.getFields());
    const entries = fields.map((f) => {
      const value = inputValue(f.type, pools, depth + 1);
      return isNonNullType(f.type) ? value : fc.option(value, { nil: undefined, freq: 2 });
    });
    return fc.tuple(...entries).map((values) => {
      const out: Record<string, unknown> = {};
      values.forEach((v, i) => {
        const field = fields[i];
        if (field && v !== undefined) out[field.name] = v;
      });
      return out;
    });
  }
  if (isEnumType(type)) return fc.oneof(fc.constantFrom(...type.getValues().map((v) => v.name)), fc.constant('NOT_A_VALUE'));
  if (isScalarType(type)) {
    switch (type.name) {
      case 'ID':
        return fc.oneof(
          { weight: 4, arbitrary: fc.constantFrom(...pools.ids) },
          { weight: 3, arbitrary: fc.constantFrom(...pools.users) },
          { weight: 2, arbitrary: nastyString },
        );
      case 'String':
        return fc.oneof(
          { weight: 3, arbitrary: fc.constantFrom('timesheet.rejected', 'a', 'fuzz', 'aDE6MA', 'aDE6MQ', 'x:y/z-1') },
          { weight: 2, arbitrary: nastyString },
        );
      case 'Int':
        return int;
      case 'Boolean':
        return fc.boolean();
      case 'JSON':
        return fc.oneof(
          fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 }),
          fc.constant({ big: repeat('d', 17_000) }),
          anyJson,
        );
      default:
        return anyJson;
    }
  }
  return anyJson;
}

/** A JS value written as a GraphQL literal for `type` (enum values bare, objects with name keys). */
function literal(value: unknown, type: GraphQLInputType | undefined): string {
  const named = type ? getNamedType(type) : undefined;
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') {
    if (named && isEnumType(named) && /^[_A-Za-z][_0-9A-Za-z]*$/.test(value)) return value;
    return JSON.stringify(value);
  }
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) {
    const itemType = type && isNonNullType(type) ? type.ofType : type;
    const inner = itemType && isListType(itemType) ? itemType.ofType : undefined;
    return `[${value.map((v) => literal(v, inner)).join(', ')}]`;
  }
  if (typeof value === 'object') {
    const fields = named && isInputObjectType(named) ? named.getFields() : undefined;
    const parts = Object.entries(value)
      .filter(([k]) => /^[_A-Za-z][_0-9A-Za-z]*$/.test(k))
      .map(([k, v]) => `${k}: ${literal(v, fields?.[k]?.type)}`);
    return `{${parts.join(', ')}}`;
  }
  return 'null';
}

// ---------------------------------------------------------------------------------------------
// Documents

interface Built {
  text: string;
  /** Variable definitions ("$v0: ID!") and their values. */
  definitions: string[];
  values: Record<string, unknown>;
}

const directive = fc.oneof(
  { weight: 8, arbitrary: fc.constant('') },
  { weight: 1, arbitrary: fc.constantFrom(' @include(if: true)', ' @skip(if: false)', ' @include(if: false)', ' @skip(if: true)') },
  { weight: 1, arbitrary: fc.constantFrom(' @deprecated', ' @unknown', ' @include', ' @skip(if: "yes")') },
);

const alias = fc.oneof({ weight: 6, arbitrary: fc.constant('') }, { weight: 1, arbitrary: fc.constantFrom('a: ', 'b: ', '__x: ', 'id: ') });

/** A selection set for an output type, `depth` levels at most. */
function selection(type: GraphQLOutputType, pools: Pools, depth: number): fc.Arbitrary<Built> {
  const named: GraphQLNamedType = getNamedType(type);
  if (isLeafType(named)) return fc.constant(empty(''));
  if (isUnionType(named)) {
    return fc
      .subarray([...named.getTypes()], { minLength: 1 })
      .chain((picked) =>
        fc.tuple(...picked.map((m) => objectSelection(m, pools, depth).map((p) => ({ ...p, text: `... on ${m.name} ${p.text}` })))),
      )
      .map((parts) => join(parts, (texts) => `{ __typename ${texts.join(' ')} }`));
  }
  if (isObjectType(named) || isInterfaceType(named)) return objectSelection(named, pools, depth);
  return fc.constant(empty(''));
}

function objectSelection(type: GraphQLObjectType | GraphQLInterfaceType, pools: Pools, depth: number): fc.Arbitrary<Built> {
  const fields = objectFields(type);
  const leaves = fields.filter((f) => isLeafType(getNamedType(f.type)));
  const usable = depth >= 4 ? (leaves.length ? leaves : fields.slice(0, 1)) : fields;
  return fc
    .subarray(usable, { minLength: 1, maxLength: Math.min(6, usable.length) })
    .chain((picked) => fc.tuple(...picked.map((f) => fieldSelection(f, pools, depth + 1))))
    .map((parts) => join(parts, (texts) => `{ ${texts.join(' ')} }`));
}

function objectFields(type: GraphQLObjectType | GraphQLInterfaceType): GraphQLField<unknown, unknown>[] {
  return Object.values(type.getFields());
}

function fieldSelection(field: GraphQLField<unknown, unknown>, pools: Pools, depth: number): fc.Arbitrary<Built> {
  const args = field.args.map((arg) =>
    fc
      .record({
        // A required argument left out now and then (a validation error).
        present: isNonNullType(arg.type)
          ? fc.oneof({ weight: 19, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) })
          : fc.boolean(),
        asVariable: fc.boolean(),
        // Random, not counted: a replayed seed must give the same names.
        name: fc.integer({ min: 0, max: 999_999 }).map((n) => `v${n}`),
        value: inputValue(arg.type, pools, 0),
      })
      .map(({ present, asVariable, name, value }) => {
        if (!present) return empty('');
        if (!asVariable) return empty(`${arg.name}: ${literal(value, arg.type)}`);
        return { text: `${arg.name}: $${name}`, definitions: [`$${name}: ${String(arg.type)}`], values: { [name]: value } };
      }),
  );
  return fc.tuple(alias, directive, fc.tuple(...args), selection(field.type, pools, depth)).map(([a, d, argParts, sub]) => {
    const given = argParts.filter((p) => p.text !== '');
    const argText = given.length ? `(${given.map((p) => p.text).join(', ')})` : '';
    return join([...given, sub], () => `${a}${field.name}${argText}${d} ${sub.text}`);
  });
}

function empty(text: string): Built {
  return { text, definitions: [], values: {} };
}

function join(parts: Built[], text: (texts: string[]) => string): Built {
  return {
    text: text(parts.map((p) => p.text)),
    definitions: parts.flatMap((p) => p.definitions),
    values: Object.assign({}, ...parts.map((p) => p.values)),
  };
}

const ROOTS = { query: SCHEMA.getQueryType(), mutation: SCHEMA.getMutationType(), subscription: SCHEMA.getSubscriptionType() };

/** Every root field of the schema, by operation kind (the suite's coverage: each is drawn). */
export const ROOT_FIELDS = Object.fromEntries(
  Object.entries(ROOTS).map(([kind, type]) => [kind, type ? Object.keys(type.getFields()) : []]),
) as Record<Operation['kind'], string[]>;

/** A valid-shaped operation of `kind` on 1 to 3 of its root fields (subscriptions: one, as the spec requires). */
export function generatedOperation(kind: Operation['kind'], pools: Pools, only?: string): fc.Arbitrary<Operation> {
  const root = ROOTS[kind];
  if (!root) throw new Error(`the schema has no ${kind} type`);
  const fields = Object.values(root.getFields()).filter((f) => only === undefined || f.name === only);
  return fc
    .tuple(
      fc.subarray(fields, { minLength: 1, maxLength: Math.min(fields.length, kind === 'subscription' ? 1 : 3) }),
      fc.option(fc.constantFrom('Op', 'Fuzz', 'x'), { nil: undefined }),
      fc.boolean(),
    )
    .chain(([picked, name, useFragment]) =>
      fc.tuple(fc.tuple(...picked.map((f) => fieldSelection(f, pools, 0))), fc.constant(name), fc.constant(useFragment)),
    )
    .map(([parts, name, useFragment]) => {
      const body = join(parts, (texts) => texts.join(' '));
      const defs = body.definitions.length ? `(${body.definitions.join(', ')})` : '';
      const rootName = root.name;
      const query = useFragment
        ? `${kind} ${name ?? ''}${defs} { ...F } fragment F on ${rootName} { ${body.text} }`
        : `${kind} ${name ?? ''}${defs} { ${body.text} }`;
      return {
        kind,
        query,
        variables: body.definitions.length ? JSON.stringify(body.values) : undefined,
        operationName: name,
        generated: true,
        rootFields: parts.length,
      };
    });
}

/** Edits that make a document invalid: deletions, insertions, duplications, truncation. */
function mutate(text: string): fc.Arbitrary<string> {
  const position = fc.integer({ min: 0, max: Math.max(0, text.length) });
  const junk = fc.oneof(
    fc.constantFrom(
      '{',
      '}',
      '(',
      ')',
      '[',
      ']',
      ':',
      '$',
      '@',
      '!',
      '...',
      '"',
      '\\',
      '#',
      '\n',
      ',',
      '=',
      '|',
      '&',
      '\u0000',
      '\ud800',
      '"""',
    ),
    fc.string({ maxLength: 4 }),
  );
  const edit = fc.oneof(
    fc.tuple(position, position).map(
      ([a, b]) =>
        (s: string) =>
          s.slice(0, Math.min(a, b)) + s.slice(Math.max(a, b)),
    ),
    fc.tuple(position, junk).map(
      ([a, j]) =>
        (s: string) =>
          s.slice(0, a) + j + s.slice(a),
    ),
    fc.tuple(position, position).map(
      ([a, b]) =>
        (s: string) =>
          s + s.slice(Math.min(a, b), Math.max(a, b)),
    ),
    position.map((a) => (s: string) => s.slice(0, a)),
    fc.constantFrom('unreadCount', 'notifications', 'id', 'emitNotification').map((name) => (s: string) => s.replace(name, `${name}X`)),
  );
  return fc.array(edit, { minLength: 1, maxLength: 3 }).map((edits) => edits.reduce((s, e) => e(s), text));
}

/** Documents that are hostile by design: limits, the spec's corner cases, introspection. */
export const hostileDocument: fc.Arbitrary<Pick<Operation, 'kind' | 'query'>> = fc.oneof(
  fc.constantFrom<Pick<Operation, 'kind' | 'query'>>(
    { kind: 'query', query: '' },
    { kind: 'query', query: '   ' },
    { kind: 'query', query: '# only a comment' },
    { kind: 'query', query: '{' },
    { kind: 'query', query: '{ __typename }' },
    { kind: 'query', query: '{ __schema { types { name } } }' },
    { kind: 'query', query: '{ __type(name: "Notification") { fields { name } } }' },
    { kind: 'query', query: '{ unreadCont }' },
    { kind: 'query', query: 'query { ...F } fragment F on Query { ...F }' },
    { kind: 'query', query: '{ unreadCount } { unreadCount }' },
    { kind: 'query', query: 'query A { unreadCount } query B { unreadCount }' },
    { kind: 'query', query: 'query ($a: Int) { unreadCount }' },
    { kind: 'query', query: '{ notifications(first: 1000000) { edges { node { id } } } }' },
    { kind: 'subscription', query: 'subscription { notificationAdded { id } inboxEvents { __typename } }' },
    { kind: 'subscription', query: 'subscription { notificationAdded @include(if: false) { id } }' },
    { kind: 'subscription', query: 'subscription { notificationAdded @skip(if: true) { id } }' },
    { kind: 'subscription', query: 'subscription { ... on Subscription @include(if: false) { notificationAdded { id } } }' },
    { kind: 'subscription', query: 'subscription { ...S } fragment S on Subscription { inboxEvents @skip(if: true) { __typename } }' },
    { kind: 'subscription', query: 'subscription { __typename }' },
    { kind: 'mutation', query: 'mutation { markAllNotificationsRead { changedCount } } mutation { createStreamTicket { ticket } }' },
    { kind: 'mutation', query: 'mutation { markAllNotificationsRead @include(if: false) { changedCount } }' },
  ),
  fc
    .constantFrom(10, 100, 5_000, 20_001)
    .map((n) => ({ kind: 'query' as const, query: `{ ${Array.from({ length: n }, (_, i) => `a${i}: unreadCount`).join(' ')} }` })),
  fc
    .constantFrom(11, 100, 2_000)
    .map((n) => ({ kind: 'query' as const, query: `{ ${'notifications { edges { node { __typename '.repeat(n)}${'} } }'.repeat(n)} }` })),
  fc.constantFrom(10, 1_000, 20_000).map((n) => ({ kind: 'query' as const, query: `{ unreadCount ${'@include(if: true) '.repeat(n)}}` })),
  fc.constantFrom(1_000, 3_000_001).map((n) => ({ kind: 'query' as const, query: `{ notification(id: "${'i'.repeat(n)}") { id } }` })),
  fc.constantFrom(100, 10_000).map((n) => ({ kind: 'query' as const, query: `${'{'.repeat(n)}${'}'.repeat(n)}` })),
);

/** Any operation: generated from the schema (most), mutated, or hostile; with variables sometimes replaced by nasty ones. */
export function anyOperation(pools: Pools, kinds: Operation['kind'][] = ['query', 'mutation', 'subscription']): fc.Arbitrary<Operation> {
  const generated = fc.constantFrom(...kinds).chain((kind) => generatedOperation(kind, pools));
  const variables = fc.oneof(
    { weight: 6, arbitrary: fc.constant<'keep'>('keep') },
    { weight: 1, arbitrary: deepJson.map((t) => `{"v0":${t}}`) },
    { weight: 1, arbitrary: anyJson.map((v) => JSON.stringify(v)) },
    {
      weight: 1,
      arbitrary: fc.dictionary(fc.constantFrom('v0', 'v1', 'v2', 'after', 'input', 'ids'), anyJson).map((v) => JSON.stringify(v)),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '{"v0":"\\u0000"}',
        '{"v0":"\\ud800"}',
        `{"v0":"${'x'.repeat(3_200_000)}"}`,
        '{"__proto__":{"x":1}}',
        '[]',
        '"x"',
        'null',
      ),
    },
  );
  return fc
    .oneof(
      { weight: 6, arbitrary: generated },
      {
        weight: 2,
        arbitrary: generated.chain((op) => mutate(op.query).map((query) => ({ ...op, query, generated: false, rootFields: 0 }))),
      },
      {
        weight: 2,
        arbitrary: hostileDocument.map((d) => ({ ...d, variables: undefined, operationName: undefined, generated: false, rootFields: 0 })),
      },
    )
    .chain((op) => variables.map((v) => (v === 'keep' ? op : { ...op, variables: v, generated: false })))
    .filter((op) => kinds.includes(op.kind));
}

// ---------------------------------------------------------------------------------------------
// HTTP requests

export type { HttpRequest };

export const ENDPOINT_LIKE = [
  '/graphql/',
  '/x/graphql',
  '/health?/graphql',
  '//graphql',
  '/a/../graphql',
  '/./graphql',
  '/x/graphql/stream',
  '/graphql/stream/',
  '/graphql//',
  '/GRAPHQL',
];

export const target = (query: string) =>
  fc.constantFrom(
    ...[
      '/graphql',
      '/graphql',
      '/graphql',
      '/graphql/stream',
      ...ENDPOINT_LIKE,
      '/health',
      '/ready',
      '/metrics',
      '/stats',
      '/',
      '/nothing',
      '*',
      'http://evil.example/graphql',
      '/%',
      '/%00',
      '/graphql%00',
      '/\\graphql',
      '/graphql#x',
      `/${'p'.repeat(10_000)}`,
    ].map((t) => (t.startsWith('/graphql') && !t.includes('?') && query ? `${t}?${query}` : t)),
  );

export interface HttpContext {
  /** host:port of the server under test. */
  host: string;
  /** Authorization header values: the users', the producer's, garbage. */
  authorizations: string[];
  pools: Pools;
}

const accepts = fc.constantFrom(
  undefined,
  'application/json',
  'application/graphql-response+json',
  'text/event-stream',
  'application/json, text/event-stream',
  'multipart/mixed',
  'text/html',
  'image/png',
  '*/*',
  'application/*',
  'text/*',
  'application/json; charset=latin1',
  ',,,;;;',
  '',
);
const contentTypes = fc.constantFrom(
  undefined,
  'application/json',
  'application/json; charset=utf-8',
  'application/graphql+json',
  'application/graphql-response+json',
  'application/graphql',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/octet-stream',
  ';',
  '',
);
const requestIds = fc.oneof(
  fc.constant(undefined),
  fc.constantFrom('fuzz-1', '', 'a b', 'x'.repeat(200), '\u00e9', '../../x'),
  fc.string({ maxLength: 10 }),
);

/** Header values that Node's parser may refuse (its 400) but must never crash on; never CR or LF (that is another request). */
const headerValue = fc.string({ unit: 'binary-ascii', maxLength: 20 }).map((s) => s.replace(/[\r\n]/g, ''));

function hosts(ctx: HttpContext) {
  return fc.constantFrom(
    ctx.host,
    ctx.host,
    ctx.host,
    'evil.example',
    'a b',
    '[::1',
    'x/y',
    'x?y',
    'x#y',
    'a@b',
    '',
    '%',
    `${ctx.host}:1`,
    'localhost:99999',
    '\u00e9',
  );
}

function origins(ctx: HttpContext) {
  return fc.constantFrom(
    undefined,
    undefined,
    undefined,
    `http://${ctx.host}`,
    'https://evil.example',
    'null',
    'file://',
    'http://127.0.0.1',
    '%%%',
  );
}

/** A body: a GraphQL request (or a batch), malformed JSON, a form, nothing, or a huge one. */
function body(ctx: HttpContext): fc.Arbitrary<Buffer | undefined> {
  const operation = anyOperation(ctx.pools).map(operationJson);
  return fc.oneof(
    { weight: 6, arbitrary: operation.map((t) => Buffer.from(t)) },
    { weight: 1, arbitrary: fc.array(operation, { minLength: 0, maxLength: 3 }).map((ops) => Buffer.from(`[${ops.join(',')}]`)) },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(
          '',
          '{',
          '{"query":',
          'null',
          '1',
          '"x"',
          '[]',
          '{"query": 1}',
          '{"query": "{ unreadCount }", "extra": 1}',
          '{"query": "{ unreadCount }", "variables": "x"}',
          '{"query": "{ unreadCount }", "extensions": []}',
          'query=%7B%20unreadCount%20%7D',
          '{ unreadCount }',
          '\u0000\u0001',
        )
        .map((t) => Buffer.from(t)),
    },
    { weight: 1, arbitrary: operation.map((t) => Buffer.from(t.slice(0, Math.floor(t.length / 2)))) },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(4_194_305, 3_200_000)
        .map((n) => Buffer.from(`{"query":"{ unreadCount }","variables":{"v":"${'x'.repeat(n)}"}}`)),
    },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );
}

/** The JSON body of an operation (variables already JSON text). */
export function operationJson(op: Operation): string {
  const parts = [`"query":${JSON.stringify(op.query)}`];
  if (op.variables !== undefined) parts.push(`"variables":${op.variables}`);
  if (op.operationName !== undefined) parts.push(`"operationName":${JSON.stringify(op.operationName)}`);
  return `{${parts.join(',')}}`;
}

/** The query string of a GET operation (sometimes with `variables` that are not JSON, or a ticket). */
function searchOf(ctx: HttpContext): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant('') },
    {
      weight: 4,
      arbitrary: fc
        .tuple(
          anyOperation(ctx.pools, ['query', 'subscription']),
          fc.constantFrom(undefined, 'notjson', '{', '[1]', '1', '{"a":1}', '%7B', '\u0000'),
          fc.constantFrom(undefined, 'notjson', '{"persistedQuery":{}}', '['),
          fc.constantFrom(undefined, 'garbage', ''),
        )
        .map(([op, badVariables, badExtensions, ticket]) => {
          const s = new URLSearchParams();
          s.set('query', op.query.length > 20_000 ? op.query.slice(0, 20_000) : op.query);
          const vars = badVariables ?? op.variables;
          if (vars !== undefined && vars.length < 20_000) s.set('variables', vars);
          if (badExtensions !== undefined) s.set('extensions', badExtensions);
          if (ticket !== undefined) s.set('ticket', ticket);
          return s.toString();
        }),
    },
    { weight: 1, arbitrary: fc.constantFrom('query=%', 'query', '=', '&&&', 'query={unreadCount}&query={unreadCount}', 'variables=%7B') },
  );
}

/** Any HTTP request to the server under test. */
export function httpRequest(ctx: HttpContext): fc.Arbitrary<HttpRequest> {
  return fc
    .record({
      method: fc.constantFrom('GET', 'GET', 'POST', 'POST', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'HEAD', 'PATCH', 'get', 'FOO'),
      search: searchOf(ctx),
      host: fc.option(hosts(ctx), { nil: undefined, freq: 20 }),
      accept: accepts,
      contentType: contentTypes,
      origin: origins(ctx),
      authorization: fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom(...ctx.authorizations) },
        {
          weight: 1,
          arbitrary: fc.constantFrom(undefined, 'Bearer', 'Bearer ', 'Basic YTpi', 'Bearer a.b.c', `Bearer ${'x'.repeat(8_000)}`),
        },
        { weight: 1, arbitrary: headerValue.map((v) => `Bearer ${v}`) },
      ),
      requestId: requestIds,
      lastEventId: fc.option(fc.constantFrom('aDE6MA', 'garbage', ''), { nil: undefined, freq: 4 }),
      preflight: fc.option(fc.constantFrom('content-type', 'authorization, x-evil', ''), { nil: undefined, freq: 5 }),
      extra: fc.array(
        fc.tuple(
          fc.constantFrom('x-graphql-event-stream-token', 'cookie', 'x-forwarded-for', 'transfer-encoding-x', 'x-junk'),
          headerValue,
        ),
        {
          maxLength: 2,
        },
      ),
      body: body(ctx),
    })
    .chain((r) => target(r.search).map((t) => ({ ...r, target: t })))
    .map((r) => {
      const headers: [string, string][] = [];
      if (r.host !== undefined) headers.push(['host', r.host]);
      if (r.accept !== undefined) headers.push(['accept', r.accept]);
      if (r.contentType !== undefined) headers.push(['content-type', r.contentType]);
      if (r.origin !== undefined) headers.push(['origin', r.origin]);
      if (r.authorization !== undefined) headers.push(['authorization', r.authorization]);
      if (r.requestId !== undefined) headers.push(['x-request-id', r.requestId]);
      if (r.lastEventId !== undefined) headers.push(['last-event-id', r.lastEventId]);
      if (r.preflight !== undefined) headers.push(['access-control-request-headers', r.preflight]);
      headers.push(...r.extra);
      const sendsBody = r.method !== 'GET' && r.method !== 'HEAD' && r.method !== 'get';
      return { method: r.method, target: r.target, headers, body: sendsBody ? r.body : undefined };
    });
}
