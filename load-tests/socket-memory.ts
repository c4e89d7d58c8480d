/**
 * Memory per idle authenticated socket.io connection, uWebSockets.js engine vs node:http (+ ws).
 *
 *   npx tsx load-tests/socket-memory.ts            # 2,000 sockets per engine
 *   SOCKETS=500 npx tsx load-tests/socket-memory.ts
 *
 * The hub runs as a child process (`node --import tsx src/main.ts --hub`, no Redis, a fresh database on the
 * test PostgreSQL) so its RSS is its own; the clients live in this process. RSS comes from
 * /proc/<pid>/status (VmRSS). Baseline: after 50 warm-up sockets. Loaded: after all sockets connect.
 * Each point: a full GC in the child, 3 s to settle, then the median of 5 RSS samples 500 ms apart.
 * The GC is forced without touching src/: the child starts with --expose-gc and a one-line module given on
 * its command line (GC_HOOK) that runs gc() on SIGUSR2 and prints process.memoryUsage() afterwards, which
 * also gives the JS heap (heapUsed + external) per connection next to RSS.
 * Only 127.0.0.1. Needs `ulimit -n` above 2 × SOCKETS (+ slack) for the two processes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { io, type Socket } from 'socket.io-client';
import { createTestDatabase } from '../test/helpers/db.js';
import { registerAndLogin } from '../test/helpers/clients.js';
import { freePort } from '../test/helpers/net.js';

const ROOT = resolve(import.meta.dirname, '..');
const SOCKETS = Number(process.env.SOCKETS ?? 2000);
const WARMUP = 50;
const BATCH = 100;
const ENGINES = ['uws', 'node'] as const;
const MEM_MARK = '__MEM__';
const GC_HOOK = `data:text/javascript,process.on('SIGUSR2',()=>{globalThis.gc();process.stdout.write('${MEM_MARK}'+JSON.stringify(process.memoryUsage())+'\\n')})`;

interface MemoryUsage {
  rss: number;
  heapUsed: number;
  external: number;
}

function rssBytes(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  if (!line) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(line.split(/\s+/)[1]) * 1024;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function medianRss(pid: number, samples = 5, gapMs = 500): Promise<number> {
  const values: number[] = [];
  for (let i = 0; i < samples; i++) {
    values.push(rssBytes(pid));
    if (i < samples - 1) await sleep(gapMs);
  }
  values.sort((a, b) => a - b);
  return values[Math.floor(values.length / 2)]!;
}

function openFileLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
  return Number(line?.split(/\s+/)[3] ?? 0);
}

interface Hub {
  child: ChildProcess;
  /** Forces a full GC in the child and resolves with its process.memoryUsage() right after. */
  gc(): Promise<MemoryUsage>;
}

async function startHub(engine: string, dbUrl: string, port: number): Promise<Hub> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.REDIS_URL;
  const child = spawn(process.execPath, ['--expose-gc', '--import', GC_HOOK, '--import', 'tsx', join(ROOT, 'src/main.ts'), '--hub'], {
    cwd: ROOT,
    env: { ...env, NODE_ENV: 'development', LOG_LEVEL: 'warn', HOST: '127.0.0.1', PORT: String(port), HTTP_ENGINE: engine, DATABASE_URL: dbUrl },
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
      else process.stdout.write(`[hub] ${line}\n`);
    }
  });
  const gc = () =>
    new Promise<MemoryUsage>((done) => {
      waiting.push(done);
      child.kill('SIGUSR2');
    });
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`hub exited with ${child.exitCode}`);
    const r = await fetch(`http://127.0.0.1:${port}/health`).then((res) => res.json() as Promise<{ engine: string }>, () => null);
    if (r) {
      if (r.engine !== engine) throw new Error(`asked for ${engine}, hub runs ${r.engine}`);
      return { child, gc };
    }
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error('hub did not start within 60 s');
}

