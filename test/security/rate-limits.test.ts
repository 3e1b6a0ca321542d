import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMIT_SCOPE } from '../../src/auth/tokens.ts';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { BACKENDS, TEST_REDIS_URL } from '../helpers/backends.ts';
import { PrivateRedis, REDIS_SERVER_AVAILABLE } from '../helpers/chaos-redis.ts';

// Issue 13, rate limits. Before: one producer token pushed 7,778 emits/s into one inbox (77,805
// unread); one user ran 10,900 queries/s; 50,000 reservations in 6 s; 1,000 users' streams from
// one address all accepted. These tests run with the defaults of src/config.ts (the per-address
// limits need TRUST_PROXY=true here, so that each test floods from an address of its own, given in
// X-Forwarded-For; TRUST_PROXY's own test uses the default, false, and a second loopback address).
// Each limit's full window is checked with RATE_LIMIT_BURST_FACTOR=0, so that a flood reaches it
// at full speed; the burst windows, which a flood meets first with the defaults, have their own
// tests below ("burst windows").

const EMIT = 'mutation($input: EmitNotificationInput!) { emitNotification(input: $input) { deliveredCount } }';
const UNREAD = '{ unreadCount }';
const ADDED = 'subscription { notificationAdded { title cursor } }';

interface Answer {
  status: number;
  retryAfter: string | null;
  body: { data?: Record<string, unknown> | null; errors?: { message: string; extensions?: Record<string, unknown> }[] } | null;
  ms: number;
}

const codeOf = (a: Answer) => a.body?.errors?.[0]?.extensions?.code;

async function gql(
  base: string,
  query: string,
  variables: unknown,
  token: string | null,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const started = performance.now();
  const response = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await response.text();
  let body: Answer['body'] = null;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: response.status, retryAfter: response.headers.get('retry-after'), body, ms: performance.now() - started };
}

/** Runs `n` calls of `task`, `concurrency` at a time; answers in call order. */
async function flood<T>(n: number, concurrency: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await task(i);
      }
    }),
  );
  return out;
}

/**
 * Runs `attack` while a well-behaved client calls `probe` every 50 ms; resolves with the attack's
 * result once every probe is checked: each answered as expected, the slowest within 5 s.
 */
