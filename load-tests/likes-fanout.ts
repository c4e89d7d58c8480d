/**
 * Live like fan-out: WATCHERS socket.io clients watch one image (`image:watch`) while likers PUT and
 * DELETE likes on it as fast as CONCURRENCY requests in flight allow, for DURATION_S seconds. Two
 * sides, interleaved RUNS times, medians reported:
 *   - before: `community.likesWindowMs` 0, one `image:likes` per like to every watcher (the old fan-out);
 *   - after:  WINDOW_MS (default 250), at most one push per image per window, newest count wins.
 *
 *   npx tsx load-tests/likes-fanout.ts                                          # 1,000 watchers, 10 s, RUNS=3
 *   WATCHERS=100 DURATION_S=3 RUNS=1 npx tsx load-tests/likes-fanout.ts         # smoke
 *   REDIS=0 CONCURRENCY=64 npx tsx load-tests/likes-fanout.ts                   # in-memory adapter, more load
 *
 * The hub is one child process (`src/main.ts --hub`, uWS engine unless HTTP_ENGINE says otherwise) on a
 * throwaway database, with the Redis adapter by default (REDIS=0: single node, in-memory adapter), so
 * every push also goes through Redis pub/sub as in production. The watchers live in WATCHER_PROCS child
 * processes of this script (default 2) so that receiving 100k+ pushes/s does not starve the likers.
 * Likers are LIKERS distinct users (default 400), each alternating like and unlike, so every request
 * changes the count. Users are inserted with SQL and their tokens minted with the hub's JWT_SECRET.
 *
 * Reported per run: likes/s completed, like latency p50/p99 (HTTP round trip), pushes received per
 * watcher per second, delivery delay p50/p99 (from a like's response, which carries its seq, to the
 * first push at a probe watcher with that seq or a newer one), the hub's CPU use, and whether every
 * watcher ended on the final count. Needs `ulimit -n` above about 2 × WATCHERS.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import pg from 'pg';
import { io, type Socket } from 'socket.io-client';
import { makePng } from '../src/modules/media/test-fixtures.js';
import { tokenServiceFromConfig } from '../src/modules/identity/identity.factory.js';
import { loadConfig } from '../src/platform/config.js';
import { REDIS_URL } from '../test/helpers/db.js';
import { fmt, freePort, freshDatabase, stopChild } from './baselines/harness.js';
import { announce, interleaved, median, percentile, runCount } from './baselines/stats.js';

const ROOT = resolve(import.meta.dirname, '..');
const num = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const WATCHERS = num('WATCHERS', 1000);
const LIKERS = num('LIKERS', 400);
const CONCURRENCY = num('CONCURRENCY', 32);
const DURATION_S = num('DURATION_S', 10);
const WINDOW_MS = num('WINDOW_MS', 250);
const WATCHER_PROCS = Math.max(1, num('WATCHER_PROCS', 2));
const PROBES = num('PROBES', 10);
const USE_REDIS = process.env.REDIS !== '0';
const JWT_SECRET = `bench-${randomBytes(16).toString('hex')}`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/* ---------- watcher process (forked with --watchers) ---------- */

interface WatchJob {
  url: string;
  imageId: number;
  tokens: string[];
  probes: number;
}
interface WatchReport {
  pushes: number;
  /** Lowest, over this process's watchers, of the highest seq each one saw. */
  minMaxSeq: number;
  /** Per probe watcher: [seq, epoch ms] for every push. */
  probes: [number, number][][];
}

async function watcherProcess(): Promise<void> {
  const sockets: Socket[] = [];
  let pushes = 0;
  let counting = false;
  const maxSeq: number[] = [];
  const probes: [number, number][][] = [];
  process.on('message', async (msg: { type: string; job?: WatchJob }) => {
    if (msg.type === 'watch' && msg.job) {
      const { url, imageId, tokens, probes: probeCount } = msg.job;
      for (let i = 0; i < tokens.length; i += 100) {
        await Promise.all(
          tokens.slice(i, i + 100).map(async (token, j) => {
            const index = i + j;
            const socket = io(`${url}/`, { auth: { token }, transports: ['websocket'], forceNew: true, reconnection: false, timeout: 20_000 });
            sockets.push(socket);
            await new Promise<void>((ok, fail) => (socket.once('connect', ok), socket.once('connect_error', fail)));
            maxSeq[index] = 0;
            const probe: [number, number][] | null = index < probeCount ? [] : null;
            if (probe) probes[index] = probe;
            socket.on('image:likes', (p: { seq: number }) => {
              if (!counting) return;
              pushes++;
              if (p.seq > maxSeq[index]!) maxSeq[index] = p.seq;
              probe?.push([p.seq, Date.now()]);
            });
            const ack = (await socket.timeout(20_000).emitWithAck('image:watch', { imageId })) as { ok: boolean };
            if (!ack.ok) throw new Error(`image:watch refused: ${JSON.stringify(ack)}`);
          }),
        );
      }
      process.send!({ type: 'ready' });
    } else if (msg.type === 'start') {
      counting = true;
    } else if (msg.type === 'stop') {
      counting = false;
      const report: WatchReport = { pushes, minMaxSeq: Math.min(...maxSeq), probes };
      process.send!({ type: 'report', report });
      for (const s of sockets) s.close();
      setTimeout(() => process.exit(0), 100);
    }
  });
  process.send!({ type: 'up' });
}

