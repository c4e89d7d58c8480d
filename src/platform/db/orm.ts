import type { MigrationObject } from '@mikro-orm/core';
import { Migrator } from '@mikro-orm/migrations';
import { MikroORM, type EntityManager, type EntitySchema } from '@mikro-orm/postgresql';
import type { Logger } from '../logger.js';

export type { EntityManager };
export type Orm = MikroORM;

export interface OrmOptions {
  url: string;
  poolMax: number;
  debug: boolean;
  entities: EntitySchema<any, any>[]; // eslint-disable-line @typescript-eslint/no-explicit-any
  migrations: MigrationObject[];
  logger: Logger;
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

/** Applies every pending checked-in migration; returns the names applied. */
export async function migrate(orm: Orm): Promise<string[]> {
  const applied = await orm.migrator.up();
  return applied.map((m) => m.name);
}

export async function pingDb(orm: Orm): Promise<void> {
  await orm.em.getConnection().execute('select 1');
}