function connect(url: string, token: string): Promise<Socket> {
  return new Promise((done, fail) => {
    const socket = io(`${url}/`, { auth: { token }, transports: ['websocket'], forceNew: true, reconnection: false, timeout: 20_000 });
    socket.once('connect', () => done(socket));
    socket.once('connect_error', (err) => {
      socket.close();
      fail(err);
    });
  });
}

async function connectMany(url: string, token: string, count: number, into: Socket[]): Promise<void> {
  for (let opened = 0; opened < count; opened += BATCH) {
    const batch = Math.min(BATCH, count - opened);
    into.push(...(await Promise.all(Array.from({ length: batch }, () => connect(url, token)))));
  }
}

interface EngineResult {
  engine: string;
  baselineRss: number;
  loadedRss: number;
  perConnection: number;
  heapPerConnection: number;
  connectMs: number;
}

/** GC, settle, then the median RSS; plus the JS heap + external right after the GC. */
async function settle(hub: Hub): Promise<{ rss: number; js: number }> {
  const usage = await hub.gc();
  await sleep(3000);
  return { rss: await medianRss(hub.child.pid!), js: usage.heapUsed + usage.external };
}

async function measure(engine: string): Promise<EngineResult> {
  const db = await createTestDatabase();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const hub = await startHub(engine, db.url, port);
  const sockets: Socket[] = [];
  try {
    const { token } = await registerAndLogin(url, `mem_${engine}`);
    await connectMany(url, token, WARMUP, sockets);
    const before = await settle(hub);
    const started = Date.now();
    await connectMany(url, token, SOCKETS, sockets);
    const connectMs = Date.now() - started;
    const after = await settle(hub);
    const connected = sockets.filter((s) => s.connected).length;
    if (connected !== WARMUP + SOCKETS) throw new Error(`only ${connected} of ${WARMUP + SOCKETS} sockets still connected`);
    return {
      engine,
      baselineRss: before.rss,
      loadedRss: after.rss,
      perConnection: (after.rss - before.rss) / SOCKETS,
      heapPerConnection: (after.js - before.js) / SOCKETS,
      connectMs,
    };
  } finally {
    for (const s of sockets) s.close();
    hub.child.kill('SIGTERM');
    await new Promise((r) => (hub.child.exitCode !== null ? r(null) : hub.child.once('exit', r)));
    await db.drop();
  }
}

const mib = (b: number) => (b / 1024 / 1024).toFixed(1);

async function main(): Promise<void> {
  const limit = openFileLimit();
  if (limit < 2 * (SOCKETS + WARMUP) + 256) {
    throw new Error(`open-file limit ${limit} is too low for ${SOCKETS} sockets: run \`ulimit -n 65536\` first`);
  }
  const started = Date.now();
  const results: EngineResult[] = [];
  for (const engine of ENGINES) {
    const r = await measure(engine);
    results.push(r);
    console.log(`${engine}: RSS ${mib(r.baselineRss)} -> ${mib(r.loadedRss)} MiB, ${Math.round(r.perConnection)} B/connection RSS, ` + `${Math.round(r.heapPerConnection)} B/connection JS heap+external, connected in ${r.connectMs} ms`);
  }
  const [uws, node] = results;
  console.log(`\n| engine | RSS after ${WARMUP} warm-up sockets | RSS with ${SOCKETS} more | RSS bytes per connection | JS heap + external bytes per connection | connect time |`);
  console.log('|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(`| ${r.engine} | ${mib(r.baselineRss)} MiB | ${mib(r.loadedRss)} MiB | ${Math.round(r.perConnection)} | ${Math.round(r.heapPerConnection)} | ${r.connectMs} ms |`);
  }
  const ratio = (a: number, b: number) => (a / b).toFixed(2);
  console.log(`\nratio uws/node per connection: RSS ${ratio(uws!.perConnection, node!.perConnection)}, JS heap ${ratio(uws!.heapPerConnection, node!.heapPerConnection)}; total ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