/* ---------- orchestrator ---------- */

interface Watchers {
  start(): void;
  stop(): Promise<WatchReport[]>;
}

function once<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((ok, fail) => {
    const onMsg = (m: { type: string } & T) => m.type === type && (child.off('message', onMsg), ok(m));
    child.on('message', onMsg);
    child.once('exit', (code) => fail(new Error(`watcher process exited with ${code} waiting for ${type}`)));
  });
}

async function startWatchers(url: string, imageId: number, tokens: string[]): Promise<Watchers> {
  const per = Math.ceil(tokens.length / WATCHER_PROCS);
  const kids = await Promise.all(
    Array.from({ length: WATCHER_PROCS }, async (_, k) => {
      const child = fork(import.meta.filename, ['--watchers'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      await once(child, 'up');
      const ready = once(child, 'ready');
      child.send({ type: 'watch', job: { url, imageId, tokens: tokens.slice(k * per, (k + 1) * per), probes: Math.ceil(PROBES / WATCHER_PROCS) } });
      await ready;
      return child;
    }),
  );
  return {
    start: () => kids.forEach((c) => c.send({ type: 'start' })),
    async stop() {
      const reports = await Promise.all(
        kids.map(async (c) => {
          const got = once<{ report: WatchReport }>(c, 'report');
          c.send({ type: 'stop' });
          return (await got).report;
        }),
      );
      await Promise.all(kids.map((c) => stopChild(c)));
      return reports;
    },
  };
}

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime in clock ticks (USER_HZ 100)
}

async function startHub(env: Record<string, string>, port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', '--hub'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, NODE_ENV: 'test', LOG_LEVEL: 'warn', HOST: '127.0.0.1', PORT: String(port), JWT_SECRET, ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`hub exited with ${child.exitCode}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health`)).ok) return child;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error('hub did not become ready');
    await sleep(200);
  }
}

interface RunResult {
  likesPerSec: number;
  p50: number;
  p99: number;
  pushesPerWatcherPerSec: number;
  delayP50: number;
  delayP99: number;
  hubCpu: number;
  allFinal: boolean;
  errors: number;
}

/** For each change (seq k answered at doneAt[k - 1]), the first probe push with seq >= k: its delay. */
function deliveryDelays(doneAt: number[], receipts: [number, number][]): number[] {
  const out: number[] = [];
  let r = 0;
  let best = 0;
  for (let k = 1; k <= doneAt.length; k++) {
    while (best < k && r < receipts.length) best = Math.max(best, receipts[r++]![0]);
    if (best < k) break; // never delivered (counted by allFinal)
    // A push can beat the response that reported the same change: that counts as no delay.
    const done = doneAt[k - 1];
    if (done !== undefined) out.push(Math.max(0, receipts[r - 1]![1] - done));
  }
  return out;
}

async function runSide(windowMs: number, ctx: { dbUrl: string; watcherTokens: string[]; likerTokens: string[]; ownerToken: string; redisPrefix: string }): Promise<RunResult> {
  const port = await freePort();
  const env: Record<string, string> = { DATABASE_URL: ctx.dbUrl, EASEL__COMMUNITY__LIKES_WINDOW_MS: String(windowMs) };
  if (process.env.HTTP_ENGINE) env.HTTP_ENGINE = process.env.HTTP_ENGINE;
  if (USE_REDIS) Object.assign(env, { REDIS_URL, EASEL__REDIS__KEY_PREFIX: ctx.redisPrefix });
  const hub = await startHub(env, port);
  const url = `http://127.0.0.1:${port}`;
  try {
    const form = new FormData();
    form.append('prompt', 'likes fan-out target');
    form.append('file', new Blob([await makePng(32, 32)], { type: 'image/png' }), 'bench.png');
    const posted = await fetch(`${url}/api/v1/images`, { method: 'POST', body: form, headers: { authorization: `Bearer ${ctx.ownerToken}` } });
    if (posted.status !== 201) throw new Error(`image post failed: ${posted.status} ${await posted.text()}`);
    const imageId = ((await posted.json()) as { id: number }).id;

    const watchers = await startWatchers(url, imageId, ctx.watcherTokens);
    await sleep(500);
    const cpu0 = cpuSeconds(hub.pid!);
    const t0 = Date.now();
    watchers.start();
    const deadline = t0 + DURATION_S * 1000;
    const latencies: number[] = [];
    const doneAt: number[] = [];
    let errors = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async (_, w) => {
        const mine = ctx.likerTokens.filter((_t, i) => i % CONCURRENCY === w);
        const liked = mine.map(() => false);
        for (let n = 0; Date.now() < deadline; n++) {
          const i = n % mine.length;
          const started = performance.now();
          const res = await fetch(`${url}/api/v1/images/${imageId}/like`, { method: liked[i] ? 'DELETE' : 'PUT', headers: { authorization: `Bearer ${mine[i]}` } });
          const text = await res.text();
          const body = res.status === 200 ? (JSON.parse(text) as { seq?: number }) : {};
          if (typeof body.seq !== 'number') {
            errors++;
            continue;
          }
          latencies.push(performance.now() - started);
          doneAt[body.seq - 1] = Date.now();
          liked[i] = !liked[i];
        }
      }),
    );
    const wall = (Date.now() - t0) / 1000;
    await sleep(windowMs + 500); // the last trailing push
    const hubCpu = (cpuSeconds(hub.pid!) - cpu0) / ((Date.now() - t0) / 1000);
    const reports = await watchers.stop();
    const delays = reports.flatMap((r) => r.probes.flatMap((p) => deliveryDelays(doneAt, p)));
    return {
      likesPerSec: latencies.length / wall,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      pushesPerWatcherPerSec: reports.reduce((s, r) => s + r.pushes, 0) / ctx.watcherTokens.length / wall,
      delayP50: percentile(delays, 50),
      delayP99: percentile(delays, 99),
      hubCpu,
      allFinal: reports.every((r) => r.minMaxSeq === latencies.length),
      errors,
    };
  } finally {
    await stopChild(hub);
  }
}

