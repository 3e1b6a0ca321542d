import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { EMIT_SCOPE, signToken } from '../../src/auth/tokens.ts';
import { openDatabase } from '../../src/db/index.ts';
import { applyMigrations, compareMigrations, MIGRATIONS_DIR, migrationProblem, SUPERSEDED_CHECKSUMS } from '../../src/db/migrate.ts';
import { additionsAfter, changesAfter } from '../../src/store/notifications.ts';
import { TEST_SECRET } from '../helpers/app.ts';
import { createScratchDatabase, TEST_DATABASE_URL, TEST_REDIS_URL } from '../helpers/backends.ts';
import { freePort, TEST_TICKET_SECRET } from '../helpers/cluster.ts';
import { SseReader } from '../helpers/sse.ts';

const names = readdirSync(MIGRATIONS_DIR, { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name)
  .sort();
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const file = (name: string, script: string) => ({ name, script, checksum: sha(script) });
const row = (name: string, checksum: string, finished = true) => ({
  id: name,
  migration_name: name,
  checksum,
  finished_at: finished ? new Date() : null,
  logs: finished ? null : 'boom',
});

describe('migration files', () => {
  // The Prisma CLI's pg adapter splits a script on every ";" (src/db/migrate.ts): one inside a
  // comment turns the rest of the comment into SQL (the production migration's syntax error).
  it.each(names)('%s has no ";" inside a comment (the Prisma CLI splits scripts on every ";")', (name) => {
    const script = readFileSync(path.join(MIGRATIONS_DIR, name, 'migration.sql'), 'utf8');
    const commentsWithSemicolon = script.split('\n').filter((line) => /--.*;/.test(line));
    expect(commentsWithSemicolon).toEqual([]);
  });
});

describe('compareMigrations (pure)', () => {
  const a = file('1_a', 'CREATE TABLE a (x int);\n');
  const b = file('2_b', 'CREATE TABLE b (x int);\n');

  it('reports pending, failed and applied migrations', () => {
    expect(compareMigrations([a, b], [])).toMatchObject({ applied: [], pending: ['1_a', '2_b'], failed: [] });
    expect(compareMigrations([a, b], [row('1_a', a.checksum), row('2_b', b.checksum, false)])).toMatchObject({
      applied: ['1_a'],
      pending: [],
      failed: [{ name: '2_b', logs: 'boom' }],
    });
  });

  it('counts an applied migration whose text changed as modified, unless only its line endings changed', () => {
    expect(compareMigrations([a], [row('1_a', sha('CREATE TABLE a (y int);\n'))]).modified).toEqual(['1_a']);
    expect(compareMigrations([a], [row('1_a', sha(a.script.replace(/\n/g, '\r\n')))]).modified).toEqual([]);
  });

  it('accepts the recorded earlier texts of a comment-only edit (SUPERSEDED_CHECKSUMS)', () => {
    const name = '20261121200000_bulk_write_path';
    const old = SUPERSEDED_CHECKSUMS[name]?.[0] ?? '';
    const current = file(name, readFileSync(path.join(MIGRATIONS_DIR, name, 'migration.sql'), 'utf8'));
    const status = compareMigrations([current], [row(name, old)]);
    expect(status).toMatchObject({ applied: [name], modified: [], superseded: [name] });
  });
});

describe.runIf(TEST_DATABASE_URL)('migrations on PostgreSQL', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('a database migrated with the old text of bulk_write_path (before its comment fix) migrates again and counts as up to date', async () => {
    const scratch = await createScratchDatabase('herald_mig');
    cleanups.push(scratch.drop);
    const dir = await mkdtemp(path.join(tmpdir(), 'herald-mig-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await cp(MIGRATIONS_DIR, dir, { recursive: true });
    const name = '20261121200000_bulk_write_path';
    const current = readFileSync(path.join(MIGRATIONS_DIR, name, 'migration.sql'), 'utf8');
    const old = current
      .replace('row. Still a UUID: PostgreSQL', 'row. Still a UUID; PostgreSQL')
      .replace('unique per recipient. Rows without', 'unique per recipient; rows without');
    expect(SUPERSEDED_CHECKSUMS[name]).toContain(sha(old));
    await writeFile(path.join(dir, name, 'migration.sql'), old);

    // The old deployment: the old file text, applied by Herald's migrator.
    const { runner } = await connectRunner(scratch.url, cleanups);
    expect(await applyMigrations(runner, dir)).toEqual(names);

    // The new code: nothing to apply, the checksum is brought up to date, and the server may start.
    const db = await openDatabase({ url: scratch.url, poolSize: 2 });
    cleanups.push(() => db.close());
    expect(await db.migrate()).toEqual([]);
    const [recorded] = await db.prisma.$queryRawUnsafe<{ checksum: string }[]>(
      'SELECT checksum FROM "_prisma_migrations" WHERE migration_name = $1',
      name,
    );
    expect(recorded?.checksum).toBe(sha(current));
    const status = await db.migrationStatus();
    expect(migrationProblem(status)).toBeNull();
    expect(status).toMatchObject({ applied: names, pending: [], modified: [], superseded: [] });
    const server = await spawnServer(scratch.url);
    expect(await server.ready()).toBe(true);
  });

  it('change_log on an existing deployment: positions backfilled, replay works, rows of the previous release still readable', async () => {
    const scratch = await createScratchDatabase('herald_mig');
    cleanups.push(scratch.drop);
    const dir = await mkdtemp(path.join(tmpdir(), 'herald-mig-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const name = '20261204000000_change_log';
    const before = names.slice(0, names.indexOf(name));
    for (const n of before) await cp(path.join(MIGRATIONS_DIR, n), path.join(dir, n), { recursive: true });
    const { runner } = await connectRunner(scratch.url, cleanups);
    expect(await applyMigrations(runner, dir)).toEqual(before);
    // The previous release's data: three notifications, the second read.
    await runner.exec(`INSERT INTO inbox_state (user_id, last_seq, unread_count, unseen_count, version, updated_at) VALUES ('old', 3, 2, 2, 3, now());
      INSERT INTO notification (recipient_id, seq, title, body, type) VALUES ('old', 1, 'a', '', 'ALERT'), ('old', 2, 'b', '', 'ALERT'), ('old', 3, 'c', '', 'ALERT');
      UPDATE notification SET read_at = now(), seen_at = now() WHERE seq = 2`);
    await cp(path.join(MIGRATIONS_DIR, name), path.join(dir, name), { recursive: true });
    expect(await applyMigrations(runner, dir)).toEqual([name]);
    const rows = await runner.query<{ seq: string; change_seq: string }>(
      "SELECT seq, change_seq FROM notification WHERE recipient_id = 'old' ORDER BY seq",
    );
    expect(rows.map((r) => [Number(r.seq), Number(r.change_seq)])).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
    ]);
    // An instance of the previous release, during a rolling upgrade, inserts without the column:
    // notificationAdded replays the row (by seq), an inboxEvents replay does not (README, Upgrading).
    await runner.exec(
      "INSERT INTO notification (recipient_id, seq, title, body, type) VALUES ('old', 4, 'd', '', 'ALERT'); UPDATE inbox_state SET last_seq = 4",
    );
    // The new code runs on the database migrated to the end (the migrations after this one too).
    const after = names.slice(names.indexOf(name) + 1);
    for (const n of after) await cp(path.join(MIGRATIONS_DIR, n), path.join(dir, n), { recursive: true });
    expect(await applyMigrations(runner, dir)).toEqual(after);
    const db = await openDatabase({ url: scratch.url, poolSize: 2 });
    cleanups.push(() => db.close());
    const replay = await changesAfter(db.sql, 'old', { after: 1, since: 1, limit: 10 });
    expect(replay.items.map((e) => e.pos)).toEqual([2, 3]);
    expect(replay.head).toMatchObject({ lastSeq: 4, unreadCount: 2 });
    const added = await additionsAfter(db.sql, 'old', { after: 0, limit: 10 });
    expect(added.items.map((n) => [n.seq, n.changeSeq])).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
      [4, 4],
    ]);
  });

  it('view_counts on an existing deployment: what is stored is counted, and every later write keeps the counts', async () => {
    const scratch = await createScratchDatabase('herald_mig');
    cleanups.push(scratch.drop);
    const dir = await mkdtemp(path.join(tmpdir(), 'herald-mig-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const name = '20261204100000_view_counts';
    const before = names.slice(0, names.indexOf(name));
    for (const n of before) await cp(path.join(MIGRATIONS_DIR, n), path.join(dir, n), { recursive: true });
    const { runner } = await connectRunner(scratch.url, cleanups);
    expect(await applyMigrations(runner, dir)).toEqual(before);
    await runner.exec(`INSERT INTO notification (recipient_id, seq, change_seq, title, body, type, category) VALUES
        ('old', 1, 1, 'a', '', 'ALERT', 'billing'), ('old', 2, 2, 'b', '', 'ALERT', 'billing'), ('old', 3, 3, 'c', '', 'UPDATE', NULL)
      ;UPDATE notification SET read_at = now(), seen_at = now() WHERE seq = 2`);
    await cp(path.join(MIGRATIONS_DIR, name), path.join(dir, name), { recursive: true });
    expect(await applyMigrations(runner, dir)).toEqual([name]);
    const counted = () =>
      runner.query<{ category: string; type: string; read: boolean; n: number }>(
        "SELECT category, type::text AS type, read, n FROM inbox_count WHERE user_id = 'old' AND n <> 0 ORDER BY 1, 2, 3",
      );
    expect(await counted()).toEqual([
      { category: '', type: 'UPDATE', read: false, n: 1 },
      { category: 'billing', type: 'ALERT', read: false, n: 1 },
      { category: 'billing', type: 'ALERT', read: true, n: 1 },
    ]);
    // Writes of any kind afterwards, those of an instance of the previous release included.
    await runner.exec(`UPDATE notification SET category = 'social' WHERE seq = 1
      ;DELETE FROM notification WHERE seq = 3
      ;INSERT INTO notification (recipient_id, seq, title, body, type) VALUES ('old', 4, 'd', '', 'PROMOTION')
      ;UPDATE notification SET idempotency_key = NULL`);
    expect(await counted()).toEqual([
      { category: '', type: 'PROMOTION', read: false, n: 1 },
      { category: 'billing', type: 'ALERT', read: true, n: 1 },
      { category: 'social', type: 'ALERT', read: false, n: 1 },
    ]);
  });

  it('npm run db:migrate migrates a fresh database; prisma migrate status agrees', async () => {
    const scratch = await createScratchDatabase('herald_mig');
    cleanups.push(scratch.drop);
    const first = await run('npm', ['run', '-s', 'db:migrate'], { DATABASE_URL: scratch.url });
    expect(first.code, first.output).toBe(0);
    expect(first.output).toContain(`Applied ${names.length} migration(s)`);
    const again = await run('npm', ['run', '-s', 'db:migrate'], { DATABASE_URL: scratch.url });
    expect(again.output).toContain('up to date');
    const status = await run(process.execPath, ['scripts/prisma.mjs', 'migrate', 'status'], { DATABASE_URL: scratch.url });
    expect(status.code, status.output).toBe(0);
    expect(status.output).toContain('Database schema is up to date!');
  });

  it('the server refuses to start on a database with pending migrations (AUTO_MIGRATE=false)', async () => {
    const scratch = await createScratchDatabase('herald_mig');
    cleanups.push(scratch.drop);
    const server = await spawnServer(scratch.url);
    expect(await server.exit()).toBe(1);
    expect(server.output()).toContain(`${names.length} migration(s) pending`);
    expect(server.output()).toContain('npm run db:migrate');
  });

  it('a failed migration is reported, blocks the server and the migrator, and can be rolled back and applied again', async () => {
    const scratch = await createScratchDatabase('herald_mig');
    cleanups.push(scratch.drop);
    const dir = await mkdtemp(path.join(tmpdir(), 'herald-mig-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await cp(MIGRATIONS_DIR, dir, { recursive: true });
    const last = names.at(-1) ?? '';
    const good = readFileSync(path.join(MIGRATIONS_DIR, last, 'migration.sql'), 'utf8');
    await writeFile(
      path.join(dir, last, 'migration.sql'),
      `CREATE TABLE "herald_mig_marker" (x int);
${good}
ALTER TABLE "no_such_table" ADD COLUMN x int;
`,
    );
    const { client, runner } = await connectRunner(scratch.url, cleanups);
    await expect(applyMigrations(runner, dir)).rejects.toThrow(new RegExp(`Migration ${last} failed .*no_such_table`));
    // One transaction: nothing of the failed migration is left (the table it created first is absent).
    const marker = await client.query(`SELECT 1 FROM pg_class WHERE relname = 'herald_mig_marker'`);
    expect(marker.rowCount).toBe(0);

    const server = await spawnServer(scratch.url);
    expect(await server.exit()).toBe(1);
    expect(server.output()).toContain(`Migration ${last} failed`);
    expect(server.output()).toContain(`npm run db:migrate -- --rolled-back ${last}`);
    const blocked = await run('npm', ['run', '-s', 'db:migrate'], { DATABASE_URL: scratch.url });
    expect(blocked.code).toBe(1);
    expect(blocked.output).toContain(`Migration ${last} failed`);

    const resolved = await run('npm', ['run', '-s', 'db:migrate', '--', '--rolled-back', last], { DATABASE_URL: scratch.url });
    expect(resolved.code, resolved.output).toBe(0);
    const fixed = await run('npm', ['run', '-s', 'db:migrate'], { DATABASE_URL: scratch.url });
    expect(fixed.code, fixed.output).toBe(0);
    expect(fixed.output).toContain(last);
    const restarted = await spawnServer(scratch.url);
    expect(await restarted.ready()).toBe(true);
  });
});

describe.runIf(TEST_DATABASE_URL && TEST_REDIS_URL)("the README's production sequence", () => {
  it('npm run db:migrate, then npm start (production, AUTO_MIGRATE=false, PostgreSQL + Redis): query, emit, receive over SSE', async () => {
    const scratch = await createScratchDatabase('herald_prod');
    try {
      const migrated = await run('npm', ['run', '-s', 'db:migrate'], { DATABASE_URL: scratch.url });
      expect(migrated.code, migrated.output).toBe(0);
      const server = await spawnServer(scratch.url, {
        REDIS_URL: TEST_REDIS_URL ?? '',
        REDIS_PREFIX: `herald-prod-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
      });
      try {
        expect(await server.ready(true), server.output()).toBe(true);
        const alice = await signToken(TEST_SECRET, { sub: 'alice' });
        const producer = await signToken(TEST_SECRET, { sub: 'billing', scope: EMIT_SCOPE });
        const post = (token: string, query: string, variables: Record<string, unknown> = {}) =>
          fetch(`${server.url}/graphql`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${token}` },
            body: JSON.stringify({ query, variables }),
          }).then((r) => r.json());
        expect(await post(alice, '{ unreadCount }')).toEqual({ data: { unreadCount: 0 } });

        const subscription = 'subscription { notificationAdded { title } }';
        const response = await fetch(`${server.url}/graphql?query=${encodeURIComponent(subscription)}`, {
          headers: { accept: 'text/event-stream', authorization: `Bearer ${alice}` },
        });
        expect(response.status).toBe(200);
        const stream = new SseReader(response);
        try {
          // The stream is registered once its headers are sent; an emit now is delivered live (or replayed).
          const emitted = await post(
            producer,
            'mutation($input: EmitNotificationInput!) { emitNotification(input: $input) { deliveredCount } }',
            { input: { recipientIds: ['alice'], title: 'Timesheet rejected', body: 'Please fix week 47', type: 'ALERT' } },
          );
          expect(emitted).toEqual({ data: { emitNotification: { deliveredCount: 1 } } });
          const { result } = await stream.nextResult<{ notificationAdded: { title: string } }>(15_000);
          expect(result.data?.notificationAdded.title).toBe('Timesheet rejected');
        } finally {
          await stream.close();
        }
      } finally {
        server.stop();
      }
    } finally {
      await scratch.drop();
    }
  });
});

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const spawned = new Set<ChildProcess>();
afterAll(() => {
  for (const child of spawned) child.kill('SIGKILL');
});

/** Runs a command in the repository to its end. */
function run(cmd: string, args: string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    spawned.add(child);
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('exit', (code) => {
      spawned.delete(child);
      resolve({ code, output });
    });
  });
}

