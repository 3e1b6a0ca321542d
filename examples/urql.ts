/**
 * urql with Herald: subscriptions over SSE through the resuming graphql-sse client (so a dropped
 * stream resumes after the last notification seen), everything else over fetch.
 *
 *   npm install @herald/client @urql/core graphql
 */

import { createHeraldClient, type HeraldClientOptions } from '@herald/client';
import { Client, fetchExchange, subscriptionExchange } from '@urql/core';
import type { Client as SseClient } from 'graphql-sse';

/** urql's subscriptionExchange forwarding subscriptions to a (resuming) graphql-sse client. */
export function sseExchange(client: SseClient<false>) {
  return subscriptionExchange({
    forwardSubscription(request) {
      const input = { ...request, query: request.query ?? '' };
      return {
        subscribe(sink) {
          return { unsubscribe: client.subscribe(input, sink) };
        },
      };
    },
  });
}

export interface UrqlOptions {
  /** Herald's GraphQL endpoint, e.g. https://herald.example.com/graphql (SSE distinct connections mode). */
  url: string;
  /** The user's bearer token, read on every request and every reconnect (so it may be refreshed). */
  token: () => string;
  /** More graphql-sse options for subscriptions (retry strategy, a url function, ...). */
  sse?: Partial<HeraldClientOptions>;
}

/** Subscriptions over SSE with resume, everything else over fetch. */
export function createUrql({ url, token, sse }: UrqlOptions): Client {
  const authorization = () => ({ authorization: `Bearer ${token()}` });
  const subscriptions = createHeraldClient({ url, headers: authorization, ...sse });
  return new Client({
    url,
    // Ask for JSON only: urql's default Accept also lists text/event-stream, and Herald answers any
    // request whose Accept lists it with an event stream, even a query.
    fetchOptions: () => ({ headers: { ...authorization(), accept: 'application/graphql-response+json, application/json' } }),
    exchanges: [sseExchange(subscriptions), fetchExchange],
  });
}
