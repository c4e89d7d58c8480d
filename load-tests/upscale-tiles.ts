/**
 * Upscale cost (issue 7, "Measure"): milliseconds per TILE×TILE tile for every converted model in
 * weights/manifest.json on each execution provider in PROVIDERS that loads here, and the peak RSS of
 * a worker-like process upscaling a SIZE×SIZE photo end to end (decode, pixel rule, tiles, PNG).
 *
 * Per tile: one warm-up run, then TILES runs per round, RUNS rounds interleaved across
 * model/provider sides; reported as the median and p95 of all runs, input and output copies included.
 * Peak RSS: each side in a fresh child process (`process.resourceUsage().maxRSS`), next to a
 * "no model" side that does the same decode/tiles/encode with a pointwise JS model, so the model's
 * own share shows.
 *
 *   npx tsx load-tests/upscale-tiles.ts
 *   PROVIDERS=webgpu,cpu npx tsx load-tests/upscale-tiles.ts          # GPU host: webgpu against cpu
 *   RUNS=1 TILES=2 TILE=64 SIZE=200 MODELS=rdn-slim-x2 npx tsx load-tests/upscale-tiles.ts   # smoke run
 *
 * Env: MODELS (comma list, default every manifest entry), PROVIDERS (default cpu), TILE (256),
 * OVERLAP (16), TILES (8), RUNS (3), SIZE (2000), THREADS (cpu intra-op threads, default ORT's),
 * CONCURRENCY (tiles in flight in the end-to-end run, default 1).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { fakeUpscaleModel, noiseImage } from '../src/worker/inference/fake-models.js';
import { loadManifestModel, readModelEntries } from '../src/worker/inference/manifest-model.js';
import type { UpscaleModel } from '../src/worker/inference/session.js';
import { toNchw } from '../src/worker/inference/tiling.js';
import { upscaleImage } from '../src/worker/inference/upscale.js';
import { announce, interleaved, machineLoad, median, percentile, runCount } from './baselines/stats.js';

const WEIGHTS = fileURLToPath(new URL('../weights/', import.meta.url));
const TILE = Number(process.env.TILE ?? 256);
const OVERLAP = Number(process.env.OVERLAP ?? 16);
const TILES = Number(process.env.TILES ?? 8);
const SIZE = Number(process.env.SIZE ?? 2000);
const THREADS = process.env.THREADS ? Number(process.env.THREADS) : undefined;
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 1);
const PROVIDERS = (process.env.PROVIDERS ?? 'cpu').split(',').filter(Boolean);
/** tsx for the .ts source; none for the bundled .mjs that load-tests/gpu/pack.sh carries to a GPU host. */
const childLoader = import.meta.url.endsWith('.ts') ? ['--import', 'tsx'] : [];

async function load(key: string, provider: string): Promise<UpscaleModel> {
  if (key === 'none') return fakeUpscaleModel({ scale: 2 });
  return loadManifestModel(WEIGHTS, key, { providers: [provider], cpuThreads: THREADS });
}

/** Child mode: upscale one SIZE×SIZE image and print what it cost. */
async function rssChild(key: string, provider: string): Promise<void> {
  const input = await sharp(noiseImage(SIZE, SIZE, 42).data, { raw: { width: SIZE, height: SIZE, channels: 3 } }).png().toBuffer();
  const model = await load(key, provider);
  const out = await upscaleImage(input, model, { tileSize: TILE, overlap: OVERLAP, concurrency: CONCURRENCY });
  await model.release();
  const maxRssMiB = process.resourceUsage().maxRSS / 1024;
  console.log(JSON.stringify({ maxRssMiB, ms: out.ms, tiles: out.tiles, inferred: out.inferred, width: out.width, height: out.height }));
}

async function main(): Promise<void> {
  const runs = runCount(3);
  announce(`upscale tiles (${TILE}px tiles, overlap ${OVERLAP}, ${TILES} tiles per round; RSS at ${SIZE}x${SIZE})`, runs);
  const keys = process.env.MODELS ? process.env.MODELS.split(',') : (await readModelEntries(WEIGHTS)).map((e) => e.key);

  const models: Record<string, UpscaleModel> = {};
  for (const key of keys) {
    for (const provider of PROVIDERS) {
      try {
        models[`${key} on ${provider}`] = await load(key, provider);
      } catch (err) {
        console.log(`${key} on ${provider}: unavailable (${(err as Error).message.split('\n')[0]})`);
      }
    }
  }
  const tile = toNchw(noiseImage(TILE, TILE, 7), { x: 0, y: 0, width: TILE, height: TILE }, 255);
  for (const model of Object.values(models)) await model.run(tile); // warm-up: first run plans kernels
  const sides = Object.fromEntries(
    Object.entries(models).map(([name, model]) => [
      name,
      async () => {
        const times: number[] = [];
        const input = model.range === 255 ? tile : { ...tile, data: tile.data.map((v) => v / 255) };
        for (let i = 0; i < TILES; i++) {
          const t = performance.now();
          await model.run(input);
          times.push(performance.now() - t);
        }
        return times;
      },
    ]),
  );
  const results = await interleaved(runs, sides);
  console.log(`\n| model on provider | ms per ${TILE}² tile (median) | p95 | runs |\n|---|---|---|---|`);
  for (const [name, rounds] of Object.entries(results)) {
    const all = rounds.flat();
    console.log(`| ${name} | ${median(all).toFixed(1)} | ${percentile(all, 95).toFixed(1)} | ${all.length} |`);
  }
  for (const model of Object.values(models)) await model.release();

  console.log(`\n| ${SIZE}x${SIZE} end to end | peak RSS MiB (median) | ms (median) | tiles | model input -> output | runs |\n|---|---|---|---|---|---|`);
  // Only the sides that loaded above: a provider missing here fails the same way in the child.
  const rssSides = [['none', 'js'], ...keys.flatMap((key) => PROVIDERS.filter((p) => models[`${key} on ${p}`]).map((p) => [key, p]))];
  for (const [key, provider] of rssSides) {
    const samples: Array<{ maxRssMiB: number; ms: number; tiles: number; inferred: { width: number; height: number }; width: number; height: number }> = [];
    for (let run = 0; run < runs; run++) {
      const child = spawnSync(process.execPath, [...childLoader, fileURLToPath(import.meta.url), '--rss-child', key!, provider!], { encoding: 'utf8', env: process.env });
      const line = child.stdout.trim().split('\n').pop() ?? '';
      if (child.status !== 0 || !line.startsWith('{')) {
        console.log(`| ${key} on ${provider} | failed: ${(child.stderr || line).trim().split('\n').pop()} | | | | |`);
        break;
      }
      samples.push(JSON.parse(line));
    }
    const s = samples[0];
    if (!s) continue;
    const label = key === 'none' ? 'no model (pointwise JS x2)' : `${key} on ${provider}`;
    console.log(
      `| ${label} | ${median(samples.map((x) => x.maxRssMiB)).toFixed(0)} | ${median(samples.map((x) => x.ms)).toFixed(0)} | ${s.tiles} | ${s.inferred.width}x${s.inferred.height} -> ${s.width}x${s.height} | ${samples.length} |`,
    );
  }
  const after = machineLoad();
  if (after.busy) console.log(`\n${after.note}`);
}

if (process.argv[2] === '--rss-child') await rssChild(process.argv[3]!, process.argv[4]!);
else await main();
