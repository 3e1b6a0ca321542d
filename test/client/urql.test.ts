import { gql } from '@urql/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUrql } from '../../examples/urql.ts';
import { Herald, MODES, NOTIFICATION_ADDED, type Notification, outageScenario } from './harness.ts';

const ADDED = gql<{ notificationAdded: Notification }, { after: string }>(NOTIFICATION_ADDED);

describe.each(MODES)('urql over the resuming graphql-sse client (%s)', (mode) => {
  let herald: Herald;
  beforeAll(async () => {
    herald = await Herald.start(mode);
  }, 120_000);
  afterAll(async () => {
    await herald?.close();
  });

  it('runs queries over fetch and subscriptions over SSE', async () => {
    const token = await herald.token('urql-query');
    const urql = createUrql({ url: herald.url, token: () => token });
    const result = await urql.query<{ notifications: { streamCursor: string } }>('{ notifications { streamCursor } }', {}).toPromise();
    expect(result.error).toBeUndefined();
    expect(result.data?.notifications.streamCursor).toBe(await herald.streamCursor(token));
  });

  for (const how of ['kill', 'stop'] as const) {
    it(`a subscription resumes after ${how === 'kill' ? 'a SIGKILL' : 'a SIGTERM'} with nothing lost and nothing duplicated`, async () => {
      const run = await outageScenario(herald, how, (s) => {
        const urql = createUrql({ url: herald.url, token: () => s.token, sse: { url: s.url, retry: s.gate.retry, retryAttempts: 20 } });
        const received: Notification[] = [];
        let ended: unknown;
        const subscription = urql.subscription(ADDED, { after: s.after }).subscribe((result) => {
          if (result.error) ended = result.error;
          if (result.data) received.push(result.data.notificationAdded);
        });
        return { received, ended: () => ended, dispose: () => subscription.unsubscribe() };
      });
      expect(run.retries).toBeGreaterThan(0);
      expect(run.received).toEqual(run.emitted);
      expect(run.ended).toBeUndefined();
    }, 120_000);
  }
});
