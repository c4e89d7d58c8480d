/**
 * Fan-out: one room of VIEWERS sockets, broadcasts from the server, against the peers, in one run.
 *
 *   ulimit -n 65536; npx tsx load-tests/fanout.ts                         # 1000 viewers, RUNS=3
 *   VIEWERS=200 BURST=200 RUNS=1 npx tsx load-tests/fanout.ts             # smoke
 *   SIDES=easel,bare-uws npx tsx load-tests/fanout.ts                     # a subset
 *   CPU_PROF_DIR=/tmp/prof SIDES=easel RUNS=1 npx tsx load-tests/fanout.ts # .cpuprofile per server process
 *
 * Sides, each started fresh for every run, interleaved (easel, bare-node, bare-uws, easel-2nodes, again):
 * - easel: one hub (`startHub` from the environment, uWebSockets.js engine, no Redis, a fresh database),
 *   broadcasting through its notifier (baselines/easel-fanout-hub.ts).
 * - bare-node: bare socket.io on node:http (the default a user would pick); bare-uws: bare socket.io on
 *   uWebSockets.js (`io.attachApp`, the ceiling of this stack). Same JWT check per socket, `io.to(room).emit`
 *   (baselines/socketio-fanout-server.ts).
 * - easel-2nodes: two hubs sharing Redis (socket.io Redis adapter); half the viewers on each, every broadcast
 *   sent on the first, so half the deliveries cross Redis.
 * Viewers: CLIENT_PROCS child processes of raw WebSocket clients speaking socket.io's protocol
 * (baselines/fanout-clients.ts), all in the room. Per run and side, two phases:
 * - paced: RATE broadcasts/s for PACED_SECONDS; every delivery's delay (server emit → viewer receive, on the
 *   machine's monotonic clock): p50 / p99, and the share delivered.
 * - burst: BURST broadcasts back to back; delivered msgs/s = deliveries / (last receive − first emit).
 * Reported: medians over RUNS, ratios easel / bare-node and easel / bare-uws (throughput), easel-2nodes /
 * easel (p99 delay). Only 127.0.0.1.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { registerAndLogin } from '../test/helpers/clients.js';
import { REDIS_URL } from '../test/helpers/db.js';
import { freePort, freshDatabase } from './baselines/harness.js';
import { peerAccessToken } from './baselines/socketio-peer.js';
import { announce, interleaved, machineLoad, median, percentile, runCount } from './baselines/stats.js';

const ROOT = resolve(import.meta.dirname, '..');
const VIEWERS = Number(process.env.VIEWERS ?? 1000);
const RATE = Number(process.env.RATE ?? 20);
const PACED_SECONDS = Number(process.env.PACED_SECONDS ?? 5);
const BURST = Number(process.env.BURST ?? 500);
const CLIENT_PROCS = Number(process.env.CLIENT_PROCS ?? 2);
const RUNS = runCount(3);
const JWT_SECRET = 'fanout-benchmark-secret-0123456789abcdef-0123456789';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Reply = { ok: boolean; cmd: string; error?: string; [k: string]: unknown };

/** A forked child (IPC) with request/response on `cmd`. */
interface Forked {
  child: ChildProcess;
  ask(msg: Record<string, unknown>, timeoutMs?: number): Promise<Reply>;
  stop(): Promise<void>;
}

