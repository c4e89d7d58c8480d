/**
 * `npm run cluster -- --hubs 2 --workers 1`: the docker-compose topology without Docker, on loopback. N hub
 * processes (`src/main.ts --hub`: no in-process worker) share one PostgreSQL database, one Redis (socket.io's
 * Redis adapter carries broadcasts between them) and one DATA_DIR (the local media driver: every hub sees the
 * same files); M worker processes (`src/worker.ts`) connect to the hubs round-robin with worker tokens signed by
 * the cluster's JWT secret. Migrations run once before any hub starts, as docker-compose's `migrate` does.
 *
 * Prints one line per hub/worker as it comes up, then a JSON summary line (`{"cluster":{...}}`) that scripts
 * and benchmarks read; stays in the foreground until SIGINT/SIGTERM, then stops every process (hubs drain).
 * Tests and benchmarks import `startCluster` instead.
 *
 *   npm run cluster -- --hubs 2 --workers 1                 # hubs on :8001 and :8002
 *   npm run cluster -- --hubs 3 --port 0 --engine node      # ephemeral ports, node:http engine
 *
 * DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/easel_cluster, created when missing), REDIS_URL
 * (default redis://127.0.0.1:6379), JWT_SECRET (default: a random one for this run) come from the environment.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { tokenServiceFromConfig } from '../src/modules/identity/identity.factory.js';
import { loadConfig } from '../src/platform/config.js';
import { UsageError, parseFlags, runCli } from './cli.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const USAGE = `usage: npm run cluster -- [--hubs N] [--workers M] [--port P] [--engine auto|uws|node] [--data-dir DIR] [--log-level L]
  --hubs       hub processes (default 2)
  --workers    worker processes (default 1; 0 for none)
  --port       first hub's port, the others follow (default 8001; 0: ephemeral ports)
  --engine     HTTP engine of every hub (default auto)
  --data-dir   shared DATA_DIR (media) of the hubs (default: a new temp directory)
  --log-level  children's log level (default warn)
env: DATABASE_URL, REDIS_URL, JWT_SECRET (see the file's header)`;

export interface ClusterOptions {
  hubs: number;
  workers: number;
  /** First hub's port; 0: every hub takes an ephemeral one. */
  port?: number;
  engine?: 'auto' | 'uws' | 'node';
  databaseUrl?: string;
  redisUrl?: string;
  /** Default: `easel-cluster:<random>:`, so two clusters on one Redis do not mix. */
  redisPrefix?: string;
  jwtSecret?: string;
  dataDir?: string;
  logLevel?: string;
  /** Extra environment for every hub (e.g. EASEL__... settings). */
  hubEnv?: Record<string, string>;
  /** Each child's log lines, for a caller that wants them (the CLI prints them). */
  onLog?: (name: string, line: string) => void;
}

export interface ClusterProcess {
  name: string;
  pid: number;
  child: ChildProcess;
  exited: Promise<number | null>;
}

export interface RunningCluster {
  hubs: (ClusterProcess & { url: string; port: number })[];
  workers: (ClusterProcess & { hubUrl: string; workerId: string })[];
  databaseUrl: string;
  redisUrl: string;
  redisPrefix: string;
  jwtSecret: string;
  dataDir: string;
  /** SIGTERM to every process (workers first, then hubs), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

const DEFAULT_DB = 'postgresql://postgres@127.0.0.1:5432/easel_cluster';
const DEFAULT_REDIS = 'redis://127.0.0.1:6379';

/** Creates the database named in `url` when it does not exist (through the server's `postgres` database). */
async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  if (!/^[A-Za-z0-9_]+$/.test(name)) return; // an unusual name: the operator made it
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (found.rowCount === 0) await client.query(`create database ${name}`);
  } finally {
    await client.end();
  }
}

function spawnNode(name: string, args: string[], env: Record<string, string>, onLog?: ClusterOptions['onLog']) {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : null))));
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => {
      lines.push(line);
      if (lines.length > 200) lines.shift();
      onLog?.(name, line);
    });
  }
  return { child, exited, lines };
}

