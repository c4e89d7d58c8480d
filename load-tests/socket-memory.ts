/**
 * Cost of an idle authenticated socket: the hub against bare socket.io, on both engines, in one run.
 *
 *   ulimit -n 65536; npx tsx load-tests/socket-memory.ts                 # N=5000 sockets, RUNS=3
 *   ulimit -n 65536; SOCKETS=500 RUNS=1 npx tsx load-tests/socket-memory.ts   # smoke
 *   SIDES=hub-uws,bare-uws CONCURRENCY=50 npx tsx load-tests/socket-memory.ts   # a subset, other concurrency
 *   CPU_PROF_DIR=/tmp/prof SIDES=hub-uws npx tsx load-tests/socket-memory.ts   # .cpuprofile per child
 *
 * Sides, each a child process started fresh for every run, interleaved (hub-uws, bare-uws, hub-node,
 * bare-node, then again) so drift in machine load hits all alike:
 * - hub-uws / hub-node: `src/main.ts --hub` (HTTP_ENGINE uws|node, no Redis, a fresh database on the test
 *   PostgreSQL; the per-identity cap and the handshake limit lifted so one token may open N sockets).
 * - bare-uws / bare-node: load-tests/baselines/socketio-server.ts, bare socket.io on uWebSockets.js
 *   (`io.attachApp`) or node:http, verifying the same kind of HS256 JWT with jose in an `io.use` middleware.
 * Every side gets the same client behaviour: websocket transport, `auth: { token }`, one token for all sockets
 * (the hub's own login token; a token of the same claims signed with the same secret for the peers).
 *
 * Per run and side: WARMUP sockets, then a forced full GC in the child (started with --expose-gc and a
 * one-line hook module that runs gc() on SIGUSR2 and prints process.memoryUsage()), 3 s to settle and the
 * median of 5 RSS samples (VmRSS); then SOCKETS more sockets at most CONCURRENCY handshakes in flight (timed:
 * connect rate), and the same GC/settle/sample. Per idle socket: JS heap (heapUsed + external; primary) and
 * RSS (secondary), both as (after - before) / SOCKETS. Reported: medians over RUNS, ratios hub/bare per
 * engine, and the busy flag (load average) at start and end. Only 127.0.0.1.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { io, type Socket } from 'socket.io-client';
import { registerAndLogin } from '../test/helpers/clients.js';
import { freePort, freshDatabase, rssBytes } from './baselines/harness.js';
import { peerAccessToken } from './baselines/socketio-peer.js';
import { announce, interleaved, machineLoad, median, runCount } from './baselines/stats.js';

const ROOT = resolve(import.meta.dirname, '..');
const SOCKETS = Number(process.env.SOCKETS ?? 5000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 100);
const WARMUP = 50;
const RUNS = runCount(3);
const JWT_SECRET = 'socket-memory-benchmark-secret-0123456789abcdef';
const MEM_MARK = '__MEM__';
const GC_HOOK = `data:text/javascript,process.on('SIGUSR2',()=>{globalThis.gc();process.stdout.write('${MEM_MARK}'+JSON.stringify(process.memoryUsage())+'\\n')})`;

interface MemoryUsage {
  rss: number;
  heapUsed: number;
  external: number;
}

interface Child {
  process: ChildProcess;
  url: string;
  /** Forces a full GC in the child; resolves with its process.memoryUsage() right after. */
  gc(): Promise<MemoryUsage>;
  /** A token this side accepts. */
  token: string;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function openFileLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
  return Number(line?.split(/\s+/)[3] ?? 0);
}

