/**
 * Apollo Client 4 with Herald: queries and mutations over HTTP, subscriptions over SSE through
 * the resuming graphql-sse client (so a dropped stream resumes after the last notification seen).
 *
 *   npm install @herald/client @apollo/client rxjs graphql
 */
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from '@apollo/client';
import { getMainDefinition } from '@apollo/client/utilities';
import { createHeraldClient, type HeraldClientOptions } from '@herald/client';
import { print } from 'graphql';
import type { Client } from 'graphql-sse';
import { Observable } from 'rxjs';

/** An Apollo link that runs operations through a (resuming) graphql-sse client. */
export function sseLink(client: Client<false>): ApolloLink {
  return new ApolloLink(
    (operation) =>
      new Observable<ApolloLink.Result>((observer) =>
        client.subscribe(
          {
            query: print(operation.query),
            variables: operation.variables,
            ...(operation.operationName ? { operationName: operation.operationName } : {}),
          },
          {
            next: (result) => observer.next(result as ApolloLink.Result),
            error: (error) => observer.error(error),
            complete: () => observer.complete(),
          },
        ),
      ),
  );
}

export interface ApolloOptions {
  /** Herald's GraphQL endpoint, e.g. https://herald.example.com/graphql (SSE distinct connections mode). */
  url: string;
  /** The user's bearer token, read on every request and every reconnect (so it may be refreshed). */
  token: () => string | Promise<string>;
  /** More graphql-sse options for subscriptions (retry strategy, a url function, ...). */
  sse?: Partial<HeraldClientOptions>;
}

/** Subscriptions over SSE with resume, everything else over HTTP. */
export function createApollo({ url, token, sse }: ApolloOptions): ApolloClient {
  const authorization = async () => ({ authorization: `Bearer ${await token()}` });
  const subscriptions = sseLink(createHeraldClient({ url, headers: authorization, ...sse }));
  const http = new HttpLink({
    uri: url,
    fetch: async (input, init) =>
      fetch(input, { ...init, headers: { ...(init?.headers as Record<string, string>), ...(await authorization()) } }),
  });
  return new ApolloClient({
    link: ApolloLink.split(
      ({ query }) => {
        const definition = getMainDefinition(query);
        return definition.kind === 'OperationDefinition' && definition.operation === 'subscription';
      },
      subscriptions,
      http,
    ),
    cache: new InMemoryCache(),
  });
}
