/**
 * Job dispatch (issue 7, "Measure"): no-op jobs end to end through a hub process and socket workers, with 1
 * and WORKERS_MANY (4) workers; in the same run, BullMQ on the same Redis and
 * graphile-worker on the same PostgreSQL doing the same no-op jobs with the same total concurrency
 * (both pinned devDependencies).
 *
 *   npx tsx load-tests/jobs-dispatch.ts                              # JOBS=2000, RUNS=3
 *   JOBS=200 RUNS=1 npx tsx load-tests/jobs-dispatch.ts              # smoke
 *
 * Per side and run: jobs/s (JOBS submitted in batches of BATCH, from the first submit to the last
 * completion ack) and submit→start latency p50/p99 (submit: the client's clock when the batch's INSERT was
 * sent; start: the worker's clock when the job reached it; same process, same clock). Our jobs are inserted
 * with jobs.store.insertJob's statement and NOTIFY (owner null, so no per-user limit; a batch per statement), workers are
 * socket.io clients on `/workers` that complete each job at once. CONCURRENCY: slots per worker (4).
 * Ours also reports submit→start with idle workers (IDLE_JOBS jobs, 100, one at a time): the wake-up path
 * without a backlog.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';
import { io as connect, type Socket } from 'socket.io-client';
import { tokenServiceFromConfig } from '../src/modules/identity/identity.factory.js';
import { COLUMNS, withPushes } from '../src/modules/jobs/jobs.store.js';
import { loadConfig } from '../src/platform/config.js';
import { startChildHub } from '../test/helpers/child-hub.js';
import { REDIS_URL } from '../test/helpers/db.js';
import { fmt, freshDatabase } from './baselines/harness.js';
import { announce, interleaved, machineLoad, median, percentile, runCount } from './baselines/stats.js';

const num = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const JOBS = num('JOBS', 2000);
const BATCH = num('BATCH', 50);
const CONCURRENCY = num('CONCURRENCY', 4);
const WORKERS_MANY = num('WORKERS_MANY', 4);
const IDLE_JOBS = num('IDLE_JOBS', 100);
const JWT_SECRET = `bench-${randomBytes(16).toString('hex')}`;
const SHA = 'a'.repeat(64);
const INPUT = JSON.stringify({ sha256s: [SHA, SHA] });

/** The slices of the peers' APIs used here (devDependencies, loaded only by this benchmark). */
interface BullMod {
  Queue: new (name: string, o: object) => {
    addBulk(jobs: { name: string; data: unknown; opts?: object }[]): Promise<{ id?: string }[]>;
    obliterate(o: object): Promise<void>;
    close(): Promise<void>;
  };
  Worker: new (name: string, fn: (job: { id?: string }) => Promise<void>, o: object) => {
    on(event: 'completed', fn: () => void): void;
    waitUntilReady(): Promise<unknown>;
    close(): Promise<void>;
  };
}
interface GraphileMod {
  run(o: { connectionString: string; concurrency: number; noHandleSignals: boolean; logger: unknown; taskList: Record<string, (payload: unknown) => Promise<void>> }): Promise<{ stop(): Promise<void> }>;
  Logger: new (factory: () => () => void) => unknown;
  makeWorkerUtils(o: { connectionString: string }): Promise<{ addJobs(jobs: { identifier: string; payload: unknown }[]): Promise<unknown>; release(): Promise<void> }>;
}

interface Result {
  jobsPerSec: number;
  p50: number;
  p99: number;
  cpu?: CpuPerJob;
  /** Ours only: submit→start with idle workers, IDLE_JOBS jobs one at a time. */
  idleP50?: number;
  idleP99?: number;
}

function summarise(submitted: Map<string, number>, started: Map<string, number>, first: number, last: number): Result {
  const lat = [...started].map(([id, t]) => t - (submitted.get(id) ?? t));
  return { jobsPerSec: (submitted.size * 1000) / Math.max(1, last - first), p50: percentile(lat, 50), p99: percentile(lat, 99) };
}

/**
 * CPU time per job, by process: what each side's work costs, whatever the machine's load (a busy machine
 * stretches wall time far more than CPU time). `hub`: the hub process; `pg`: the PostgreSQL backends serving the
 * benchmark's database (identified by its name in their process titles); `redis`: redis-server (shared with
 * anything else using it); `client`: this process (our socket workers, the peers' whole workers). Linux /proc only.
 */
