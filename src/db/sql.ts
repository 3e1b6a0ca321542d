import { createHash } from 'node:crypto';
import pg from 'pg';
import type { PrismaClient } from '../generated/prisma/client.ts';

/**
 * Raw SQL for the hot paths (emit, live delivery's gap reads, inbox pages, unread counts).
 *
 * Why not Prisma's client here: every Prisma raw query goes through its query compiler (WebAssembly)
 * and, in interactive transactions, its transaction manager; profiled under load that was the
 * largest single cost of an emit after the HTTP layer. On PostgreSQL these statements run on the
 * same `pg` pool Prisma's driver adapter uses; embedded (PGlite, one connection) they go through
 * Prisma, whose adapter serialises transactions on that connection.
 *
 * The one raw-SQL style of the code base: the repository (src/store/), emit and the inbox's bulk
 * changes all take an `Sql`; Prisma's typed client is kept for low-traffic single-row CRUD
 * (preferences). README, Architecture, "Data access", says which remains where and why.
 *
 * Rows come back as the driver returns them: BIGINT as string (pg) or bigint (Prisma), so callers
 * convert with Number().
 */
export interface Sql {
  query<T>(text: string, params?: readonly unknown[]): Promise<T[]>;
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Sql) => Promise<T>, options?: { isolation?: 'REPEATABLE READ' | 'SERIALIZABLE' }): Promise<T>;
}

/**
 * Herald's statements are a fixed set of texts, so on PostgreSQL each runs as a named prepared
 * statement: each connection parses it once and PostgreSQL can keep its plan, instead of parsing
 * and planning every emit's statement again (measured with the bench at 1,000 emits/s: PostgreSQL
 * used about 0.6 ms of CPU per emit with unnamed statements).
 */
const statementNames = new Map<string, string>();
function prepared(text: string, params: readonly unknown[]): pg.QueryConfig {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = `herald_${createHash('sha1').update(text).digest('hex').slice(0, 16)}`;
    statementNames.set(text, name);
  }
  return { name, text, values: params as unknown[], types: TYPES };
}

/**
 * pg's own parsers, except for timestamps: rows written by one statement share its transaction's
 * time, so the last text is remembered and only copied (a 10,000-recipient emit returned 10,000
 * identical `created_at` texts, each parsed with a regular expression).
 */
const TYPES = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    const parse = pg.types.getTypeParser(oid, format ?? 'text');
    if (oid !== pg.types.builtins.TIMESTAMPTZ || format === 'binary') return parse;
    let lastText: string | undefined;
    let lastTime = 0;
    return (text: string) => {
      if (text !== lastText) {
        lastTime = (parse(text) as Date).getTime();
        lastText = text;
      }
      return new Date(lastTime);
    };
  },
} as pg.CustomTypesConfig;

export function poolSql(pool: pg.Pool): Sql {
  return {
    async query<T>(text: string, params: readonly unknown[] = []) {
      return (await pool.query(prepared(text, params))).rows as T[];
    },
    async transaction(fn, options) {
      const client = await pool.connect();
      const tx: Sql = {
        async query<T>(text: string, params: readonly unknown[] = []) {
          return (await client.query(prepared(text, params))).rows as T[];
        },
        transaction: (inner) => inner(tx),
      };
      let broken: Error | undefined;
      try {
        await client.query(options?.isolation ? `BEGIN ISOLATION LEVEL ${options.isolation}` : 'BEGIN');
        const result = await fn(tx);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        try {
          await client.query('ROLLBACK');
        } catch (rollbackError) {
          broken = rollbackError as Error; // the connection is gone: do not return it to the pool
        }
        throw error;
      } finally {
        client.release(broken);
      }
    },
  };
}

export function prismaSql(prisma: PrismaClient): Sql {
  const wrap = (db: Pick<PrismaClient, '$queryRawUnsafe'>): Sql => ({
    query: <T>(text: string, params: readonly unknown[] = []) => db.$queryRawUnsafe<T[]>(text, ...params),
    transaction: (fn) => fn(wrap(db)),
  });
  return {
    ...wrap(prisma),
    transaction: (fn, options) =>
      prisma.$transaction((tx) => fn(wrap(tx)), {
        timeout: 60_000,
        maxWait: 10_000,
        ...(options?.isolation ? { isolationLevel: options.isolation === 'SERIALIZABLE' ? 'Serializable' : 'RepeatableRead' } : {}),
      }),
  };
}
