/**
 * Upload throughput and memory (issue 3): N concurrent ~10 MB image uploads to the hub (full
 * pipeline: stream to temp file + SHA-256, sharp decode-validation, variants, content-addressed
 * store, DB row) vs the same uploads to a bare node:http + busboy server that only streams to a
 * temp file with SHA-256. Both run as child processes in this same run; RSS sampled every 50 ms.
 *
 *   npx tsx load-tests/upload-throughput.ts            # 20 concurrent uploads
 *   CONCURRENCY=10 npx tsx load-tests/upload-throughput.ts
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { MB, fmt, freePort, freshDatabase, rssBytes, sampleRss, startChild, stopChild } from './baselines/harness.js';

const CONCURRENCY = Number(process.env.CONCURRENCY ?? 20);
const SIDE = 1820; // 1820x1820 RGB stored PNG ≈ 9.5 MiB, under the 10 MiB default limit

/** Incompressible PNGs (random pixels, no deflate) so every upload is ~10 MB of distinct content. */
async function makeImages(n: number): Promise<Buffer[]> {
  const raw = randomBytes(SIDE * SIDE * 3);
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    raw.writeUInt32BE(i, 0); // distinct content per upload: no dedupe shortcut
    out.push(await sharp(raw, { raw: { width: SIDE, height: SIDE, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer());
  }
  return out;
}

function form(data: Buffer): { body: Buffer; type: string } {
  const boundary = `----bench${randomBytes(6).toString('hex')}`;
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="noise.png"\r\nContent-Type: image/png\r\n\r\n`);
  return { body: Buffer.concat([head, data, Buffer.from(`\r\n--${boundary}--\r\n`)]), type: `multipart/form-data; boundary=${boundary}` };
}

interface RunResult {
  seconds: number;
  /** Until every upload's thumb and WebP variants can be fetched (the hub makes them after answering). */
  readySeconds: number;
  mbPerSec: number;
  baselineRss: number;
  peakRss: number;
  statuses: Record<number, number>;
}

async function run(pid: number, url: string, token: string | null, images: Buffer[], origin?: string): Promise<RunResult> {
  const bodies = images.map(form);
  const before = rssBytes(pid);
  const sampler = sampleRss(pid, 50);
  const started = performance.now();
  const statuses: Record<number, number> = {};
  const variantUrls: string[] = [];
  await Promise.all(
    bodies.map(async ({ body, type }) => {
      const headers: Record<string, string> = { 'content-type': type };
      if (token) headers.authorization = `Bearer ${token}`;
      const res = await fetch(url, { method: 'POST', headers, body });
      const text = await res.text();
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      if (origin && res.ok) {
        const urls = (JSON.parse(text) as { urls: { thumb: string; webp: string } }).urls;
        variantUrls.push(origin + urls.thumb, origin + urls.webp);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  // A variant request waits for the background job, so this measures the whole pipeline.
  await Promise.all(variantUrls.map(async (u) => (await fetch(u)).arrayBuffer()));
  const readySeconds = (performance.now() - started) / 1000;
  const peak = sampler.stop();
  const bytes = bodies.reduce((n, b) => n + b.body.length, 0);
  return { seconds, readySeconds, mbPerSec: bytes / MB / seconds, baselineRss: before, peakRss: peak, statuses };
}

async function main(): Promise<void> {
  const images = await makeImages(CONCURRENCY);
  const warm = await makeImages(1);
  const totalMb = images.reduce((n, b) => n + b.length, 0) / MB;
  console.log(`${CONCURRENCY} uploads of ${fmt(images[0]!.length / MB, 2)} MiB (${fmt(totalMb)} MiB total)`);

  const dir = await mkdtemp(join(tmpdir(), 'easel-bench-upload-'));
  const db = await freshDatabase();
  const hubPort = await freePort();
  const basePort = await freePort();
  const hub = await startChild(
    'src/main.ts',
    { PORT: String(hubPort), HOST: '127.0.0.1', DATABASE_URL: db.url, DATA_DIR: join(dir, 'hub'), LOG_LEVEL: 'warn', NODE_ENV: 'development', HTTP_ENGINE: process.env.HTTP_ENGINE ?? 'uws' },
    `http://127.0.0.1:${hubPort}/health`,
  );
  const base = await startChild('load-tests/baselines/busboy-server.ts', { PORT: String(basePort), TMP_DIR: join(dir, 'busboy') }, `http://127.0.0.1:${basePort}/`);
  try {
    const hubUrl = `http://127.0.0.1:${hubPort}`;
    const creds = { username: 'bench_uploader', password: 'bench-password-123' };
    await fetch(`${hubUrl}/api/v1/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(creds) });
    const tok = (await (await fetch(`${hubUrl}/api/v1/auth/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(creds) })).json()) as { access_token: string };

    // One warm-up upload each so lazy initialisation (sharp, JIT, pools) is not counted as growth.
    await run(hub.pid!, `${hubUrl}/api/v1/media`, tok.access_token, warm, hubUrl);
    await run(base.pid!, `http://127.0.0.1:${basePort}/`, null, warm);

    const h = await run(hub.pid!, `${hubUrl}/api/v1/media`, tok.access_token, images, hubUrl);
    // Same bytes again: the hub streams, hashes and finds them stored, so no decoding. This isolates
    // the transport path, which is what the busboy baseline does.
    const d = await run(hub.pid!, `${hubUrl}/api/v1/media`, tok.access_token, images);
    const b = await run(base.pid!, `http://127.0.0.1:${basePort}/`, null, images);
    const growth = (r: RunResult) => (r.peakRss - r.baselineRss) / MB;
    const rows = [
      ['server', 'statuses', 'seconds to last response', 'MiB/s', 'seconds until variants ready', 'RSS before (MiB)', 'peak RSS (MiB)', 'peak growth (MiB)'],
      ['hub (full pipeline)', JSON.stringify(h.statuses), fmt(h.seconds, 2), fmt(h.mbPerSec), fmt(h.readySeconds, 2), fmt(h.baselineRss / MB), fmt(h.peakRss / MB), fmt(growth(h))],
      ['hub (re-upload, dedupe)', JSON.stringify(d.statuses), fmt(d.seconds, 2), fmt(d.mbPerSec), '-', fmt(d.baselineRss / MB), fmt(d.peakRss / MB), fmt(growth(d))],
      ['node:http + busboy', JSON.stringify(b.statuses), fmt(b.seconds, 2), fmt(b.mbPerSec), '-', fmt(b.baselineRss / MB), fmt(b.peakRss / MB), fmt(growth(b))],
    ];
    for (const r of rows) console.log(`| ${r.join(' | ')} |`);
    console.log(`throughput ratio hub/baseline: full pipeline ${fmt(h.mbPerSec / b.mbPerSec, 2)} (to responses), ${fmt(b.seconds / h.readySeconds, 2)} (until variants ready), dedupe path ${fmt(d.mbPerSec / b.mbPerSec, 2)}`);
    console.log(`peak RSS growth ratio hub/baseline: ${fmt(growth(h) / Math.max(growth(b), 0.1), 2)}`);
    console.log(`hub peak growth vs bytes in flight (${fmt(totalMb)} MiB): ${fmt((growth(h) / totalMb) * 100)}%`);
  } finally {
    await stopChild(hub);
    await stopChild(base);
    await db.drop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
