/**
 * Media serving (issue 3): requests/s for a stored thumbnail, hub `GET /api/v1/media/<sha>?variant=thumb`
 * (DB lookup, stat, streamed with ETag/Range support) vs a minimal node:http static server streaming
 * the same file, in the same run, autocannon for DURATION seconds each.
 *
 *   npx tsx load-tests/media-serving.ts
 *   DURATION=5 CONNECTIONS=20 HTTP_ENGINE=node npx tsx load-tests/media-serving.ts
 */
import autocannon from 'autocannon';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { fmt, freePort, freshDatabase, startChild, stopChild } from './baselines/harness.js';

const DURATION = Number(process.env.DURATION ?? 10);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 50);

async function bench(url: string): Promise<autocannon.Result> {
  // Warm-up so JIT and pools settle before the measured run.
  await autocannon({ url, connections: CONNECTIONS, duration: 2 });
  return autocannon({ url, connections: CONNECTIONS, duration: DURATION });
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'easel-bench-serve-'));
  const db = await freshDatabase();
  const hubPort = await freePort();
  const staticPort = await freePort();
  const engine = process.env.HTTP_ENGINE ?? 'uws';
  const hub = await startChild(
    'src/main.ts',
    { PORT: String(hubPort), HOST: '127.0.0.1', DATABASE_URL: db.url, DATA_DIR: join(dir, 'hub'), LOG_LEVEL: 'warn', NODE_ENV: 'development', HTTP_ENGINE: engine },
    `http://127.0.0.1:${hubPort}/health`,
  );
  let stat: Awaited<ReturnType<typeof startChild>> | null = null;
  try {
    const hubUrl = `http://127.0.0.1:${hubPort}`;
    const creds = { username: 'bench_server', password: 'bench-password-123' };
    const post = (path: string, body: unknown) => fetch(hubUrl + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    await post('/api/v1/auth/register', creds);
    const { access_token } = (await (await post('/api/v1/auth/token', creds)).json()) as { access_token: string };
    const png = await sharp({ create: { width: 1600, height: 1200, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 30 } } }).png().toBuffer();
    const boundary = `----bench${randomBytes(6).toString('hex')}`;
    const body = Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n`), png, Buffer.from(`\r\n--${boundary}--\r\n`)]);
    const up = await fetch(`${hubUrl}/api/v1/media`, { method: 'POST', headers: { authorization: `Bearer ${access_token}`, 'content-type': `multipart/form-data; boundary=${boundary}` }, body });
    const stored = (await up.json()) as { sha256: string; urls: { thumb: string } };
    const thumbFile = join(dir, 'hub', 'media', 'variants', `${stored.sha256}.thumb.webp`);
    stat = await startChild('load-tests/baselines/static-server.ts', { PORT: String(staticPort), FILE: thumbFile }, `http://127.0.0.1:${staticPort}/`);
    const thumbBytes = (await (await fetch(hubUrl + stored.urls.thumb)).arrayBuffer()).byteLength;

    const h = await bench(hubUrl + stored.urls.thumb);
    const s = await bench(`http://127.0.0.1:${staticPort}/thumb.webp`);
    console.log(`thumbnail: ${thumbBytes} bytes; ${CONNECTIONS} connections, ${DURATION}s each; hub engine ${engine}`);
    console.log('| server | req/s (mean) | p50 ms | p99 ms | non-2xx | errors |');
    for (const [name, r] of [[`hub (${engine})`, h], ['node:http static', s]] as const) {
      console.log(`| ${name} | ${fmt(r.requests.average, 0)} | ${r.latency.p50} | ${r.latency.p99} | ${r.non2xx} | ${r.errors} |`);
    }
    console.log(`req/s ratio hub/static: ${fmt(h.requests.average / s.requests.average, 2)}`);
  } finally {
    await stopChild(hub);
    if (stat) await stopChild(stat);
    await db.drop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