interface CpuPerJob {
  hub: number;
  pg: number;
  redis: number;
  client: number;
}
const TICK_MS = 1000 / 100; // USER_HZ is 100 on Linux x86-64

function cpuTicks(match: (cmd: string, pid: number) => boolean): Map<number, number> {
  const out = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0/g, ' ');
      if (!match(cmd, pid)) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(pid, Number(fields[11]) + Number(fields[12]));
    } catch {
      // the process ended between listing and reading
    }
  }
  return out;
}

function cpuMeter(dbName: string, hubPid: number | null): { stop(jobs: number): CpuPerJob } {
  const groups = {
    hub: (_cmd: string, pid: number) => pid === hubPid,
    pg: (cmd: string) => cmd.startsWith('postgres:') && cmd.includes(` ${dbName} `),
    redis: (cmd: string) => cmd.startsWith('redis-server'),
  };
  const before = Object.fromEntries(Object.entries(groups).map(([k, m]) => [k, cpuTicks(m)])) as Record<keyof typeof groups, Map<number, number>>;
  const client = process.cpuUsage();
  return {
    stop(jobs) {
      const delta = (k: keyof typeof groups) => {
        let ticks = 0;
        // A process that started during the side counts whole; one that ended is lost (none do before `stop`).
        for (const [pid, t] of cpuTicks(groups[k])) ticks += t - (before[k].get(pid) ?? 0);
        return (ticks * TICK_MS * 1000) / jobs;
      };
      const c = process.cpuUsage(client);
      return { hub: delta('hub'), pg: delta('pg'), redis: delta('redis'), client: (c.user + c.system) / jobs };
    },
  };
}

async function oursSide(url: string, dbUrl: string, workers: number, hubPid: number): Promise<Result> {
  const tokens = tokenServiceFromConfig(loadConfig({ env: { NODE_ENV: 'test', JWT_SECRET } }));
  const sockets: Socket[] = [];
  const submitted = new Map<string, number>();
  const started = new Map<string, number>();
  let done = 0;
  let last = 0;
  let finish!: () => void;
  const all = new Promise<void>((r) => (finish = r));
  for (let i = 0; i < workers; i++) {
    const { token } = await tokens.issueWorker(`bench-${i}`);
    const s = connect(`${url}/workers`, { auth: { token }, transports: ['websocket'], forceNew: true });
    s.on('job:assign', (a: { jobId: string; input: { sha256s: string[] } }) => {
      started.set(a.jobId, Date.now());
      s.emit('job:complete', { jobId: a.jobId, result: { scores: [], pick: SHA } }, () => {
        last = Date.now();
        if (++done === JOBS) finish();
      });
    });
    await new Promise<void>((r) => s.once('connect', () => r()));
    await s.emitWithAck('worker:hello', { capabilities: { types: ['bestcut'], provider: 'none', concurrency: CONCURRENCY }, instanceId: `b${i}` });
    sockets.push(s);
  }
  const sql = new pg.Client({ connectionString: dbUrl });
  await sql.connect();
  const meter = cpuMeter(new URL(dbUrl).pathname.slice(1), hubPid);
  const first = Date.now();
  for (let sent = 0; sent < JOBS; sent += BATCH) {
    const n = Math.min(BATCH, JOBS - sent);
    const at = Date.now();
    await sql.query('begin');
    // jobs.store.insertJob's statement (row + its first history event), for a batch.
    const { rows } = await sql.query<{ id: string }>(
      `${withPushes(`insert into jobs (type, owner_id, input, priority, max_attempts, stage) select 'bestcut', null, $1::jsonb, 0, 3, 'queued' from generate_series(1, $2) returning ${COLUMNS}`)}
       select id from u`,
      [INPUT, n],
    );
    await sql.query(`select pg_notify('easel_jobs', '{"type":"bestcut","delayMs":0}')`);
    await sql.query('commit');
    for (const r of rows) submitted.set(r.id, at);
  }
  await all;
  const result = { ...summarise(submitted, started, first, last), cpu: meter.stop(JOBS) };
  // Idle workers, one job at a time: how fast new work reaches a worker (NOTIFY → claim → assign).
  const idle: number[] = [];
  for (let i = 0; i < IDLE_JOBS; i++) {
    const at = Date.now();
    const { rows } = await sql.query<{ id: string }>(
      `${withPushes(`insert into jobs (type, owner_id, input, priority, max_attempts, stage) values ('bestcut', null, $1::jsonb, 0, 3, 'queued') returning ${COLUMNS}`)}
       select id, pg_notify('easel_jobs', '{"type":"bestcut","delayMs":0}') from u`,
      [INPUT],
    );
    const id = rows[0]!.id;
    while (!started.has(id)) await new Promise((r) => setImmediate(r));
    idle.push(started.get(id)! - at);
    await new Promise((r) => setTimeout(r, 2));
  }
  await sql.end();
  for (const s of sockets) s.close();
  return { ...result, idleP50: percentile(idle, 50), idleP99: percentile(idle, 99) };
}

