/**
 * Upload throughput and memory: CONCURRENCY concurrent ~10 MB image uploads, each server in a fresh
 * process per run (so every run's memory starts from the same place), sides interleaved RUNS times
 * (default 3), medians. Two comparisons, each like with like:
 *
 *   full pipeline (headline)  hub `POST /api/v1/media` until every upload's thumb and WebP variants exist
 *                             vs pipeline-server.ts (node:http + busboy + sharp: hash, store, probe,
 *                             full decode, same thumb + WebP variants, answering once they exist)
 *   transport                 hub re-uploading the same bytes (stream + SHA-256, dedupe: no decoding)
 *                             vs busboy-server.ts (stream to a temp file + SHA-256 only)
 *
 * The hub answers before its variants exist (they are made off the request path), so its "to last
 * response" time is shown too, but the headline is "until variants exist" for both.
 *
 *   npx tsx load-tests/upload-throughput.ts
 *   RUNS=1 CONCURRENCY=2 SIDE=400 npx tsx load-tests/upload-throughput.ts     # smoke run
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { MB, fmt, freePort, freshDatabase, rssBytes, sampleRss, startChild, stopChild } from './baselines/harness.js';
import { announce, interleaved, machineLoad, median, runCount } from './baselines/stats.js';

const CONCURRENCY = Number(process.env.CONCURRENCY ?? 20);
const SIDE = Number(process.env.SIDE ?? 1820); // 1820x1820 RGB stored PNG ≈ 9.5 MiB, under the 10 MiB default limit
const RUNS = runCount(3);
const ENGINE = process.env.HTTP_ENGINE ?? 'uws';

/** Incompressible PNGs (random pixels, no deflate), distinct per upload and per run: no dedupe shortcut. */
async function makeImages(n: number, run: number): Promise<Buffer[]> {
  const raw = randomBytes(SIDE * SIDE * 3);
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    raw.writeUInt32BE(i, 0);
    raw.writeUInt32BE(run, 4);
    out.push(await sharp(raw, { raw: { width: SIDE, height: SIDE, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer());
  }
  return out;
}

function form(data: Buffer): { body: Buffer; type: string } {
  const boundary = `----bench${randomBytes(6).toString('hex')}`;
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="noise.png"\r\nContent-Type: image/png\r\n\r\n`);
  return { body: Buffer.concat([head, data, Buffer.from(`\r\n--${boundary}--\r\n`)]), type: `multipart/form-data; boundary=${boundary}` };
}

interface Sample {
  /** Until the last upload was answered. */
  responded: number;
  /** Until every upload's variants exist (for the baselines that answer afterwards: = responded). */
  ready: number;
  mbPerSec: number;
  rssBefore: number;
  rssPeak: number;
  failures: number;
}

async function upload(pid: number, url: string, token: string | null, images: Buffer[], variantsFrom?: string): Promise<Sample> {
  const bodies = images.map(form);
  const rssBefore = rssBytes(pid);
  const sampler = sampleRss(pid, 50);
  const started = performance.now();
  const variantUrls: string[] = [];
  let failures = 0;
  await Promise.all(
    bodies.map(async ({ body, type }) => {
      const headers: Record<string, string> = { 'content-type': type };
      if (token) headers.authorization = `Bearer ${token}`;
      const res = await fetch(url, { method: 'POST', headers, body });
      const text = await res.text();
      if (!res.ok) failures++;
      else if (variantsFrom) {
        const urls = (JSON.parse(text) as { urls: { thumb: string; webp: string } }).urls;
        variantUrls.push(variantsFrom + urls.thumb, variantsFrom + urls.webp);
      }
    }),
  );
  const responded = (performance.now() - started) / 1000;
  // A variant request waits for the background job; one byte is enough to know the variant exists.
  await Promise.all(variantUrls.map(async (u) => (await fetch(u, { headers: { range: 'bytes=0-0' } })).arrayBuffer()));
  const ready = (performance.now() - started) / 1000;
  const rssPeak = sampler.stop();
  const bytes = bodies.reduce((n, b) => n + b.body.length, 0);
  return { responded, ready, mbPerSec: bytes / MB / ready, rssBefore, rssPeak, failures };
}

async function main(): Promise<void> {
  announce('upload-throughput', RUNS);
  const dir = await mkdtemp(join(tmpdir(), 'easel-bench-upload-'));
  const db = await freshDatabase();
  const hubEnv = { HOST: '127.0.0.1', DATABASE_URL: db.url, DATA_DIR: join(dir, 'hub'), LOG_LEVEL: 'warn', NODE_ENV: 'development', HTTP_ENGINE: ENGINE, JWT_SECRET: randomBytes(24).toString('hex') };
  const creds = { username: 'bench_uploader', password: 'bench-password-123' };
  let images: Buffer[] = [];
  let run = 0;

  /** A fresh child for one measurement, warmed with one small upload so lazy start-up is not counted as growth. */
  async function fresh(kind: 'hub' | 'pipeline' | 'busboy', measure: (url: string, pid: number, token: string | null) => Promise<Sample>): Promise<Sample> {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const script = kind === 'hub' ? 'src/main.ts' : `load-tests/baselines/${kind}-server.ts`;
    const env = kind === 'hub' ? hubEnv : { DATA_DIR: join(dir, `${kind}-${run}`), TMP_DIR: join(dir, `${kind}-${run}`) };
    const child = await startChild(script, { PORT: String(port), ...env }, kind === 'hub' ? `${url}/health` : `${url}/`);
    try {
      let token: string | null = null;
      if (kind === 'hub') {
        const post = (path: string, body: unknown) => fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
        await post('/api/v1/auth/register', creds); // 409 after the first run: fine
        token = ((await (await post('/api/v1/auth/token', creds)).json()) as { access_token: string }).access_token;
      }
      const warm = await sharp({ create: { width: 64, height: 64, channels: 3, background: `#${randomBytes(3).toString('hex')}` } }).png().toBuffer();
      await upload(child.pid!, kind === 'hub' ? `${url}/api/v1/media` : `${url}/`, token, [warm], kind === 'hub' ? url : undefined);
      return await measure(url, child.pid!, token);
    } finally {
      await stopChild(child);
    }
  }

  try {
    const sides = {
      'hub full pipeline': async () => {
        run++;
        images = await makeImages(CONCURRENCY, run); // new content each run, stored by this side first
        return fresh('hub', (url, pid, token) => upload(pid, `${url}/api/v1/media`, token, images, url));
      },
      'pipeline-server (busboy+sharp)': () => fresh('pipeline', (url, pid) => upload(pid, `${url}/`, null, images)),
      'hub transport (re-upload, dedupe)': () => fresh('hub', (url, pid, token) => upload(pid, `${url}/api/v1/media`, token, images)),
      'busboy-server (stream+hash only)': () => fresh('busboy', (url, pid) => upload(pid, `${url}/`, null, images)),
    };
    const results = await interleaved(RUNS, sides, (side, r, v) =>
      console.log(`  run ${r} ${side}: ${fmt(v.ready, 2)} s until variants, ${fmt(v.responded, 2)} s to last response, peak RSS +${fmt((v.rssPeak - v.rssBefore) / MB)} MiB, failures ${v.failures}`),
    );

    const totalMb = (images[0]?.length ?? 0) * CONCURRENCY / MB;
    console.log(`\n${CONCURRENCY} concurrent uploads of ${fmt((images[0]?.length ?? 0) / MB, 2)} MiB (${fmt(totalMb)} MiB per run), hub engine ${ENGINE}, ${RUNS} run(s) per side, fresh process per run, medians`);
    console.log('| comparison | server | s until variants exist | s to last response | MiB/s (to variants; transport: to last response) | RSS before (MiB) | peak RSS growth (MiB) | failures |');
    console.log('|---|---|---|---|---|---|---|---|');
    const m = (side: string, f: (s: Sample) => number) => median(results[side]!.map(f));
    const growth = (s: Sample) => (s.rssPeak - s.rssBefore) / MB;
    const row = (comparison: string, side: string, ready: boolean) =>
      console.log(`| ${comparison} | ${side} | ${ready ? fmt(m(side, (s) => s.ready), 2) : '-'} | ${fmt(m(side, (s) => s.responded), 2)} | ${fmt(m(side, (s) => s.mbPerSec))} | ${fmt(m(side, (s) => s.rssBefore) / MB)} | ${fmt(m(side, growth))} | ${results[side]!.reduce((n, s) => n + s.failures, 0)} |`);
    row('full pipeline', 'hub full pipeline', true);
    row('full pipeline', 'pipeline-server (busboy+sharp)', true);
    row('transport', 'hub transport (re-upload, dedupe)', false);
    row('transport', 'busboy-server (stream+hash only)', false);
    const ratio = (a: string, b: string, f: (s: Sample) => number) => fmt(m(a, f) / Math.max(m(b, f), 1e-9), 2);
    console.log(`full pipeline, time until variants exist, hub / pipeline-server: ${ratio('hub full pipeline', 'pipeline-server (busboy+sharp)', (s) => s.ready)} (below 1: hub faster)`);
    console.log(`full pipeline, peak RSS growth, hub / pipeline-server: ${ratio('hub full pipeline', 'pipeline-server (busboy+sharp)', growth)}`);
    console.log(`transport, time to last response, hub / busboy-server: ${ratio('hub transport (re-upload, dedupe)', 'busboy-server (stream+hash only)', (s) => s.responded)}`);
    console.log(`transport, peak RSS growth, hub / busboy-server: ${ratio('hub transport (re-upload, dedupe)', 'busboy-server (stream+hash only)', growth)}`);
    console.log(machineLoad().note);
  } finally {
    await db.drop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
