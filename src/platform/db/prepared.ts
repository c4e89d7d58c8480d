import { createHash } from 'node:crypto';
import { tagDatabaseOutage } from '../outage.js';
import type { EntityManager } from './orm.js';

/** The slice of `pg.Pool` used for named statements. */
interface Queryable {
  query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }>;
}
const pools = new WeakMap<object, Promise<Queryable>>();
const statements = new Map<string, { name: string; text: string }>();
const SQLSTATE = /^[0-9A-Z]{5}$/;

/**
 * Runs `sql` (with `?` placeholders) as a named prepared statement on the ORM's pool, so a hot statement is
 * planned once per connection instead of on every call (for the jobs store's complete-and-claim statement,
 * planning took about as long as running it). Inside a transaction it goes through the transaction's
 * connection instead, unprepared.
 *
 * @example
 * const rows = await runPrepared<JobRow>(em, 'update jobs set ... where id = ? returning *', [id]);
 */
export async function runPrepared<T>(em: EntityManager, sql: string, params: unknown[]): Promise<T[]> {
  if (em.isInTransaction()) return em.execute<T[]>(sql, params);
  let statement = statements.get(sql);
  if (!statement) {
    let n = 0;
    const text = sql.replace(/\?/g, () => `$${++n}`);
    statement = { name: `easel_${createHash('sha256').update(text).digest('hex').slice(0, 16)}`, text };
    statements.set(sql, statement);
  }
  const conn = em.getConnection();
  let pool = pools.get(conn);
  if (!pool) {
    pool = conn.getNativeClient() as Promise<unknown> as Promise<Queryable>;
    pools.set(conn, pool);
  }
  try {
    return (await (await pool).query({ ...statement, values: params })).rows as T[];
  } catch (err) {
    // Errors without a SQLSTATE never reached the server (refused, timed out, cut): the database is unavailable,
    // and callers answer db_unavailable, not a generic 503 (the ORM's own pool connects are tagged in orm.ts).
    const code = (err as { code?: unknown } | null)?.code;
    if (!(typeof code === 'string' && SQLSTATE.test(code))) tagDatabaseOutage(err);
    throw err;
  }
}
