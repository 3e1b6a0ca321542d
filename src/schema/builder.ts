import SchemaBuilder from '@pothos/core';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import SimpleObjectsPlugin from '@pothos/plugin-simple-objects';
import type { AuthInfo } from '../auth/tokens.ts';
import { type Context, unauthenticated } from '../context.ts';
import { ErrorCode, heraldError } from '../errors.ts';

/** The context of a field that passed one of the auth scopes: the caller is known. */
export type AuthenticatedContext = Context & { auth: AuthInfo };

/** The schema builder: configuration only; the types live in the domain files beside it. */
export const builder = new SchemaBuilder<{
  Context: Context;
  DefaultFieldNullability: false;
  DefaultEdgesNullability: false;
  DefaultNodeNullability: false;
  Scalars: {
    // graphql-js parses every ID input to a string and Herald's ids are strings.
    ID: { Input: string; Output: string };
    DateTime: { Input: Date; Output: Date | string };
    JSON: { Input: unknown; Output: unknown };
  };
  /** Extra fields every connection's resolver returns (there is one connection: the inbox). */
  Connection: { streamCursor: string };
  AuthScopes: {
    /** A user with a bearer token. */
    user: boolean;
    /** A user with a bearer token or a stream ticket (subscriptions only). */
    streamUser: boolean;
    /** A producer: token scope `notifications:emit`. */
    emitter: boolean;
  };
  /** What `t.withAuth({ scope: true })` narrows the context to: every scope requires `ctx.auth`. */
  AuthContexts: {
    user: AuthenticatedContext;
    streamUser: AuthenticatedContext;
    emitter: AuthenticatedContext;
  };
}>({
  defaultFieldNullability: false,
  plugins: [ScopeAuthPlugin, RelayPlugin, SimpleObjectsPlugin],
  scopeAuth: {
    authorizeOnSubscribe: true,
    authScopes: (ctx) => ({
      user: ctx.auth?.via === 'bearer',
      streamUser: ctx.auth !== null,
      emitter: ctx.auth?.via === 'bearer' && ctx.auth.scopes.has('notifications:emit'),
    }),
    unauthorizedError: (_parent, ctx) => (ctx.auth ? heraldError(ErrorCode.FORBIDDEN, 'Not allowed for this token') : unauthenticated(ctx)),
  },
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    nodeQueryOptions: false,
    nodesQueryOptions: false,
  },
});

builder.queryType();
builder.mutationType();
builder.subscriptionType();
