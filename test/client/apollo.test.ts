import { gql } from '@apollo/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApollo } from '../../examples/apollo.ts';
import { Herald, MODES, NOTIFICATION_ADDED, type Notification, outageScenario } from './harness.ts';

const ADDED = gql(NOTIFICATION_ADDED);

describe.each(MODES)('Apollo Client over the resuming graphql-sse client (%s)', (mode) => {
  let herald: Herald;
  beforeAll(async () => {
    herald = await Herald.start(mode);
  }, 120_000);
  afterAll(async () => {
    await herald?.close();
  });

  it('runs queries over HTTP and subscriptions over SSE', async () => {
    const token = await herald.token('apollo-query');
    const apollo = createApollo({ url: herald.url, token: () => token });
    const result = await apollo.query<{ notifications: { streamCursor: string } }>({ query: gql('{ notifications { streamCursor } }') });
    expect(result.data?.notifications.streamCursor).toBe(await herald.streamCursor(token));
    apollo.stop();
  });

  for (const how of ['kill', 'stop'] as const) {
    it(`a subscription resumes after ${how === 'kill' ? 'a SIGKILL' : 'a SIGTERM'} with nothing lost and nothing duplicated`, async () => {
      const run = await outageScenario(herald, how, (s) => {
        const apollo = createApollo({ url: herald.url, token: () => s.token, sse: { url: s.url, retry: s.gate.retry, retryAttempts: 20 } });
        const received: Notification[] = [];
        let ended: unknown;
        const subscription = apollo
          .subscribe<{ notificationAdded: Notification }>({ query: ADDED, variables: { after: s.after } })
          .subscribe({
            next: ({ data, error }) => {
              if (error) ended = error;
              if (data)
                received.push({
                  id: data.notificationAdded.id,
                  title: data.notificationAdded.title,
                  cursor: data.notificationAdded.cursor,
                });
            },
            error: (error) => {
              ended = error;
            },
            complete: () => {
              ended = 'complete';
            },
          });
        return {
          received,
          ended: () => ended,
          dispose: () => {
            subscription.unsubscribe();
            apollo.stop();
          },
        };
      });
      expect(run.retries).toBeGreaterThan(0);
      expect(run.received).toEqual(run.emitted);
      expect(run.ended).toBeUndefined();
    }, 120_000);
  }
});
