/**
 * CPU inference on its own thread (what the worker does) against on the calling thread (what it did): the
 * same model, the same photo, the same tiling and PNG encode. Reports, per side, the whole-photo time and
 * the longest the event loop went without a turn meanwhile (a 5 ms interval), which is what heartbeats,
 * socket pings, progress and, under `npm start`, the hub's own sockets wait for.
 *
 *   npx tsx load-tests/upscale-thread.ts
 *   MODEL=rdn-medium-x2 SIZE=600 RUNS=5 npx tsx load-tests/upscale-thread.ts
 *
 * Env: MODEL (rdn-slim-x2), SIZE (1000), THREADS (cpu intra-op threads, default 1 as in the tests), RUNS (3).
 */
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { noiseImage } from '../src/worker/inference/fake-models.js';
import { loadManifestModel } from '../src/worker/inference/manifest-model.js';
import type { UpscaleModel } from '../src/worker/inference/session.js';
import { upscaleImage } from '../src/worker/inference/upscale.js';
import { announce, interleaved, median, runCount } from './baselines/stats.js';

const WEIGHTS = fileURLToPath(new URL('../weights/', import.meta.url));
const MODEL = process.env.MODEL ?? 'rdn-slim-x2';
const SIZE = Number(process.env.SIZE ?? 1000);
const THREADS = Number(process.env.THREADS ?? 1);

interface Sample {
  ms: number;
  worstGapMs: number;
}

async function measured(model: UpscaleModel, input: Buffer): Promise<Sample> {
  let last = performance.now();
  let worst = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
  }, 5);
  const t0 = performance.now();
  try {
    await upscaleImage(input, model, { concurrency: 2 });
    const now = performance.now();
    return { ms: now - t0, worstGapMs: Math.max(worst, now - last) };
  } finally {
    clearInterval(ticker);
  }
}

async function main(): Promise<void> {
  const runs = runCount(3);
  announce(`upscale on a CPU thread vs the calling thread (${MODEL}, ${SIZE}x${SIZE}, ${THREADS} intra-op thread(s))`, runs);
  const input = await sharp(noiseImage(SIZE, SIZE, 7).data, { raw: { width: SIZE, height: SIZE, channels: 3 } }).png().toBuffer();
  const threaded = await loadManifestModel(WEIGHTS, MODEL, { providers: ['cpu'], cpuThreads: THREADS });
  const inline = await loadManifestModel(WEIGHTS, MODEL, { providers: ['cpu'], cpuThreads: THREADS, cpuOffThread: false });
  await measured(threaded, input); // warm-up, both sides
  await measured(inline, input);
  const results = await interleaved(runs, { thread: () => measured(threaded, input), inline: () => measured(inline, input) }, (side, run, s) =>
    console.log(`  run ${run} ${side.padEnd(6)} ${s.ms.toFixed(0)} ms, worst event-loop gap ${s.worstGapMs.toFixed(0)} ms`),
  );
  await threaded.release();
  await inline.release();
  const med = (side: string, key: keyof Sample) => median(results[side]!.map((s) => s[key]));
  console.log('\nside    | whole photo (median) | worst event-loop gap (median)');
  for (const side of ['thread', 'inline']) console.log(`${side.padEnd(7)} | ${med(side, 'ms').toFixed(0).padStart(17)} ms | ${med(side, 'worstGapMs').toFixed(0).padStart(26)} ms`);
  console.log(`\nthread / inline, whole photo: ${(med('thread', 'ms') / med('inline', 'ms')).toFixed(2)}x`);
}

await main();