function forkChild(script: string, env: NodeJS.ProcessEnv): Forked {
  // CPU_PROF_DIR: a .cpuprofile per server process (not the viewers), to see where a side spends its time.
  const prof = process.env.CPU_PROF_DIR && !script.includes('clients') ? ['--cpu-prof', `--cpu-prof-dir=${process.env.CPU_PROF_DIR}`] : [];
  const child = fork(join(ROOT, script), [], { cwd: ROOT, env, execArgv: [...prof, '--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiting = new Map<string, (r: Reply) => void>();
  child.on('message', (m) => {
    const reply = m as Reply;
    const done = waiting.get(reply.cmd);
    waiting.delete(reply.cmd);
    done?.(reply);
  });
  return {
    child,
    ask(msg, timeoutMs = 120_000) {
      return new Promise((resolveReply, reject) => {
        const timer = setTimeout(() => reject(new Error(`${script}: no answer to ${String(msg.cmd)} in ${timeoutMs} ms`)), timeoutMs);
        waiting.set(String(msg.cmd), (r) => {
          clearTimeout(timer);
          if (r.ok) resolveReply(r);
          else reject(new Error(`${script} ${r.cmd}: ${r.error}`));
        });
        child.send(msg);
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(15_000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

async function waitHealthy(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    if (await fetch(`${url}/health`).then((r) => r.ok, () => false)) return;
    await sleep(100);
  }
  throw new Error(`${url} did not become healthy`);
}

interface Side {
  urls: string[];
  servers: Forked[];
  token: string;
  cleanup(): Promise<void>;
}

async function startEasel(nodes: 1 | 2): Promise<Side> {
  const db = await freshDatabase();
  const dataDir = mkdtempSync(join(tmpdir(), 'easel-fanout-'));
  const prefix = `easel-fanout:${randomBytes(4).toString('hex')}:`;
  const servers: Forked[] = [];
  const urls: string[] = [];
  try {
    for (let i = 0; i < nodes; i++) {
      const port = await freePort();
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        NODE_ENV: 'development',
        LOG_LEVEL: 'warn',
        HOST: '127.0.0.1',
        PORT: String(port),
        HTTP_ENGINE: 'uws',
        DATABASE_URL: db.url,
        DATA_DIR: dataDir,
        JWT_SECRET,
        EASEL__REDIS__KEY_PREFIX: prefix,
        // One account opens every viewer: lift the per-identity cap and the handshake rate limit.
        EASEL__SOCKETS__MAX_PER_IDENTITY: String(10 * VIEWERS),
        EASEL__RATE_LIMITS__SOCKET_HANDSHAKE: JSON.stringify({ limit: 10 * VIEWERS, windowSeconds: 1 }),
      };
      if (nodes === 2) env.REDIS_URL = REDIS_URL;
      else delete env.REDIS_URL;
      const server = forkChild('load-tests/baselines/easel-fanout-hub.ts', env);
      servers.push(server);
      const url = `http://127.0.0.1:${port}`;
      await waitHealthy(url, server.child);
      urls.push(url);
    }
    const { token } = await registerAndLogin(urls[0]!, `fanout_${randomBytes(3).toString('hex')}`);
    return {
      urls, servers, token,
      async cleanup() {
        for (const s of servers) await s.stop();
        await db.drop();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    for (const s of servers) await s.stop();
    await db.drop();
    throw err;
  }
}

async function startBare(engine: 'uws' | 'node'): Promise<Side> {
  const port = await freePort();
  const server = forkChild('load-tests/baselines/socketio-fanout-server.ts', { ...process.env, ENGINE: engine, PORT: String(port), JWT_SECRET });
  const url = `http://127.0.0.1:${port}`;
  await waitHealthy(url, server.child);
  const token = await peerAccessToken(JWT_SECRET);
  return { urls: [url], servers: [server], token, cleanup: () => server.stop() };
}

interface Sample {
  /** Deliveries per second in the burst phase. */
  throughput: number;
  p50: number;
  p99: number;
  /** Share of paced deliveries that arrived. */
  delivered: number;
}

async function measure(start: () => Promise<Side>): Promise<Sample> {
  const side = await start();
  const clients = Array.from({ length: CLIENT_PROCS }, () => forkChild('load-tests/baselines/fanout-clients.ts', process.env));
  try {
    const per = Math.ceil(VIEWERS / CLIENT_PROCS);
    // Each client process spreads its viewers round-robin over the nodes.
    await Promise.all(clients.map((c, i) => c.ask({ cmd: 'connect', urls: side.urls, count: Math.min(per, VIEWERS - i * per), token: side.token, concurrency: 50 })));
    let members = 0;
    for (const s of side.servers) members += Number((await s.ask({ cmd: 'join' })).members);
    if (members !== VIEWERS) throw new Error(`${members} of ${VIEWERS} viewers in the room`);
    const origin = side.servers[0]!;
    const reports = async () => Promise.all(clients.map((c) => c.ask({ cmd: 'report' })));

    await Promise.all(clients.map((c) => c.ask({ cmd: 'phase', name: 'paced' })));
    const paced = await origin.ask({ cmd: 'paced', rate: RATE, seconds: PACED_SECONDS });
    await sleep(1500);
    const pacedReports = await reports();
    const delays = pacedReports.flatMap((r) => r.delays as number[]);
    const pacedExpected = VIEWERS * Number(paced.sent);

    await Promise.all(clients.map((c) => c.ask({ cmd: 'phase', name: 'burst' })));
    const burst = await origin.ask({ cmd: 'burst', count: BURST });
    const expected = VIEWERS * BURST;
    let last = -1;
    let stalledSince = Date.now();
    let got: Reply[] = [];
    for (;;) {
      got = await reports();
      const total = got.reduce((n, r) => n + Number(r.received), 0);
      if (total >= expected) break;
      if (total !== last) {
        last = total;
        stalledSince = Date.now();
      } else if (Date.now() - stalledSince > 3000) break; // nothing more is coming
      await sleep(200);
    }
    const total = got.reduce((n, r) => n + Number(r.received), 0);
    const lastAt = Math.max(...got.map((r) => Number(r.lastAt)));
    const seconds = (lastAt - Number(burst.startedAt)) / 1e6;
    return {
      throughput: total / seconds,
      p50: percentile(delays, 50) / 1000,
      p99: percentile(delays, 99) / 1000,
      delivered: delays.length / pacedExpected,
    };
  } finally {
    await Promise.all(clients.map((c) => c.ask({ cmd: 'close' }, 10_000).catch(() => undefined)));
    await Promise.all(clients.map((c) => c.stop()));
    await side.cleanup();
  }
}

const ALL_SIDES: Record<string, () => Promise<Sample>> = {
  easel: () => measure(() => startEasel(1)),
  'bare-node': () => measure(() => startBare('node')),
  'bare-uws': () => measure(() => startBare('uws')),
  'easel-2nodes': () => measure(() => startEasel(2)),
};
const SIDES = Object.fromEntries(Object.entries(ALL_SIDES).filter(([side]) => !process.env.SIDES || process.env.SIDES.split(',').includes(side)));

function openFileLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
  return Number(line?.split(/\s+/)[3] ?? 0);
}

async function main(): Promise<void> {
  if (openFileLimit() < 2 * VIEWERS + 256) throw new Error(`open-file limit too low for ${VIEWERS} viewers: run \`ulimit -n 65536\` first`);
  announce(`fanout: ${VIEWERS} viewers in one room (${CLIENT_PROCS} client processes); paced ${RATE}/s for ${PACED_SECONDS} s, burst ${BURST}`, RUNS);
  const t0 = Date.now();
  const results = await interleaved(RUNS, SIDES, (side, run, s) => {
    console.log(`run ${run} ${side}: ${Math.round(s.throughput)} msgs/s delivered (burst), delay p50 ${s.p50.toFixed(1)} ms p99 ${s.p99.toFixed(1)} ms (paced, ${(s.delivered * 100).toFixed(1)}% delivered)`);
  });
  const med = Object.fromEntries(
    Object.entries(results).map(([side, xs]) => [side, { throughput: median(xs.map((x) => x.throughput)), p50: median(xs.map((x) => x.p50)), p99: median(xs.map((x) => x.p99)), delivered: median(xs.map((x) => x.delivered)) }]),
  );
  console.log(`\nmedians of ${RUNS} run(s), ${VIEWERS} viewers:\n`);
  console.log('| side | delivered msgs/s (burst) | delay p50 ms (paced) | delay p99 ms (paced) | paced delivered |');
  console.log('|---|---|---|---|---|');
  for (const [side, m] of Object.entries(med)) console.log(`| ${side} | ${Math.round(m.throughput)} | ${m.p50.toFixed(1)} | ${m.p99.toFixed(1)} | ${(m.delivered * 100).toFixed(1)}% |`);
  const e = med.easel;
  const r = (a: number, b: number) => (a / b).toFixed(2);
  if (e && med['bare-node']) console.log(`ratio easel/bare-node throughput ${r(e.throughput, med['bare-node'].throughput)}× (target ≥ 1.6)`);
  if (e && med['bare-uws']) console.log(`ratio easel/bare-uws throughput ${r(e.throughput, med['bare-uws'].throughput)}× (target ≥ 0.9)`);
  if (e && med['easel-2nodes']) console.log(`ratio easel-2nodes/easel delay p99 ${r(med['easel-2nodes'].p99, e.p99)}× (target ≤ 2), throughput ${r(med['easel-2nodes'].throughput, e.throughput)}×`);
  console.log(`\n${machineLoad().note} at the end; total ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