async function bullmqSide(workers: number): Promise<Result | null> {
  const mod = (await import('bullmq' as string).catch(() => null)) as BullMod | null;
  if (!mod) return null;
  const { Queue, Worker } = mod;
  const connection = { url: REDIS_URL } as never;
  const name = `bench-${randomBytes(4).toString('hex')}`;
  const queue = new Queue(name, { connection });
  const submitted = new Map<string, number>();
  const started = new Map<string, number>();
  let done = 0;
  let last = 0;
  let finish!: () => void;
  const all = new Promise<void>((r) => (finish = r));
  const ws = Array.from({ length: workers }, () => new Worker(name, async (job) => void started.set(job.id!, Date.now()), { connection, concurrency: CONCURRENCY }));
  for (const w of ws) {
    w.on('completed', () => {
      last = Date.now();
      if (++done === JOBS) finish();
    });
    await w.waitUntilReady();
  }
  const meter = cpuMeter('-', null);
  const first = Date.now();
  for (let sent = 0; sent < JOBS; sent += BATCH) {
    const at = Date.now();
    const jobs = await queue.addBulk(Array.from({ length: Math.min(BATCH, JOBS - sent) }, () => ({ name: 'noop', data: { sha256s: [SHA, SHA] }, opts: { removeOnComplete: true } })));
    for (const j of jobs) submitted.set(j.id!, at);
  }
  await all;
  const cpu = meter.stop(JOBS);
  await Promise.all(ws.map((w) => w.close()));
  await queue.obliterate({ force: true }).catch(() => {});
  await queue.close();
  return { ...summarise(submitted, started, first, last), cpu };
}

async function graphileSide(dbUrl: string, workers: number): Promise<Result | null> {
  const mod = (await import('graphile-worker' as string).catch(() => null)) as GraphileMod | null;
  if (!mod) return null;
  const { run, makeWorkerUtils } = mod;
  const submitted = new Map<string, number>();
  const started = new Map<string, number>();
  let done = 0;
  let last = 0;
  let finish!: () => void;
  const all = new Promise<void>((r) => (finish = r));
  const runners = await Promise.all(
    Array.from({ length: workers }, () =>
      run({
        connectionString: dbUrl,
        concurrency: CONCURRENCY,
        noHandleSignals: true,
        // Its default logger prints a line per job; Easel's hub logs none per job either.
        logger: new mod.Logger(() => () => {}),
        taskList: {
          noop: async (payload) => {
            started.set((payload as { key: string }).key, Date.now());
            last = Date.now();
            if (++done === JOBS) finish();
          },
        },
      }),
    ),
  );
  const utils = await makeWorkerUtils({ connectionString: dbUrl });
  const meter = cpuMeter(new URL(dbUrl).pathname.slice(1), null);
  const first = Date.now();
  for (let sent = 0; sent < JOBS; sent += BATCH) {
    const at = Date.now();
    const keys = Array.from({ length: Math.min(BATCH, JOBS - sent) }, (_, i) => `k${sent + i}`);
    await utils.addJobs(keys.map((key) => ({ identifier: 'noop', payload: { key } })));
    for (const k of keys) submitted.set(k, at);
  }
  await all;
  const cpu = meter.stop(JOBS);
  await utils.release();
  await Promise.all(runners.map((r) => r.stop()));
  return { ...summarise(submitted, started, first, last), cpu };
}

