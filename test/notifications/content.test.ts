import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmitContent, InboxContent } from '../documents.ts';
import type { EmitNotificationInput } from '../gql/graphql.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { BACKENDS } from '../helpers/backends.ts';

// What a UI needs besides the text (issue 14): a title alone is a notification, a click goes
// somewhere, and an avatar shows who did it. The same content reaches the inbox, the live stream
// and the emit's answer.
describe.each(BACKENDS)('notification content (%s)', (backend) => {
  let t: TestApp;
  let producer: string;
  beforeAll(async () => {
    t = await startTestApp(backend);
    producer = await t.producerToken();
  });
  afterAll(() => t.close());

  const live = async (user: string) => {
    const token = await t.token(user);
    const inbox = await t.execute(InboxContent, {}, token);
    const stream = await t.subscribe(
      'subscription($after: String) { notificationAdded(after: $after) { id title body type url actor { id name avatarUrl } } }',
      { after: inbox.data?.notifications.streamCursor },
      { token },
    );
    return { token, stream };
  };

  it('stores a title-only notification as an ALERT with an empty body', async () => {
    const { token, stream } = await live('content-title-only');
    const emitted = await t.execute(
      EmitContent,
      { input: { recipientIds: ['content-title-only'], title: 'Timesheet rejected' } },
      producer,
    );
    expect(emitted.errors).toBeUndefined();
    const expected = { title: 'Timesheet rejected', body: '', type: 'ALERT', url: null, actor: null };
    expect(emitted.data?.emitNotification.deliveries[0]?.notification).toMatchObject(expected);
    const [event] = await stream.take<{ notificationAdded: unknown }>(1);
    expect(event?.data.notificationAdded).toMatchObject(expected);
    const inbox = await t.execute(InboxContent, {}, token);
    expect(inbox.data?.notifications.edges.map((e) => e.node)).toMatchObject([expected]);
  });

  it('carries url and actor to the emit answer, the stream of each recipient and the inbox', async () => {
    const users = Array.from({ length: 3 }, (_, i) => `content-actor-${i}`);
    const streams = await Promise.all(users.map(live));
    const content = {
      title: 'Ada commented on invoice 42',
      body: 'Looks good to me',
      type: 'UPDATE' as const,
      url: '/invoices/42#comment-7',
      actor: { id: 'ada', name: 'Ada Lovelace', avatarUrl: 'https://cdn.example.com/avatars/ada.png' },
    };
    const emitted = await t.execute(EmitContent, { input: { recipientIds: users, ...content } }, producer);
    expect(emitted.errors).toBeUndefined();
    expect(emitted.data?.emitNotification.deliveredCount).toBe(3);
    for (const d of emitted.data?.emitNotification.deliveries ?? []) expect(d.notification).toMatchObject(content);
    for (const { token, stream } of streams) {
      const [event] = await stream.take<{ notificationAdded: unknown }>(1);
      expect(event?.data.notificationAdded).toMatchObject(content);
      const inbox = await t.execute(InboxContent, {}, token);
      expect(inbox.data?.notifications.edges.map((e) => e.node)).toMatchObject([content]);
    }
  });

  it('keeps an actor without id or avatar, and an absolute https link', async () => {
    const { stream } = await live('content-plain-actor');
    const input = {
      recipientIds: ['content-plain-actor'],
      title: 'Build failed',
      url: 'https://ci.example.com/builds/9',
      actor: { name: 'CI' },
    };
    expect((await t.execute(EmitContent, { input }, producer)).errors).toBeUndefined();
    const [event] = await stream.take<{ notificationAdded: unknown }>(1);
    expect(event?.data.notificationAdded).toMatchObject({
      url: 'https://ci.example.com/builds/9',
      actor: { id: null, name: 'CI', avatarUrl: null },
    });
  });

  // A link goes into every recipient's page as an href or src: anything but http(s) and the app's
  // own paths could run script there, or lead to another site while looking like a path.
  const hostile: [string, Partial<EmitNotificationInput>, string][] = [
    ['a javascript: url', { url: 'javascript:alert(document.cookie)' }, 'url'],
    ['a javascript: url in capitals with leading spaces', { url: '  JaVaScRiPt:alert(1)' }, 'url'],
    ['a data: url', { url: 'data:text/html,<script>alert(1)</script>' }, 'url'],
    ['a protocol-relative url', { url: '//evil.example.com/phish' }, 'url'],
    ['a backslash path browsers read as another host', { url: '/\\evil.example.com' }, 'url'],
    ['a tab inside the scheme', { url: 'java\tscript:alert(1)' }, 'url'],
    ['a relative url without a leading slash', { url: 'invoices/42' }, 'url'],
    ['a url over 2,048 characters', { url: `https://example.com/${'a'.repeat(2_040)}` }, 'url'],
    ['an avatar that is a path', { actor: { name: 'Ada', avatarUrl: '/ada.png' } }, 'actor.avatarUrl'],
    ['an avatar with a javascript: url', { actor: { name: 'Ada', avatarUrl: 'javascript:alert(1)' } }, 'actor.avatarUrl'],
    ['an actor with an empty name', { actor: { name: '   ' } }, 'actor.name'],
    ['an actor name with NUL', { actor: { name: 'Ada\u0000' } }, 'actor.name'],
    ['a body over 10,000 characters', { body: 'x'.repeat(10_001) }, 'body'],
  ];
  it.each(hostile)('refuses %s with BAD_USER_INPUT naming the field, storing nothing', async (_name, extra, field) => {
    const user = `content-hostile-${field}`;
    const token = await t.token(user);
    const result = await t.execute(EmitContent, { input: { recipientIds: [user], title: 'Hello', ...extra } }, producer);
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    expect(result.data).toBeNull();
    expect((await t.execute(InboxContent, {}, token)).data?.notifications.edges).toEqual([]);
  });
});