async function spawnWithGc(script: string, env: NodeJS.ProcessEnv, port: number, cleanup: () => Promise<void>): Promise<Omit<Child, 'token'>> {
  const profile = process.env.CPU_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.CPU_PROF_DIR}`] : [];
  const child = spawn(process.execPath, [...profile, '--expose-gc', '--import', GC_HOOK, '--import', 'tsx', script, ...(script.endsWith('main.ts') ? ['--hub'] : [])], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const waiting: Array<(m: MemoryUsage) => void> = [];
  let buffered = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line.startsWith(MEM_MARK)) waiting.shift()?.(JSON.parse(line.slice(MEM_MARK.length)) as MemoryUsage);
      else if (line.trim()) process.stdout.write(`  [child] ${line}\n`);
    }
  });
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(15_000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    await cleanup();
  };
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${script} exited with ${child.exitCode}`);
    if (await fetch(`${url}/health`).then((r) => r.ok, () => false)) {
      return { process: child, url, stop, gc: () => new Promise<MemoryUsage>((done) => (waiting.push(done), child.kill('SIGUSR2'))) };
    }
    await sleep(100);
  }
  await stop();
  throw new Error(`${script} did not start within 60 s`);
}

async function startHub(engine: 'uws' | 'node'): Promise<Child> {
  const db = await freshDatabase();
  const dataDir = mkdtempSync(join(tmpdir(), 'easel-sockmem-'));
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'development',
    LOG_LEVEL: 'warn',
    HOST: '127.0.0.1',
    PORT: String(port),
    HTTP_ENGINE: engine,
    DATABASE_URL: db.url,
    DATA_DIR: dataDir,
    JWT_SECRET,
    // One token opens every socket: lift the limits this benchmark would otherwise trip.
    EASEL__SOCKETS__MAX_PER_IDENTITY: String(10 * (SOCKETS + WARMUP)),
    EASEL__RATE_LIMITS__SOCKET_HANDSHAKE: JSON.stringify({ limit: 10 * (SOCKETS + WARMUP), windowSeconds: 1 }),
  };
  delete env.REDIS_URL;
  const child = await spawnWithGc(join(ROOT, 'src/main.ts'), env, port, async () => {
    await db.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const health = (await fetch(`${child.url}/health`).then((r) => r.json())) as { engine: string };
  if (health.engine !== engine) throw new Error(`asked for ${engine}, hub runs ${health.engine}`);
  const { token } = await registerAndLogin(child.url, `mem_${engine}`);
  return { ...child, token };
}

async function startBare(engine: 'uws' | 'node'): Promise<Child> {
  const port = await freePort();
  const env = { ...process.env, ENGINE: engine, PORT: String(port), JWT_SECRET, JWT_ISSUER: 'easel', JWT_AUDIENCE: 'easel' };
  const child = await spawnWithGc(join(ROOT, 'load-tests/baselines/socketio-server.ts'), env, port, async () => {});
  // The claims of an Easel access token, signed with the same secret the peer verifies with.
  const token = await peerAccessToken(JWT_SECRET);
  return { ...child, token };
}

function connect(url: string, token: string): Promise<Socket> {
  return new Promise((done, fail) => {
    const socket = io(`${url}/`, { auth: { token }, transports: ['websocket'], forceNew: true, reconnection: false, timeout: 30_000 });
    socket.once('connect', () => done(socket));
    socket.once('connect_error', (err) => {
      socket.close();
      fail(err);
    });
  });
}

/** Opens `count` sockets with at most `concurrency` handshakes in flight. */
async function connectMany(url: string, token: string, count: number, concurrency: number, into: Socket[]): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < count) {
      next++;
      into.push(await connect(url, token));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
}

async function settle(child: Child): Promise<{ js: number; heap: number; rss: number }> {
  const usage = await child.gc();
  await sleep(3000);
  const rss: number[] = [];
  for (let i = 0; i < 5; i++) {
    rss.push(rssBytes(child.process.pid!));
    if (i < 4) await sleep(500);
  }
  return { js: usage.heapUsed + usage.external, heap: usage.heapUsed, rss: median(rss) };
}