/** Resolves with the first JSON log line whose `msg` is `msg`; rejects if the process exits or time runs out. */
function waitForLog(proc: ReturnType<typeof spawnNode>, name: string, msg: string, timeoutMs: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name}: no '${msg}' within ${timeoutMs} ms\n${proc.lines.slice(-20).join('\n')}`)), timeoutMs);
    const check = (line: string) => {
      if (!line.includes(msg)) return;
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        if (entry.msg !== msg) return;
        clearTimeout(timer);
        resolve(entry);
      } catch {
        /* not a log line */
      }
    };
    proc.lines.forEach(check);
    for (const stream of [proc.child.stdout!, proc.child.stderr!]) createInterface({ input: stream }).on('line', check);
    void proc.exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} before '${msg}'\n${proc.lines.slice(-20).join('\n')}`));
    });
  });
}

async function stopAll(procs: ClusterProcess[], graceMs: number): Promise<void> {
  await Promise.all(
    procs.map(async (p) => {
      if (p.child.exitCode !== null || p.child.signalCode !== null) return;
      p.child.kill('SIGTERM');
      const timer = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
      await p.exited;
      clearTimeout(timer);
    }),
  );
}

export async function startCluster(options: ClusterOptions): Promise<RunningCluster> {
  const databaseUrl = options.databaseUrl ?? process.env.DATABASE_URL ?? DEFAULT_DB;
  const redisUrl = options.redisUrl ?? process.env.REDIS_URL ?? DEFAULT_REDIS;
  const redisPrefix = options.redisPrefix ?? `easel-cluster:${randomBytes(4).toString('hex')}:`;
  const jwtSecret = options.jwtSecret ?? process.env.JWT_SECRET ?? randomBytes(32).toString('hex');
  const ownDataDir = !options.dataDir;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'easel-cluster-'));
  const logLevel = options.logLevel ?? 'warn';
  // Hubs log 'hub listening' at info: the cluster needs it to learn the port, whatever level the caller wants.
  const hubLogLevel = ['fatal', 'error', 'warn', 'silent'].includes(logLevel) ? 'info' : logLevel;
  const common = { NODE_ENV: process.env.NODE_ENV === 'production' ? 'production' : 'development', DATABASE_URL: databaseUrl, JWT_SECRET: jwtSecret, DATA_DIR: dataDir };

  // Best effort: a role that may not create databases just gets migrate's clearer error below.
  await ensureDatabase(databaseUrl).catch(() => undefined);
  const migrate = spawnNode('migrate', ['scripts/migrate.ts'], { ...common, LOG_LEVEL: 'warn' }, options.onLog);
  const code = await migrate.exited;
  if (code !== 0) throw new Error(`migrate exited with ${code}\n${migrate.lines.join('\n')}`);

  const started: ClusterProcess[] = [];
  try {
    const hubs: RunningCluster['hubs'] = [];
    // One at a time: each hub's startup (tsx transpile, pools, Redis) is CPU-heavy on a small machine.
    for (let i = 0; i < options.hubs; i++) {
      const name = `hub${i + 1}`;
      const port = options.port === undefined ? 8001 + i : options.port === 0 ? 0 : options.port + i;
      const proc = spawnNode(name, ['src/main.ts', '--hub'], {
        ...common,
        ...options.hubEnv,
        HOST: '127.0.0.1',
        PORT: String(port),
        HTTP_ENGINE: options.engine ?? 'auto',
        REDIS_URL: redisUrl,
        EASEL__REDIS__KEY_PREFIX: redisPrefix,
        LOG_LEVEL: hubLogLevel,
      }, options.onLog);
      const entry: ClusterProcess = { name, pid: proc.child.pid!, child: proc.child, exited: proc.exited };
      started.push(entry);
      const listening = await waitForLog(proc, name, 'hub listening', 90_000);
      const actual = Number(listening.port);
      hubs.push({ ...entry, port: actual, url: `http://127.0.0.1:${actual}` });
    }

    const tokens = tokenServiceFromConfig(loadConfig({ env: { NODE_ENV: 'development', JWT_SECRET: jwtSecret, DATA_DIR: dataDir } }));
    const workers: RunningCluster['workers'] = [];
    for (let i = 0; i < options.workers; i++) {
      const name = `worker${i + 1}`;
      const workerId = `cluster-${name}`;
      const hubUrl = hubs[i % hubs.length]!.url;
      const { token } = await tokens.issueWorker(workerId);
      const proc = spawnNode(name, ['src/worker.ts'], { NODE_ENV: common.NODE_ENV, DATA_DIR: dataDir, HUB_URL: hubUrl, WORKER_TOKEN: token, LOG_LEVEL: hubLogLevel }, options.onLog);
      const entry: ClusterProcess = { name, pid: proc.child.pid!, child: proc.child, exited: proc.exited };
      started.push(entry);
      await waitForLog(proc, name, 'worker registered with the hub', 90_000);
      workers.push({ ...entry, hubUrl, workerId });
    }

    return {
      hubs, workers, databaseUrl, redisUrl, redisPrefix, jwtSecret, dataDir,
      async stop(graceMs = 15_000) {
        await stopAll(workers, graceMs);
        await stopAll(hubs, graceMs);
        if (ownDataDir) rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await stopAll(started, 5_000);
    if (ownDataDir) rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
}

function positiveInt(name: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min) throw new UsageError(`--${name} must be a whole number >= ${min}, got '${value}'`);
  return n;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  runCli('cluster', USAGE, async () => {
    const flags = parseFlags(
      process.argv.slice(2),
      { hubs: { type: 'string' }, workers: { type: 'string' }, port: { type: 'string' }, engine: { type: 'string' }, 'data-dir': { type: 'string' }, 'log-level': { type: 'string' } },
      USAGE,
    );
    const hubs = positiveInt('hubs', flags.hubs, 2, 1);
    const workers = positiveInt('workers', flags.workers, 1, 0);
    const port = positiveInt('port', flags.port, 8001, 0);
    if (port > 0 && port + hubs - 1 > 65535) throw new UsageError(`--port ${port} leaves no room for ${hubs} hubs`);
    const engine = flags.engine ?? 'auto';
    if (engine !== 'auto' && engine !== 'uws' && engine !== 'node') throw new UsageError(`--engine must be auto, uws or node, got '${engine}'`);
    const logLevel = flags['log-level'] ?? 'warn';
    const quiet = new Set(['fatal', 'error', 'warn', 'silent']).has(logLevel);
    const t0 = Date.now();
    const cluster = await startCluster({
      hubs, workers, port, engine, logLevel, ...(flags['data-dir'] ? { dataDir: flags['data-dir'] } : {}),
      onLog: (name, line) => {
        // Info lines are how the cluster learns ports; show them only when asked for info or more.
        if (quiet && /"level":(30|20|10)\b/.test(line)) return;
        console.error(`[${name}] ${line}`);
      },
    });
    for (const h of cluster.hubs) console.error(`${h.name}  ${h.url}  pid ${h.pid}`);
    for (const w of cluster.workers) console.error(`${w.name}  -> ${w.hubUrl}  pid ${w.pid}`);
    console.error(`cluster up in ${((Date.now() - t0) / 1000).toFixed(1)} s (database ${cluster.databaseUrl}, Redis prefix ${cluster.redisPrefix}, DATA_DIR ${cluster.dataDir}); Ctrl-C stops it`);
    console.log(JSON.stringify({ cluster: { hubs: cluster.hubs.map((h) => ({ name: h.name, url: h.url, pid: h.pid })), workers: cluster.workers.map((w) => ({ name: w.name, hubUrl: w.hubUrl, pid: w.pid, workerId: w.workerId })), dataDir: cluster.dataDir, redisPrefix: cluster.redisPrefix } }));

    return new Promise<number>((resolve) => {
      let stopping = false;
      const stop = () => {
        if (stopping) return;
        stopping = true;
        console.error('stopping the cluster (hubs drain)');
        void cluster.stop().then(() => resolve(0));
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      // A child that dies on its own is reported; the rest keep running (kill a node to watch failover).
      for (const p of [...cluster.hubs, ...cluster.workers]) void p.exited.then((code) => !stopping && console.error(`${p.name} (pid ${p.pid}) exited with ${code}`));
    });
  });
}
