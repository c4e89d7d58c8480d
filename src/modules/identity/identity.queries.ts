import type { Orm } from '../../platform/db/orm.js';
import type { UserDto } from './identity.schemas.js';
import type { AuthState } from './user-cache.js';

/** The slice of `pg.Pool` the hot-path queries use. */
interface Queryable {
  query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: Record<string, unknown>[] }>;
}

export interface IdentityQueries {
  authState(userId: number): Promise<AuthState | null>;
  userDto(userId: number): Promise<UserDto | null>;
}

/**
 * The two queries on every authenticated request, as named prepared statements on the ORM's own pg
 * pool. Building and hydrating an entity for a single row cost about a third of a request's CPU; these
 * rows are read-only snapshots, so there is nothing for the unit of work to track.
 */
export function createIdentityQueries(orm: Orm): IdentityQueries {
  let pool: Promise<Queryable> | null = null;
  const db = () => (pool ??= orm.em.getConnection().getNativeClient() as Promise<unknown> as Promise<Queryable>);

  return {
    async authState(userId) {
      const { rows } = await (await db()).query({
        name: 'easel_auth_state',
        text: 'select role, token_version from users where id = $1',
        values: [userId],
      });
      const row = rows[0];
      return row ? { role: row.role as AuthState['role'], tokenVersion: Number(row.token_version) } : null;
    },
    async userDto(userId) {
      const { rows } = await (await db()).query({
        name: 'easel_auth_me',
        text: 'select id, username, display_name, role, created_at from users where id = $1',
        values: [userId],
      });
      const row = rows[0];
      if (!row) return null;
      const created = row.created_at instanceof Date ? row.created_at : new Date(String(row.created_at));
      return {
        id: Number(row.id),
        username: String(row.username),
        display_name: (row.display_name as string | null) ?? null,
        role: row.role as UserDto['role'],
        created_at: created.toISOString(),
      };
    },
  };
}