interface Sample {
  /** JS heap (heapUsed + external) per idle socket, bytes. */
  js: number;
  heapUsed: number;
  rss: number;
  /** Sockets per second while opening SOCKETS of them. */
  rate: number;
}

async function measure(start: () => Promise<Child>): Promise<Sample> {
  const child = await start();
  const sockets: Socket[] = [];
  try {
    await connectMany(child.url, child.token, WARMUP, WARMUP, sockets);
    const before = await settle(child);
    const started = performance.now();
    await connectMany(child.url, child.token, SOCKETS, CONCURRENCY, sockets);
    const seconds = (performance.now() - started) / 1000;
    const after = await settle(child);
    const connected = sockets.filter((s) => s.connected).length;
    if (connected !== WARMUP + SOCKETS) throw new Error(`only ${connected} of ${WARMUP + SOCKETS} sockets still connected`);
    return { js: (after.js - before.js) / SOCKETS, heapUsed: (after.heap - before.heap) / SOCKETS, rss: (after.rss - before.rss) / SOCKETS, rate: SOCKETS / seconds };
  } finally {
    for (const s of sockets) s.close();
    await child.stop();
  }
}

const ALL_SIDES = {
  'hub-uws': () => measure(() => startHub('uws')),
  'bare-uws': () => measure(() => startBare('uws')),
  'hub-node': () => measure(() => startHub('node')),
  'bare-node': () => measure(() => startBare('node')),
};
/** SIDES=hub-uws,bare-uws measures only those (for quick comparisons; the report needs all four). */
const SIDES = Object.fromEntries(Object.entries(ALL_SIDES).filter(([side]) => !process.env.SIDES || process.env.SIDES.split(',').includes(side)));

async function main(): Promise<void> {
  const limit = openFileLimit();
  // This process holds one descriptor per client socket (the server is another process, with its own limit).
  if (limit < SOCKETS + WARMUP + 256) throw new Error(`open-file limit ${limit} is too low for ${SOCKETS} sockets: run \`ulimit -n 65536\` first`);
  announce(`socket-memory: ${SOCKETS} idle sockets (+${WARMUP} warm-up), ${CONCURRENCY} handshakes in flight`, RUNS);
  const t0 = Date.now();
  const results = await interleaved(RUNS, SIDES, (side, run, s) => {
    console.log(`run ${run} ${side}: JS heap ${Math.round(s.js)} B/socket (heapUsed ${Math.round(s.heapUsed)}), RSS ${Math.round(s.rss)} B/socket, ${Math.round(s.rate)} sockets/s`);
  });
  const med = Object.fromEntries(Object.entries(results).map(([side, xs]) => [side, { js: median(xs.map((x) => x.js)), heapUsed: median(xs.map((x) => x.heapUsed)), rss: median(xs.map((x) => x.rss)), rate: median(xs.map((x) => x.rate)) }]));
  console.log(`\nmedians of ${RUNS} run(s), ${SOCKETS} sockets:\n`);
  console.log('| side | JS heap B/socket (heapUsed + external) | heapUsed B/socket | RSS B/socket | connect rate sockets/s |');
  console.log('|---|---|---|---|---|');
  for (const [side, m] of Object.entries(med)) console.log(`| ${side} | ${Math.round(m.js)} | ${Math.round(m.heapUsed)} | ${Math.round(m.rss)} | ${Math.round(m.rate)} |`);
  const ratio = (a: number, b: number) => (a / b).toFixed(2);
  for (const engine of ['uws', 'node']) {
    const hub = med[`hub-${engine}`];
    const bare = med[`bare-${engine}`];
    if (!hub || !bare) continue;
    console.log(`hub/bare on ${engine}: JS heap ${ratio(hub.js, bare.js)}× (target ≤ 1.15 on uws), RSS ${ratio(hub.rss, bare.rss)}×, connect rate ${ratio(hub.rate, bare.rate)}× (target ≥ 0.8 on uws)`);
  }
  console.log(`\n${machineLoad().note} at the end; total ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