const line = (r: RunResult) =>
  `${fmt(r.likesPerSec, 0)} likes/s, latency p50 ${fmt(r.p50)} ms p99 ${fmt(r.p99)} ms, ${fmt(r.pushesPerWatcherPerSec)} pushes/watcher/s, ` +
  `delivery p50 ${fmt(r.delayP50)} ms p99 ${fmt(r.delayP99)} ms, hub CPU ${fmt(r.hubCpu * 100, 0)}%, final count everywhere: ${r.allFinal ? 'yes' : 'NO'}${r.errors ? `, ${r.errors} errors` : ''}`;

async function main(): Promise<void> {
  const runs = runCount(3);
  announce(`likes-fanout: ${WATCHERS} watchers, ${LIKERS} likers, ${CONCURRENCY} in flight, ${DURATION_S} s, ${USE_REDIS ? 'Redis adapter' : 'in-memory adapter'}, ${WATCHER_PROCS} watcher processes`, runs);
  if (LIKERS < CONCURRENCY) throw new Error('LIKERS must be at least CONCURRENCY (each request in flight needs its own users)');
  const db = await freshDatabase();
  try {
    // A first hub start applies the migrations; then users go in with one SQL statement.
    const setupPort = await freePort();
    await stopChild(await startHub({ DATABASE_URL: db.url }, setupPort));
    const sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    const ids = (await sql.query<{ id: number }>(`insert into users (username) select 'bench_' || g from generate_series(1, $1::int) g returning id`, [WATCHERS + LIKERS + 1])).rows.map((r) => r.id);
    await sql.end();
    const tokens = tokenServiceFromConfig(loadConfig({ env: { NODE_ENV: 'test', JWT_SECRET } }));
    const minted = await Promise.all(ids.map(async (id) => (await tokens.issueAccess({ id, role: 'user' })).token));
    const ctx = {
      dbUrl: db.url,
      ownerToken: minted[0]!,
      watcherTokens: minted.slice(1, 1 + WATCHERS),
      likerTokens: minted.slice(1 + WATCHERS),
      redisPrefix: `easel-bench:${randomBytes(4).toString('hex')}:`,
    };
    const before = 'window 0 (per-like push, before)';
    const after = `window ${WINDOW_MS} ms (coalesced, after)`;
    const results = await interleaved(runs, { [before]: () => runSide(0, ctx), [after]: () => runSide(WINDOW_MS, ctx) }, (side, run, r) => console.log(`run ${run} ${side}: ${line(r)}`));
    console.log('\nmedians:');
    for (const [side, rs] of Object.entries(results)) {
      const m = (f: (r: RunResult) => number) => median(rs.map(f));
      console.log(
        `  ${side}: ${fmt(m((r) => r.likesPerSec), 0)} likes/s, latency p50 ${fmt(m((r) => r.p50))} ms p99 ${fmt(m((r) => r.p99))} ms, ` +
          `${fmt(m((r) => r.pushesPerWatcherPerSec))} pushes/watcher/s, delivery p50 ${fmt(m((r) => r.delayP50))} ms p99 ${fmt(m((r) => r.delayP99))} ms, ` +
          `hub CPU ${fmt(m((r) => r.hubCpu) * 100, 0)}%, final count everywhere in ${rs.filter((r) => r.allFinal).length}/${rs.length} runs`,
      );
    }
  } finally {
    await db.drop();
  }
}

if (process.argv.includes('--watchers')) {
  void watcherProcess();
} else {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