async function main(): Promise<void> {
  const runs = runCount(3);
  announce(`jobs-dispatch (${JOBS} no-op jobs, batches of ${BATCH}, ${CONCURRENCY} slots per worker)`, runs);
  const db = await freshDatabase();
  const hub = await startChildHub({
    env: { HTTP_ENGINE: 'uws', DATABASE_URL: db.url, REDIS_URL, JWT_SECRET, EASEL__REDIS__KEY_PREFIX: `bench-${randomBytes(4).toString('hex')}:`, LOG_LEVEL: 'info',
      // A worker socket may send 500 events/s by default (config jobs.workerEvents): a guard against a runaway
      // worker, not part of dispatch. No-op jobs at thousands/s would hit it, and the peers have no such limit.
      EASEL__JOBS__WORKER_EVENTS: JSON.stringify({ limit: 1_000_000, windowSeconds: 1 }),
    },
    nodeArgs: process.env.HUB_NODE_ARGS?.split(' ').filter(Boolean) ?? [],
  });
  const sides: Record<string, () => Promise<Result | null>> = {
    'easel 1 worker': () => oursSide(hub.url, db.url, 1, hub.pid),
    [`easel ${WORKERS_MANY} workers`]: () => oursSide(hub.url, db.url, WORKERS_MANY, hub.pid),
    'bullmq 1 worker': () => bullmqSide(1),
    [`bullmq ${WORKERS_MANY} workers`]: () => bullmqSide(WORKERS_MANY),
    'graphile-worker 1 runner': () => graphileSide(db.url, 1),
    [`graphile-worker ${WORKERS_MANY} runners`]: () => graphileSide(db.url, WORKERS_MANY),
  };
  // SIDES=easel (a substring) runs only the matching sides; HUB_NODE_ARGS (e.g. '--cpu-prof --cpu-prof-dir=/tmp/prof') go to the hub process.
  const only = process.env.SIDES;
  if (only) for (const k of Object.keys(sides)) if (!k.includes(only)) delete sides[k];
  const results = await interleaved(runs, sides, (side, run, r) =>
    console.log(
      r
        ? `  run ${run} ${side}: ${fmt(r.jobsPerSec, 0)} jobs/s, submit→start p50 ${fmt(r.p50)} ms p99 ${fmt(r.p99)} ms` +
            (r.idleP50 === undefined ? '' : `; idle workers, one job at a time: p50 ${fmt(r.idleP50)} ms p99 ${fmt(r.idleP99!)} ms`) +
            (r.cpu ? `; CPU µs/job hub ${fmt(r.cpu.hub, 0)} pg ${fmt(r.cpu.pg, 0)} redis ${fmt(r.cpu.redis, 0)} client ${fmt(r.cpu.client, 0)}` : '')
        : `  run ${run} ${side}: skipped (not installed)`,
    ),
  );
  console.log(`\n| side | jobs/s (median) | submit→start p50 ms | p99 ms | CPU µs per job (median): hub / PostgreSQL / Redis / client = total |\n|---|---|---|---|---|`);
  for (const [side, rs] of Object.entries(results)) {
    const ok = rs.filter((r): r is Result => r !== null);
    if (ok.length === 0) console.log(`| ${side} | skipped (npm i --no-save bullmq graphile-worker) | | |`);
    else {
      const cpu = (k: keyof CpuPerJob) => median(ok.map((r) => r.cpu?.[k] ?? 0));
      const cpuCell = `${fmt(cpu('hub'), 0)} / ${fmt(cpu('pg'), 0)} / ${fmt(cpu('redis'), 0)} / ${fmt(cpu('client'), 0)} = ${fmt(cpu('hub') + cpu('pg') + cpu('redis') + cpu('client'), 0)}`;
      console.log(`| ${side} | ${fmt(median(ok.map((r) => r.jobsPerSec)), 0)} | ${fmt(median(ok.map((r) => r.p50)))} | ${fmt(median(ok.map((r) => r.p99)))} | ${cpuCell} |`);
    }
  }
  console.log(`# ${machineLoad().note}`);
  if (process.env.TABLE_STATS) {
    // Where PostgreSQL's time went: scans and row changes per table of the benchmark's database.
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    const { rows } = await c.query(
      `select relname, seq_scan, seq_tup_read, idx_scan, idx_tup_fetch, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del, n_dead_tup
       from pg_stat_user_tables order by relname`,
    );
    console.table(rows);
    await c.end();
  }
  await hub.stop();
  await db.drop();
}

await main();
