/**
 * Media serving: requests/s of `GET /api/v1/media/<sha>` on the hub against node:http baselines that
 * send the same bytes with the same headers (type, length, ETag, immutable caching, Accept-Ranges,
 * nosniff). Like is compared with like:
 *
 *   memory path  thumbnail from the hub's in-memory cache   vs  memory-server.ts (Buffer read once)
 *   disk path    thumbnail, hub cache off                   vs  static-server.ts (stat + stream per request)
 *                (EASEL__MEDIA__MEMORY_CACHE_BYTES=0)
 *   cache miss   original above memoryCacheMaxBlobBytes     vs  static-server.ts
 *                (always read from disk, cache on)
 *
 * Every hub engine in ENGINES (default both: uws, node) is measured, cache on and off, as separate
 * processes sharing one database and data directory. Sides run interleaved RUNS times (default 3),
 * autocannon for DURATION seconds each after one warm-up per side; medians and hub/baseline ratios.
 *
 *   npx tsx load-tests/media-serving.ts
 *   RUNS=1 DURATION=1 CONNECTIONS=5 ENGINES=node npx tsx load-tests/media-serving.ts   # smoke run
 */
import autocannon from 'autocannon';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { fmt, freePort, freshDatabase, startChild, stopChild } from './baselines/harness.js';
import { announce, interleaved, machineLoad, median, runCount } from './baselines/stats.js';

const DURATION = Number(process.env.DURATION ?? 10);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 50);
const ENGINES = (process.env.ENGINES ?? 'uws,node').split(',').filter((e) => e === 'uws' || e === 'node');
const RUNS = runCount(3);

type Scenario = 'memory path' | 'disk path' | 'cache miss';
interface Side {
  scenario: Scenario;
  server: string;
  url: string;
  baseline: boolean;
}
interface Sample {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

async function measure(url: string, duration: number): Promise<Sample> {
  const r = await autocannon({ url, connections: CONNECTIONS, duration });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx, errors: r.errors };
}