/** A pg connection to `url` (closed after the test) and the migrator's ScriptRunner over it. */
async function connectRunner(url: string, cleanups: (() => Promise<void>)[]) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  cleanups.push(() => client.end());
  const runner = {
    exec: async (sql: string) => {
      await client.query(sql);
    },
    query: async <T>(sql: string, params?: unknown[]) => (await client.query(sql, params)).rows as T[],
  };
  return { client, runner };
}

/** `npm start` in production mode on a database, without AUTO_MIGRATE. */
async function spawnServer(databaseUrl: string, extra: Record<string, string> = {}) {
  const port = await freePort();
  const child = spawn('npm', ['start', '-s'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'production',
      AUTO_MIGRATE: 'false',
      JWT_SECRET: TEST_SECRET,
      STREAM_TICKET_SECRET: TEST_TICKET_SECRET,
      DATABASE_URL: databaseUrl,
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'warn',
      ...extra,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  spawned.add(child);
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = () => {
    // npm start's process group: npm and the node server under it.
    if (child.pid && child.exitCode === null) process.kill(-child.pid, 'SIGKILL');
  };
  return {
    url: `http://127.0.0.1:${port}`,
    output: () => output,
    exit: () => exited,
    stop,
    /** True once /ready answers 200 (false if the process exits first); the server is then stopped unless `keep`. */
    async ready(keep = false): Promise<boolean> {
      const deadline = Date.now() + 30_000;
      try {
        while (Date.now() < deadline && child.exitCode === null) {
          const ok = await fetch(`http://127.0.0.1:${port}/ready`).then(
            (r) => r.ok,
            () => false,
          );
          if (ok) return true;
          await new Promise((r) => setTimeout(r, 100));
        }
        return false;
      } finally {
        if (!keep) stop();
      }
    },
  };
}
