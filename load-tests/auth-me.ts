/**
 * Auth hot path: requests/s of `GET /api/v1/auth/me` on the hub against a minimal node:http + pg + jose
 * peer (baselines/auth-me-peer.ts) doing the same work: the same HS256 verification, the same auth-state
 * cache (TTL'd, one lean select on a miss) and the same one lean query for the body. Target: hub at
 * least 0.9x the peer.
 *
 * Every hub engine in ENGINES (default both: uws, node) is measured; all sides share one database and
 * one signed-in user. Sides run interleaved RUNS times (default 3), autocannon with CONNECTIONS
 * (default 50) for DURATION seconds (default 10) after a warm-up; medians and hub/peer ratios.
 *
 *   npx tsx load-tests/auth-me.ts
 *   RUNS=1 DURATION=1 CONNECTIONS=5 ENGINES=uws npx tsx load-tests/auth-me.ts   # smoke run
 */
import autocannon from 'autocannon';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fmt, freePort, freshDatabase, startChild, stopChild } from './baselines/harness.js';
import { announce, interleaved, machineLoad, median, runCount } from './baselines/stats.js';

const DURATION = Number(process.env.DURATION ?? 10);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 50);
const ENGINES = (process.env.ENGINES ?? 'uws,node').split(',').filter((e) => e === 'uws' || e === 'node');
const RUNS = runCount(3);
const POOL_MAX = '10';
const CACHE_TTL_MS = '30000';
const PEER = 'node:http + pg + jose peer';
const HMAC_PEER = 'node:http + pg + node:crypto HMAC peer';

interface Sample {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

async function measure(url: string, token: string, duration: number): Promise<Sample> {
  const r = await autocannon({ url, connections: CONNECTIONS, duration, headers: { authorization: `Bearer ${token}` } });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx, errors: r.errors };
}

async function main(): Promise<void> {
  announce('auth-me', RUNS);
  const dir = await mkdtemp(join(tmpdir(), 'easel-bench-auth-'));
  const db = await freshDatabase();
  const secret = randomBytes(24).toString('hex');
  const children: Awaited<ReturnType<typeof startChild>>[] = [];
  const start = async (script: string, env: Record<string, string>, ready: (port: number) => string) => {
    const port = await freePort();
    children.push(await startChild(script, { PORT: String(port), ...env }, ready(port)));
    return `http://127.0.0.1:${port}`;
  };
  try {
    const sides: Record<string, string> = {};
    for (const engine of ENGINES) {
      const env = {
        HOST: '127.0.0.1', DATABASE_URL: db.url, DATA_DIR: join(dir, engine), LOG_LEVEL: 'warn', NODE_ENV: 'development', JWT_SECRET: secret, HTTP_ENGINE: engine,
        EASEL__DB__POOL_MAX: POOL_MAX, EASEL__IDENTITY__USER_CACHE: JSON.stringify({ ttlMs: Number(CACHE_TTL_MS), maxEntries: 10000 }),
      };
      sides[`hub ${engine}`] = (await start('src/main.ts', env, (p) => `http://127.0.0.1:${p}/health`)) + '/api/v1/auth/me';
    }
    const first = Object.values(sides)[0]!.replace('/api/v1/auth/me', '');
    const creds = { username: 'bench_auth', password: 'bench-password-123' };
    const post = (path: string, body: unknown) => fetch(first + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    await post('/api/v1/auth/register', creds);
    const { access_token: token } = (await (await post('/api/v1/auth/token', creds)).json()) as { access_token: string };
    const peerEnv = { DATABASE_URL: db.url, JWT_SECRET: secret, ISSUER: 'easel', AUDIENCE: 'easel', POOL_MAX, CACHE_TTL_MS };
    const peer = await start('load-tests/baselines/auth-me-peer.ts', { ...peerEnv, VERIFY: 'jose' }, (p) => `http://127.0.0.1:${p}/`);
    sides[PEER] = `${peer}/api/v1/auth/me`;
    // The same peer with the hub's synchronous HS256 verifier: the ratio against it is the framework's cost alone.
    const hmacPeer = await start('load-tests/baselines/auth-me-peer.ts', { ...peerEnv, VERIFY: 'hmac' }, (p) => `http://127.0.0.1:${p}/`);
    sides[HMAC_PEER] = `${hmacPeer}/api/v1/auth/me`;

    // Both must answer the same body before anything is measured.
    const bodies = await Promise.all(Object.values(sides).map(async (url) => {
      const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
      if (res.status !== 200) throw new Error(`${url} answered ${res.status}`);
      return JSON.stringify(await res.json());
    }));
    if (new Set(bodies).size !== 1) throw new Error(`bodies differ: ${bodies.join(' / ')}`);
    for (const url of Object.values(sides)) await measure(url, token, Math.min(2, DURATION)); // warm-up: JIT, pools, caches

    const results = await interleaved(RUNS, Object.fromEntries(Object.entries(sides).map(([name, url]) => [name, () => measure(url, token, DURATION)])), (side, run, v) =>
      console.log(`  run ${run} ${side}: ${fmt(v.rps, 0)} req/s`),
    );

    console.log(`\nGET /api/v1/auth/me, one user, ${CONNECTIONS} connections, ${DURATION}s per run, ${RUNS} run(s) per side, medians`);
    console.log('| server | req/s | p50 ms | p99 ms | non-2xx | errors |');
    console.log('|---|---|---|---|---|---|');
    for (const [name, r] of Object.entries(results)) {
      const sum = (f: (x: Sample) => number) => r.reduce((n, x) => n + f(x), 0);
      console.log(`| ${name} | ${fmt(median(r.map((x) => x.rps)), 0)} | ${median(r.map((x) => x.p50))} | ${median(r.map((x) => x.p99))} | ${sum((x) => x.non2xx)} | ${sum((x) => x.errors)} |`);
    }
    const rps = (side: string) => median(results[side]!.map((x) => x.rps));
    for (const engine of ENGINES) {
      console.log(`hub ${engine} / jose peer = ${fmt(rps(`hub ${engine}`) / rps(PEER), 2)} (target >= 0.9); / HMAC peer = ${fmt(rps(`hub ${engine}`) / rps(HMAC_PEER), 2)}`);
    }
    console.log(machineLoad().note);
  } finally {
    for (const c of children) await stopChild(c);
    await db.drop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