function multipartPng(png: Buffer): { body: Buffer; type: string } {
  const boundary = `----bench${randomBytes(6).toString('hex')}`;
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n`);
  return { body: Buffer.concat([head, png, Buffer.from(`\r\n--${boundary}--\r\n`)]), type: `multipart/form-data; boundary=${boundary}` };
}

const noisePng = (w: number, h: number) => sharp({ create: { width: w, height: h, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 30 } } }).png().toBuffer();

async function main(): Promise<void> {
  announce('media-serving', RUNS);
  const dir = await mkdtemp(join(tmpdir(), 'easel-bench-serve-'));
  const db = await freshDatabase();
  const children: Awaited<ReturnType<typeof startChild>>[] = [];
  const start = async (script: string, env: Record<string, string>, ready: (port: number) => string) => {
    const port = await freePort();
    children.push(await startChild(script, { PORT: String(port), ...env }, ready(port)));
    return `http://127.0.0.1:${port}`;
  };
  try {
    const hubEnv = { HOST: '127.0.0.1', DATABASE_URL: db.url, DATA_DIR: join(dir, 'hub'), LOG_LEVEL: 'warn', NODE_ENV: 'development', JWT_SECRET: randomBytes(24).toString('hex') };
    const hubs: { engine: string; cache: boolean; url: string }[] = [];
    for (const engine of ENGINES) {
      for (const cache of [true, false]) {
        const env = { ...hubEnv, HTTP_ENGINE: engine, ...(cache ? {} : { EASEL__MEDIA__MEMORY_CACHE_BYTES: '0' }) };
        hubs.push({ engine, cache, url: await start('src/main.ts', env, (p) => `http://127.0.0.1:${p}/health`) });
      }
    }
    const first = hubs[0]!.url;
    const creds = { username: 'bench_server', password: 'bench-password-123' };
    const post = (path: string, body: unknown) => fetch(first + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    await post('/api/v1/auth/register', creds);
    const { access_token } = (await (await post('/api/v1/auth/token', creds)).json()) as { access_token: string };
    const store = async (png: Buffer) => {
      const { body, type } = multipartPng(png);
      const res = await fetch(`${first}/api/v1/media`, { method: 'POST', headers: { authorization: `Bearer ${access_token}`, 'content-type': type }, body });
      if (!res.ok) throw new Error(`upload failed: ${res.status} ${await res.text()}`);
      return ((await res.json()) as { sha256: string }).sha256;
    };
    // A thumbnail (small: cached when the cache is on) and an original above the cache's per-blob limit.
    const thumbSha = await store(await noisePng(1600, 1200));
    const largeSha = await store(await noisePng(640, 480));
    const thumbPath = `/api/v1/media/${thumbSha}?variant=thumb`;
    const largePath = `/api/v1/media/${largeSha}`;
    const probe = async (url: string) => {
      const res = await fetch(url);
      const bytes = (await res.arrayBuffer()).byteLength;
      if (res.status !== 200) throw new Error(`${url} answered ${res.status}`);
      return { bytes, etag: res.headers.get('etag')!, type: res.headers.get('content-type')! };
    };
    const thumb = await probe(first + thumbPath);
    const large = await probe(first + largePath);
    const media = join(dir, 'hub', 'media');
    const files = JSON.stringify({
      '/thumb': { file: join(media, 'variants', `${thumbSha}.thumb.webp`), type: thumb.type, etag: thumb.etag },
      '/large': { file: join(media, 'originals', largeSha.slice(0, 2), largeSha.slice(2, 4), largeSha), type: large.type, etag: large.etag },
    });
    const memoryBase = await start('load-tests/baselines/memory-server.ts', { FILES: files }, (p) => `http://127.0.0.1:${p}/`);
    const diskBase = await start('load-tests/baselines/static-server.ts', { FILES: files }, (p) => `http://127.0.0.1:${p}/`);

    const sides: Side[] = [];
    for (const h of hubs.filter((x) => x.cache)) sides.push({ scenario: 'memory path', server: `hub ${h.engine} (cache on)`, url: h.url + thumbPath, baseline: false });
    sides.push({ scenario: 'memory path', server: 'node:http from memory', url: `${memoryBase}/thumb`, baseline: true });
    for (const h of hubs.filter((x) => !x.cache)) sides.push({ scenario: 'disk path', server: `hub ${h.engine} (cache off)`, url: h.url + thumbPath, baseline: false });
    sides.push({ scenario: 'disk path', server: 'node:http stat+stream', url: `${diskBase}/thumb`, baseline: true });
    for (const h of hubs.filter((x) => x.cache)) sides.push({ scenario: 'cache miss', server: `hub ${h.engine} (cache on, blob too big for it)`, url: h.url + largePath, baseline: false });
    sides.push({ scenario: 'cache miss', server: 'node:http stat+stream', url: `${diskBase}/large`, baseline: true });

    for (const s of sides) {
      const got = await probe(s.url);
      const want = s.scenario === 'cache miss' ? large : thumb;
      if (got.bytes !== want.bytes || got.etag !== want.etag) throw new Error(`${s.server} serves ${got.bytes} bytes / ${got.etag}, expected ${want.bytes} / ${want.etag}`);
      await measure(s.url, Math.min(2, DURATION)); // warm-up: JIT, pools, the hub's row and blob caches
    }
    const key = (s: Side) => `${s.scenario} | ${s.server}`;
    const results = await interleaved(RUNS, Object.fromEntries(sides.map((s) => [key(s), () => measure(s.url, DURATION)])), (side, run, v) =>
      console.log(`  run ${run} ${side}: ${fmt(v.rps, 0)} req/s`),
    );

    console.log(`\nthumbnail ${thumb.bytes} bytes, large original ${large.bytes} bytes; ${CONNECTIONS} connections, ${DURATION}s per run, ${RUNS} run(s) per side, medians`);
    console.log('| scenario | server | req/s | p50 ms | p99 ms | non-2xx | errors |');
    console.log('|---|---|---|---|---|---|---|');
    for (const s of sides) {
      const r = results[key(s)]!;
      const sum = (f: (x: Sample) => number) => r.reduce((n, x) => n + f(x), 0);
      console.log(`| ${s.scenario} | ${s.server} | ${fmt(median(r.map((x) => x.rps)), 0)} | ${median(r.map((x) => x.p50))} | ${median(r.map((x) => x.p99))} | ${sum((x) => x.non2xx)} | ${sum((x) => x.errors)} |`);
    }
    for (const scenario of ['memory path', 'disk path', 'cache miss'] as const) {
      const base = sides.find((s) => s.scenario === scenario && s.baseline)!;
      const baseRps = median(results[key(base)]!.map((x) => x.rps));
      for (const s of sides.filter((x) => x.scenario === scenario && !x.baseline)) {
        console.log(`${scenario}: ${s.server} / ${base.server} = ${fmt(median(results[key(s)]!.map((x) => x.rps)) / baseRps, 2)}`);
      }
    }
    console.log(machineLoad().note);
  } finally {
    for (const c of children) await stopChild(c);
    await db.drop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
