import { createApp, type HubApp } from './app.js';
import type { Config } from './platform/config.js';
import { startEmbeddedPostgres, type EmbeddedDb } from './platform/db/embedded.js';
import { createOrm, migrate, type Orm } from './platform/db/orm.js';
import type { Logger } from './platform/logger.js';
import { connectRedis, type RedisClients } from './platform/redis.js';
import { migrations } from './migrations/index.js';
import { entities } from './schema.js';

export interface RunningHub {
  app: HubApp;
  orm: Orm;
  stop(): Promise<void>;
}

export async function openDatabase(config: Config, logger: Logger): Promise<{ orm: Orm; embedded: EmbeddedDb | null; applied: string[] }> {
  const embedded = config.db.url ? null : await startEmbeddedPostgres(config.dataDir, config.db.embeddedPort, logger);
  const url = config.db.url ?? embedded!.url;
  const orm = await createOrm({ url, poolMax: config.db.poolMax, debug: config.db.debug, entities, migrations, logger });
  const applied = await migrate(orm);
  if (applied.length) logger.info({ applied }, 'migrations applied');
  return { orm, embedded, applied };
}

/** Composition root shared by `npm start`, `npm run hub` and the tests: database, Redis, app, listen. */
export async function startHub(config: Config, logger: Logger): Promise<RunningHub> {
  const started = Date.now();
  const { orm, embedded } = await openDatabase(config, logger);
  let redis: RedisClients | null = null;
  try {
    redis = config.redis.url ? await connectRedis(config.redis.url, logger) : null;
    if (!redis) logger.info('no REDIS_URL: single node, in-memory adapter and rate limits');
    const app = await createApp({ config, logger, orm, redis });
    const { username, password } = config.auth.admin;
    if (username && password) {
      const outcome = await app.identity.bootstrapAdmin(orm.em.fork(), username, password);
      logger.info({ username, outcome }, 'admin bootstrap');
    }
    await app.listen();
    logger.info({ ms: Date.now() - started }, 'startup complete');
    return {
      app,
      orm,
      async stop() {
        await app.close();
        await orm.close();
        await redis?.close();
        await embedded?.stop();
      },
    };
  } catch (err) {
    await orm.close();
    await redis?.close();
    await embedded?.stop();
    throw err;
  }
}
