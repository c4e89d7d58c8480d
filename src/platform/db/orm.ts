import type { MigrationObject } from '@mikro-orm/core';
import { Migrator } from '@mikro-orm/migrations';
import { MikroORM, type EntityManager, type EntitySchema } from '@mikro-orm/postgresql';
import type { Logger } from '../logger.js';
import { tagDatabaseOutage } from '../outage.js';

export type { EntityManager };
export type Orm = MikroORM;

export interface OrmOptions {
  url: string;
  poolMax: number;
  debug: boolean;
  entities: EntitySchema<any, any>[]; // eslint-disable-line @typescript-eslint/no-explicit-any
  migrations: MigrationObject[];
  logger: Logger;
  /**
   * How long a query waits for a pooled connection (a new one connecting, or a free one when all are busy)
   * before it fails. Bounded, so a database that is down or unreachable fails requests fast (503) instead
   * of leaving them waiting on the pool. Default 5000.
   */
  connectTimeoutMs?: number;
}

/**
 * MikroORM over PostgreSQL with explicitly listed, checked-in migrations (no glob discovery and no
 * snapshot files, so it runs the same from `tsx` and in tests). Metadata cache is off: on Node 20 its
 * file adapter imports `fs.globSync`, which only Node 22 has.
 */
export async function createOrm(options: OrmOptions): Promise<Orm> {
  return MikroORM.init({
    clientUrl: options.url,
    entities: options.entities,
    extensions: [Migrator],
    metadataCache: { enabled: false },
    discovery: { warnWhenNoEntities: false },
    pool: { min: 0, max: options.poolMax },
    // pg.Pool options. keepAlive: a connection to a host that vanished (no RST) is noticed by the kernel.
    driverOptions: { connectionTimeoutMillis: options.connectTimeoutMs ?? 5000, keepAlive: true, onPoolCreated: tagConnectFailures },
    debug: options.debug,
    logger: (message) => options.logger.debug({ orm: true }, message),
    migrations: {
      migrationsList: options.migrations,
      tableName: 'mikro_orm_migrations',
      snapshot: false,
      transactional: true,
      allOrNothing: true,
      silent: true,
    },
  });
}

type PoolLike = { connect: (...args: unknown[]) => unknown };

/**
 * A refused or timed-out pool connect surfaces as a bare socket error (`connect ECONNREFUSED`) that says
 * nothing about which service refused: tag it, so the outage mapper (platform/outage.ts) answers
 * `db_unavailable` rather than a generic `dependency_unavailable`.
 */
function tagConnectFailures(pool: PoolLike): void {
  const connect = pool.connect.bind(pool);
  pool.connect = (...args: unknown[]) => {
    if (args.length > 0) return connect(...args); // callback form: untouched
    return (connect() as Promise<unknown>).catch((err: unknown) => {
      tagDatabaseOutage(err);
      throw err;
    });
  };
}

/** Applies every pending checked-in migration; returns the names applied. */
export async function migrate(orm: Orm): Promise<string[]> {
  const applied = await orm.migrator.up();
  return applied.map((m) => m.name);
}

export async function pingDb(orm: Orm): Promise<void> {
  await orm.em.getConnection().execute('select 1');
}