async function whileWellBehaved<T>(attack: () => Promise<T>, probe: () => Promise<boolean>): Promise<T> {
  let attacking = true;
  let probes = 0;
  let failed = 0;
  let slowest = 0;
  const calm = (async () => {
    while (attacking) {
      const started = performance.now();
      if (!(await probe())) failed++;
      probes++;
      slowest = Math.max(slowest, performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  const result = await attack();
  attacking = false;
  await calm;
  expect(probes).toBeGreaterThan(0);
  expect(failed).toBe(0);
  expect(slowest).toBeLessThan(5_000);
  return result;
}

/** A refusal as documented: 429, Retry-After in whole seconds, RATE_LIMITED naming the limit. */
function expectRefused(answer: Answer, limit: string) {
  expect(answer.status).toBe(429);
  expect(codeOf(answer)).toBe('RATE_LIMITED');
  const extensions = answer.body?.errors?.[0]?.extensions ?? {};
  expect(extensions.limit).toBe(limit);
  const retryAfter = extensions.retryAfter;
  expect(Number.isInteger(retryAfter) && Number(retryAfter) >= 1 && Number(retryAfter) <= 60).toBe(true);
  expect(answer.retryAfter).toBe(String(retryAfter));
  expect(extensions.http).toBeUndefined();
}

/** The full windows only: floods in these tests run at full speed (see the file's comment). */
const FULL_WINDOWS = { RATE_LIMIT_BURST_FACTOR: '0' };

const emitInput = (recipientIds: string[], title = 'flood') => ({ input: { recipientIds, title, body: 'b', type: 'UPDATE' } });

describe('RATE_LIMIT_* settings', () => {
  it('refuse RATE_LIMIT_USER_QUERIES, renamed RATE_LIMIT_USER_REQUESTS, instead of ignoring it', () => {
    expect(() => loadConfig({ NODE_ENV: 'test', RATE_LIMIT_USER_QUERIES: '100/60' })).toThrow(
      /RATE_LIMIT_USER_QUERIES: renamed to RATE_LIMIT_USER_REQUESTS/,
    );
  });

  it('parse "<points>/<seconds>" and "off", and refuse anything else naming the variable', () => {
    const config = loadConfig({ NODE_ENV: 'test', RATE_LIMIT_RECIPIENT: '5/10', RATE_LIMIT_USER_REQUESTS: 'off' });
    expect(config.RATE_LIMIT_RECIPIENT).toEqual({ points: 5, seconds: 10 });
    expect(config.RATE_LIMIT_USER_REQUESTS).toBeNull();
    expect(config.RATE_LIMIT_PRODUCER_RECIPIENTS).toEqual({ points: 100_000, seconds: 60 });
    expect(config.TRUST_PROXY).toBe(false);
    for (const bad of ['0/60', '10', '10/0', '10/100000', 'ten/60', '-1/60']) {
      expect(() => loadConfig({ NODE_ENV: 'test', RATE_LIMIT_RECIPIENT: bad }), bad).toThrow(ConfigError);
      expect(() => loadConfig({ NODE_ENV: 'test', RATE_LIMIT_RECIPIENT: bad }), bad).toThrow(/RATE_LIMIT_RECIPIENT/);
    }
  });
});

describe.each(BACKENDS)('rate limits (%s)', (backend) => {
  let t: TestApp;
  let base: string;
  const tag = backend === 'embedded' ? 'e' : 'p';

  beforeAll(async () => {
    t = await startTestApp(backend, { TRUST_PROXY: 'true', ...FULL_WINDOWS });
    base = await t.listen();
  }, 60_000);
  afterAll(() => t.close());

  const producer = (name: string) => t.token(`producer-${name}-${tag}`, { scope: EMIT_SCOPE });

  it('an emit flood into one inbox is refused after RATE_LIMIT_RECIPIENT; unreadCount equals the accepted emits', {
    timeout: 120_000,
  }, async () => {
    const victim = `victim-${tag}`;
    const flooder = await producer('flood');
    const bystander = await t.token(`bystander-${tag}`);
    const otherProducer = await producer('other');
    // A well-behaved user and another producer keep working during the flood.
    const answers = await whileWellBehaved(
      () => flood(1_100, 16, () => gql(base, EMIT, emitInput([victim]), flooder)),
      async () => {
        const read = await gql(base, UNREAD, {}, bystander);
        const emit = await gql(base, EMIT, emitInput([`other-${tag}`]), otherProducer);
        return read.status === 200 && emit.status === 200 && !read.body?.errors && !emit.body?.errors;
      },
    );

    const accepted = answers.filter((a) => a.status === 200 && !a.body?.errors);
    const refused = answers.filter((a) => a.status === 429);
    expect(accepted.length).toBe(1_000);
    expect(refused.length).toBe(100);
    for (const answer of refused) expectRefused(answer, 'RATE_LIMIT_RECIPIENT');
    expect(refused[0]?.body?.errors?.[0]?.message).toMatch(/Nothing was stored/);

    const unread = await gql(base, UNREAD, {}, await t.token(victim));
    expect(unread.body?.data?.unreadCount).toBe(1_000);
  });

  it('a bulk emit is all or nothing: one recipient over its limit refuses it, and nothing is written or counted', {
    timeout: 120_000,
  }, async () => {
    const hot = `hot-${tag}`;
    const sender = await producer('bulk');
    const filled = await flood(1_000, 16, () => gql(base, EMIT, emitInput([hot]), sender));
    expect(filled.every((a) => a.status === 200 && !a.body?.errors)).toBe(true);

    const fresh = Array.from({ length: 2_999 }, (_, i) => `fresh-${tag}-${i}`);
    const refused = await gql(base, EMIT, emitInput([...fresh, hot], 'bulk'), sender);
    expectRefused(refused, 'RATE_LIMIT_RECIPIENT');
    const first = await gql(base, UNREAD, {}, await t.token(fresh[0] ?? ''));
    const last = await gql(base, UNREAD, {}, await t.token(fresh[2_998] ?? ''));
    expect(first.body?.data?.unreadCount).toBe(0);
    expect(last.body?.data?.unreadCount).toBe(0);
    // Nothing was counted for the others: each can still take its whole budget (1,000 in 60 s).
    const again = await flood(999, 16, () => gql(base, EMIT, emitInput(fresh.slice(0, 3)), sender));
    expect(again.every((a) => a.status === 200 && !a.body?.errors)).toBe(true);
    const hotUnread = await gql(base, UNREAD, {}, await t.token(hot));
    expect(hotUnread.body?.data?.unreadCount).toBe(1_000);
  });

  it('a producer emits to at most RATE_LIMIT_PRODUCER_RECIPIENTS recipients, counted by recipients', { timeout: 180_000 }, async () => {
    const big = await producer('big');
    const recipients = Array.from({ length: 10_000 }, (_, i) => `crowd-${tag}-${i}`);
    for (let round = 0; round < 10; round++) {
      const answer = await gql(base, EMIT, emitInput(recipients, `round ${round}`), big);
      expect(answer.body?.errors, `round ${round}`).toBeUndefined();
      expect(answer.body?.data?.emitNotification).toEqual({ deliveredCount: 10_000 });
    }
    const over = await gql(base, EMIT, emitInput([`crowd-${tag}-0`]), big);
    expectRefused(over, 'RATE_LIMIT_PRODUCER_RECIPIENTS');
    const unread = await gql(base, UNREAD, {}, await t.token(`crowd-${tag}-0`));
    expect(unread.body?.data?.unreadCount).toBe(10);
    // Another producer's budget is its own.
    const other = await gql(base, EMIT, emitInput([`crowd-${tag}-1`]), await producer('small'));
    expect(other.body?.data?.emitNotification).toEqual({ deliveredCount: 1 });
  });

  it("one user's query flood is refused after RATE_LIMIT_USER_REQUESTS, mutations included; other users are unaffected", {
    timeout: 120_000,
  }, async () => {
    const flooder = await t.token(`querier-${tag}`);
    const other = await t.token(`calm-${tag}`);
    const answers = await whileWellBehaved(
      () => flood(1_300, 16, () => gql(base, UNREAD, {}, flooder)),
      async () => (await gql(base, UNREAD, {}, other)).body?.data?.unreadCount === 0,
    );
    const ok = answers.filter((a) => a.status === 200 && a.body?.data?.unreadCount === 0);
    const refused = answers.filter((a) => a.status === 429);
    expect(ok.length).toBe(1_200);
    expect(refused.length).toBe(100);
    for (const answer of refused) expectRefused(answer, 'RATE_LIMIT_USER_REQUESTS');
    const calm = await gql(base, UNREAD, {}, other);
    expect(calm.status).toBe(200);
    expect(calm.body?.data?.unreadCount).toBe(0);
    expect(calm.ms).toBeLessThan(5_000);
    // Every request counts, whatever it is: the user's mutations wait for the window too.
    const mutation = await gql(base, 'mutation { markAllNotificationsRead { unreadCount } }', {}, flooder);
    expectRefused(mutation, 'RATE_LIMIT_USER_REQUESTS');
    // Producers are not counted per query (their emits are counted by recipients).
    const presence = await flood(1_250, 16, async () =>
      gql(base, '{ presence(userIds: ["a"]) { online } }', {}, await producer('presence')),
    );
    expect(presence.every((a) => a.status === 200 && !a.body?.errors)).toBe(true);
  });

  // Reading and parsing a large request is the most a request can cost (10,000 aliases, a 2.5 MB
  // unused variable), and an attacker varies them so that no cache helps: 53 a second filled the
  // server's core.
  it('large requests are counted per address (RATE_LIMIT_REQUEST_BYTES_PER_IP); ordinary ones never', { timeout: 60_000 }, async () => {
    // A producer: only producers may send documents this large (USER_MAX_REQUEST_BODY_BYTES).
    const user = await producer(`documents-${tag}`);
    const from = { 'x-forwarded-for': '203.0.113.40' };
    // 6,000 aliases (about 100 KB): refused by the alias limit, but parsed to find out.
    const big = (i: number) =>
      `query Big${String(i).padStart(4, '0')} {${Array.from({ length: 6_000 }, (_, k) => ` a${k}: unreadCount`).join('')} }`;
    const perRequest = Buffer.byteLength(JSON.stringify({ query: big(0), variables: {} })) - 16_384;
    const allowed = Math.floor(32_000_000 / perRequest);
    const answers = await whileWellBehaved(
      () => flood(allowed + 5, 8, (i) => gql(base, big(i), {}, user, from)),
      async () => (await gql(base, UNREAD, {}, user, { 'x-forwarded-for': '203.0.113.41' })).status === 200,
    );
    const refused = answers.filter((a) => a.status === 429);
    expect(answers.slice(0, allowed).every((a) => a.status !== 429)).toBe(true);
    expect(refused.length).toBe(5);
    for (const a of refused) expectRefused(a, 'RATE_LIMIT_REQUEST_BYTES_PER_IP');
    // The same address's ordinary requests are not counted, and still answered.
    expect((await gql(base, UNREAD, {}, user, from)).status).toBe(200);
  });

  it('a refusal is answered after RATE_LIMIT_REFUSAL_DELAY_MS, so a client retrying at once makes one attempt a second', {
    timeout: 60_000,
  }, async () => {
    const user = await t.token(`delayed-${tag}`);
    const from = { 'x-forwarded-for': '203.0.113.50' };
    await flood(1_200, 16, () => gql(base, UNREAD, {}, user, from));
    // Now over RATE_LIMIT_USER_REQUESTS: 4 clients retrying as soon as they are answered, for 3 s.
    const started = performance.now();
    let attempts = 0;
    const answers: Answer[] = [];
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (performance.now() - started < 3_000) {
          attempts++;
          answers.push(await gql(base, UNREAD, {}, user, from));
        }
      }),
    );
    for (const a of answers) expectRefused(a, 'RATE_LIMIT_USER_REQUESTS');
    expect(Math.min(...answers.map((a) => a.ms))).toBeGreaterThanOrEqual(900);
    expect(attempts).toBeLessThanOrEqual(4 * 4);
  });

  it('a stream flood from one address is refused after RATE_LIMIT_STREAM_OPENS_PER_IP, before the stream starts', {
    timeout: 120_000,
  }, async () => {
    const flooder = { 'x-forwarded-for': '203.0.113.7' };
    const open = (headers: Record<string, string>, token?: string) =>
      fetch(`${base}/graphql?query=${encodeURIComponent(ADDED)}`, {
        headers: { accept: 'text/event-stream', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
        signal: AbortSignal.timeout(30_000),
      });
    // 1,250 users, one stream each, all from one address (each closed once its first bytes arrive).
    const calm = await t.token(`calm-streamer-${tag}`);
    const tokens = await Promise.all(Array.from({ length: 1_250 }, (_, i) => t.token(`flood-streamer-${tag}-${i}`)));
    const answers = await whileWellBehaved(
      () =>
        flood(1_250, 16, async (i) => {
          const response = await open(flooder, tokens[i]);
          if (response.status === 200) {
            await response.body?.cancel();
            return { status: response.status, retryAfter: null, text: '' };
          }
          return { status: response.status, retryAfter: response.headers.get('retry-after'), text: await response.text() };
        }),
      async () => {
        // A stream from another address opens (its first bytes arrive) and is closed.
        const response = await open({ 'x-forwarded-for': '198.51.100.21' }, calm);
        await response.body?.cancel();
        return response.status === 200;
      },
    );
    const served = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status === 429);
    expect(served.length).toBe(1_200);
    expect(refused.length).toBe(50);
    for (const answer of refused) {
      const body = JSON.parse(answer.text);
      expect(body.errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED', limit: 'RATE_LIMIT_STREAM_OPENS_PER_IP' });
      expect(answer.retryAfter).toBe(String(body.errors[0].extensions.retryAfter));
    }
    // A user from another address opens a stream and receives a notification.
    const user = `streamer-${tag}`;
    const response = await open({ 'x-forwarded-for': '198.51.100.20' }, await t.token(user));
    expect(response.status).toBe(200);
    const reader = new (await import('../helpers/sse.ts')).SseReader(response);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await gql(base, EMIT, emitInput([user], 'still here'), await producer('streams'));
    const result = await reader.nextResult<{ notificationAdded: { title: string } }>(10_000);
    expect(result?.result?.data?.notificationAdded.title).toBe('still here');
    await reader.close();
  });

  it('a user opening streams is refused after RATE_LIMIT_STREAM_OPENS_PER_USER with 429 and Retry-After', {
    timeout: 120_000,
  }, async () => {
    const token = await t.token(`opener-${tag}`);
    const statuses = await flood(130, 8, async (i) => {
      const response = await fetch(`${base}/graphql?query=${encodeURIComponent(ADDED)}`, {
        headers: { accept: 'text/event-stream', authorization: `Bearer ${token}`, 'x-forwarded-for': `192.0.2.${i % 200}` },
      });
      const retryAfter = response.headers.get('retry-after');
      if (response.status === 200) {
        await response.body?.cancel();
        return { status: response.status, retryAfter, text: '' };
      }
      return { status: response.status, retryAfter, text: await response.text() };
    });
    expect(statuses.filter((s) => s.status === 200).length).toBe(120);
    const refused = statuses.filter((s) => s.status === 429);
    expect(refused.length).toBe(10);
    expect(JSON.parse(refused[0]?.text ?? '{}').errors[0].extensions).toMatchObject({
      code: 'RATE_LIMITED',
      limit: 'RATE_LIMIT_STREAM_OPENS_PER_USER',
    });
    expect(Number(refused[0]?.retryAfter)).toBeGreaterThanOrEqual(1);
  });

  it('a reservation flood is refused per address (RATE_LIMIT_RESERVATIONS_PER_IP) and per user (RATE_LIMIT_RESERVATIONS_PER_USER)', {
    timeout: 120_000,
  }, async () => {
    const put = (headers: Record<string, string>) =>
      fetch(`${base}/graphql/stream`, { method: 'PUT', headers, signal: AbortSignal.timeout(30_000) });
    const calm = await t.token(`calm-reader-${tag}`);
    const anonymous = await whileWellBehaved(
      () =>
        flood(650, 16, async () => {
          const response = await put({ 'x-forwarded-for': '203.0.113.8' });
          return { status: response.status, retryAfter: response.headers.get('retry-after'), text: await response.text() };
        }),
      async () => (await gql(base, UNREAD, {}, calm, { 'x-forwarded-for': '198.51.100.31' })).status === 200,
    );
    expect(anonymous.filter((a) => a.status === 401).length).toBe(600);
    const refused = anonymous.filter((a) => a.status === 429);
    expect(refused.length).toBe(50);
    expect(JSON.parse(refused[0]?.text ?? '{}').errors[0].extensions).toMatchObject({
      code: 'RATE_LIMITED',
      limit: 'RATE_LIMIT_RESERVATIONS_PER_IP',
    });

    // One user, each reservation attached and closed (so MAX_STREAMS_PER_USER never binds), from varied addresses.
    const token = await t.token(`reserver-${tag}`);
    let created = 0;
    let refusal: { status: number; text: string; retryAfter: string | null } | undefined;
    for (let i = 0; i < 70 && !refusal; i++) {
      const response = await put({ authorization: `Bearer ${token}`, 'x-forwarded-for': `192.0.2.${i}` });
      const text = await response.text();
      if (response.status !== 201 && response.status !== 200) {
        refusal = { status: response.status, text, retryAfter: response.headers.get('retry-after') };
        break;
      }
      created++;
      const attach = await fetch(`${base}/graphql/stream?token=${encodeURIComponent(text)}`, { headers: { accept: 'text/event-stream' } });
      await attach.body?.cancel();
    }
    expect(created).toBe(60);
    expect(refusal?.status).toBe(429);
    expect(JSON.parse(refusal?.text ?? '{}').errors[0].extensions).toMatchObject({
      code: 'RATE_LIMITED',
      limit: 'RATE_LIMIT_RESERVATIONS_PER_USER',
    });
    expect(Number(refusal?.retryAfter)).toBeGreaterThanOrEqual(1);
    // Another user from another address still reserves.
    const other = await put({ authorization: `Bearer ${await t.token(`reserver2-${tag}`)}`, 'x-forwarded-for': '198.51.100.30' });
    expect([200, 201]).toContain(other.status);
    await other.text();
  });
});

describe.each(BACKENDS)('rate limit settings (%s)', (backend) => {
  it('"off" disables a limit', { timeout: 60_000 }, async () => {
    const t = await startTestApp(backend, { RATE_LIMIT_USER_REQUESTS: 'off', ...FULL_WINDOWS });
    try {
      const base = await t.listen();
      const token = await t.token('unlimited');
      const answers = await flood(1_300, 16, () => gql(base, UNREAD, {}, token));
      expect(answers.every((a) => a.status === 200 && a.body?.data?.unreadCount === 0)).toBe(true);
    } finally {
      await t.close();
    }
  });

  it("apply in Yoga's handler too (a plugin with HTTP-level hooks): a query flood and a refused stream open answer 429", {
    timeout: 60_000,
  }, async () => {
    const t = await startTestApp(backend, FULL_WINDOWS, { plugins: [{ onRequest() {} }] });
    try {
      const base = await t.listen();
      const token = await t.token('through-yoga');
      const answers = await flood(1_210, 16, () => gql(base, UNREAD, {}, token));
      expect(answers.filter((a) => a.status === 200).length).toBe(1_200);
      const refusedQuery = answers.find((a) => a.status === 429);
      expect(refusedQuery).toBeDefined();
      if (refusedQuery) expectRefused(refusedQuery, 'RATE_LIMIT_USER_REQUESTS');
      const opener = await t.token('through-yoga-streams');
      const opens = await flood(125, 8, async () => {
        const response = await fetch(`${base}/graphql?query=${encodeURIComponent(ADDED)}`, {
          headers: { accept: 'text/event-stream', authorization: `Bearer ${opener}` },
        });
        const status = response.status;
        const retryAfter = response.headers.get('retry-after');
        await response.body?.cancel();
        return { status, retryAfter };
      });
      expect(opens.filter((o) => o.status === 200).length).toBe(120);
      const refused = opens.filter((o) => o.status === 429);
      expect(refused.length).toBe(5);
      expect(Number(refused[0]?.retryAfter)).toBeGreaterThanOrEqual(1);
    } finally {
      await t.close();
    }
  });

  it('TRUST_PROXY=false (the default) counts the socket address and ignores X-Forwarded-For', { timeout: 60_000 }, async () => {
    const t = await startTestApp(backend, FULL_WINDOWS);
    try {
      const base = await t.listen();
      const answers = await flood(620, 16, async (i) => {
        const response = await fetch(`${base}/graphql/stream`, {
          method: 'PUT',
          headers: { 'x-forwarded-for': `10.0.${i >> 8}.${i & 255}` },
        });
        await response.text();
        return response.status;
      });
      expect(answers.filter((s) => s === 401).length).toBe(600);
      expect(answers.filter((s) => s === 429).length).toBe(20);
      // Another socket address (loopback has them all) is a client of its own.
      const { port } = new URL(base);
      const status = await new Promise<number | undefined>((resolve, reject) => {
        const req = request(
          { host: '127.0.0.1', port, path: '/graphql/stream', method: 'PUT', localAddress: '127.0.0.2', agent: false },
          (res) => {
            res.resume();
            resolve(res.statusCode);
          },
        );
        req.on('error', reject);
        req.end();
      });
      expect(status).toBe(401);
    } finally {
      await t.close();
    }
  });
});

describe.runIf(TEST_REDIS_URL)('rate limits with Redis', () => {
  it('are shared by instances on the same REDIS_PREFIX', { timeout: 60_000 }, async () => {
    const prefix = `herald-rl-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    const a = await startTestApp('postgres+redis', { REDIS_PREFIX: prefix, ...FULL_WINDOWS });
    const b = await startTestApp('postgres+redis', { REDIS_PREFIX: prefix, ...FULL_WINDOWS });
    try {
      const token = await a.token('shared-user');
      const [baseA, baseB] = [await a.listen(), await b.listen()];
      const first = await flood(700, 16, () => gql(baseA, UNREAD, {}, token));
      const second = await flood(500, 16, () => gql(baseB, UNREAD, {}, token));
      expect([...first, ...second].every((x) => x.status === 200)).toBe(true);
      expectRefused(await gql(baseB, UNREAD, {}, token), 'RATE_LIMIT_USER_REQUESTS');
      expectRefused(await gql(baseA, UNREAD, {}, token), 'RATE_LIMIT_USER_REQUESTS');
    } finally {
      await a.close();
      await b.close();
    }
  });

  describe.runIf(REDIS_SERVER_AVAILABLE)('while Redis is down', () => {
    const redis = new PrivateRedis();
    beforeAll(() => redis.start());
    afterAll(() => redis.stop());

    it('fall back to this instance’s memory: requests are answered, and still limited', { timeout: 60_000 }, async () => {
      const t = await startTestApp('embedded', { REDIS_URL: redis.url, REDIS_PREFIX: `herald-rl-down-${process.pid}`, ...FULL_WINDOWS });
      try {
        const base = await t.listen();
        const token = await t.token('during-outage');
        const before = await flood(200, 8, () => gql(base, UNREAD, {}, token));
        expect(before.every((x) => x.status === 200)).toBe(true);
        await redis.stop();
        const answers = await flood(1_200, 16, () => gql(base, UNREAD, {}, token));
        const ok = answers.filter((x) => x.status === 200).length;
        // The memory limiter starts from zero at the outage: 1,200 more are allowed, then refused.
        expect(ok).toBe(1_200);
        expect(answers.every((x) => x.ms < 5_000)).toBe(true);
        expectRefused(await gql(base, UNREAD, {}, token), 'RATE_LIMIT_USER_REQUESTS');
        const emit = await gql(base, EMIT, emitInput(['outage-recipient']), await t.token('p', { scope: EMIT_SCOPE }));
        expect(emit.body?.data?.emitNotification).toEqual({ deliveredCount: 1 });
      } finally {
        await t.close();
      }
    });
  });
});

// With the defaults, a user's flood meets the one-second windows first (RATE_LIMIT_BURST_FACTOR, 2:
// twice a limit's average rate, at least 10), and callers without the emit scope are held to
// user-sized requests. Before: 1,200 queries went through at full speed at the start of each
// minute, and a user could send 190 KB documents of 10,000 aliases, each read and lexed to its
// 20,000th token.
describe.each(BACKENDS)('burst windows and user-sized requests, with the defaults (%s)', (backend) => {
  let t: TestApp;
  let base: string;
  const tag = backend === 'embedded' ? 'e' : 'p';

  beforeAll(async () => {
    t = await startTestApp(backend, { TRUST_PROXY: 'true' });
    base = await t.listen();
  }, 60_000);
  afterAll(() => t.close());

  // Each burst is sent at once (one connection per request): within one second, whatever the
  // machine's speed; a refused request is answered a second later, in the next window.

  /** Waits for the start of the next whole second of the one-second windows (they start with their first request). */
  const nextSecond = () => new Promise((resolve) => setTimeout(resolve, 1_100));

  it("a user's burst is refused after 40 requests in one second (1,200/60 x 2); the next second takes 40 more", {
    timeout: 60_000,
  }, async () => {
    const user = await t.token(`burster-${tag}`);
    const answers = await flood(60, 60, () => gql(base, UNREAD, {}, user));
    const ok = answers.filter((a) => a.status === 200 && a.body?.data?.unreadCount === 0);
    const refused = answers.filter((a) => a.status === 429);
    expect(ok.length).toBe(40);
    expect(refused.length).toBe(20);
    for (const a of refused) expectRefused(a, 'RATE_LIMIT_USER_REQUESTS');
    expect(refused[0]?.body?.errors?.[0]?.message).toMatch(/at most 40 requests per user in 1 s/);
    expect(refused[0]?.retryAfter).toBe('1');
    await nextSecond();
    const again = await flood(40, 40, () => gql(base, UNREAD, {}, user));
    expect(again.every((a) => a.status === 200)).toBe(true);
  });

  it('a 10,000-recipient emit is within every default window, twice in a row', { timeout: 120_000 }, async () => {
    const sender = await t.token(`big-burst-producer-${tag}`, { scope: EMIT_SCOPE });
    const recipients = Array.from({ length: 10_000 }, (_, i) => `burst-crowd-${tag}-${i}`);
    for (const round of [1, 2]) {
      const answer = await gql(base, EMIT, emitInput(recipients, `round ${round}`), sender);
      expect(answer.body?.errors, `round ${round}`).toBeUndefined();
      expect(answer.body?.data?.emitNotification).toEqual({ deliveredCount: 10_000 });
    }
  });

  it("a user's 10,000-alias document is refused from its Content-Length (USER_MAX_REQUEST_BODY_BYTES); a producer's is parsed and refused by the alias limit", {
    timeout: 60_000,
  }, async () => {
    const aliases = `query {${Array.from({ length: 10_000 }, (_, k) => ` a${k}: unreadCount`).join('')} }`;
    const fromUser = await gql(base, aliases, {}, await t.token(`aliaser-${tag}`), { 'x-forwarded-for': '203.0.113.60' });
    expect(fromUser.status).toBe(413);
    expect(codeOf(fromUser)).toBe('PAYLOAD_TOO_LARGE');
    expect(fromUser.body?.errors?.[0]?.message).toMatch(/65536 bytes \(USER_MAX_REQUEST_BODY_BYTES\)/);
    const anonymous = await gql(base, aliases, {}, null, { 'x-forwarded-for': '203.0.113.61' });
    expect(anonymous.status).toBe(413);
    const producer = await t.token(`aliasing-producer-${tag}`, { scope: EMIT_SCOPE });
    const fromProducer = await gql(base, aliases, {}, producer, { 'x-forwarded-for': '203.0.113.62' });
    expect(codeOf(fromProducer)).toBe('GRAPHQL_PARSE_FAILED');
    expect(fromProducer.body?.errors?.[0]?.message).toMatch(/more that 20000 tokens/);
  });

  it("a user's document is bounded by USER_MAX_DOCUMENT_TOKENS (2,500); a user's largest mutation, 1,000 ids inline, passes", {
    timeout: 60_000,
  }, async () => {
    const user = await t.token(`tokens-user-${tag}`);
    const from = { 'x-forwarded-for': '203.0.113.63' };
    // 1,000 levels: 3,001 tokens in 6 KB.
    const deep = `{ ${'a { '.repeat(1_000)}b${' }'.repeat(1_000)} }`;
    const refused = await gql(base, deep, {}, user, from);
    expect(codeOf(refused)).toBe('GRAPHQL_PARSE_FAILED');
    expect(refused.body?.errors?.[0]?.message).toMatch(/more that 2500 tokens/);
    const ids = Array.from({ length: 1_000 }, () => `"${crypto.randomUUID()}"`).join(', ');
    const largest = await gql(base, `mutation { markNotificationsRead(ids: [${ids}]) { unreadCount } }`, {}, user, from);
    // Parsed and run: unknown ids are refused by the mutation itself, not by a limit.
    expect(codeOf(largest)).toBe('NOT_FOUND');
  });

  it("refused documents count against the user's requests: a flood of invalid ones is refused RATE_LIMITED like any other", {
    timeout: 60_000,
  }, async () => {
    const user = await t.token(`invalid-flooder-${tag}`);
    const answers = await flood(60, 60, () => gql(base, '{ unreadCount(', {}, user));
    expect(answers.filter((a) => codeOf(a) === 'GRAPHQL_PARSE_FAILED').length).toBe(40);
    const refused = answers.filter((a) => a.status === 429);
    expect(refused.length).toBe(20);
    for (const a of refused) expectRefused(a, 'RATE_LIMIT_USER_REQUESTS');
  });

  it('requests without credentials are counted per address (RATE_LIMIT_ANONYMOUS_REQUESTS_PER_IP, its full window: 6,000 a minute)', {
    timeout: 120_000,
  }, async () => {
    const from = { 'x-forwarded-for': '203.0.113.64' };
    const answers = await flood(6_050, 32, () => gql(base, UNREAD, {}, null, from));
    expect(answers.filter((a) => codeOf(a) === 'UNAUTHENTICATED').length).toBe(6_000);
    const refused = answers.filter((a) => a.status === 429);
    expect(refused.length).toBe(50);
    for (const a of refused) expectRefused(a, 'RATE_LIMIT_ANONYMOUS_REQUESTS_PER_IP');
    // Another address, and a signed-in user from this one, are not affected.
    expect(codeOf(await gql(base, UNREAD, {}, null, { 'x-forwarded-for': '203.0.113.65' }))).toBe('UNAUTHENTICATED');
    expect((await gql(base, UNREAD, {}, await t.token(`signed-in-${tag}`), from)).body?.data?.unreadCount).toBe(0);
  });
});
