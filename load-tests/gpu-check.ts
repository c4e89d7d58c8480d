/**
 * The worker's GPU path, checked on a GPU host (issue 7): does the worker's own model catalog, with the
 * worker's default provider order (`cuda` → `webgpu` → `cpu`), end up on a GPU provider; does that
 * provider's output match the CPU provider's; and how fast is a whole photo end to end on it, by tile
 * size and tiles in flight, against the CPU provider on the same host doing the same photo.
 *
 *   npx tsx load-tests/gpu-check.ts        # any host; without a GPU adapter it reports cpu only
 *   bash load-tests/gpu/pack.sh            # here: packs node, the native modules and bundles into .gpu/
 *   bash load-tests/gpu/run.sh .gpu        # on a GPU host without node (then upscale-tiles too)
 *
 * Env: MODELS (default rdn-slim-x2,rdn-medium-x2,rdn-slim-x4), SIZE (end-to-end photo side, 2000),
 * RUNS (3), TILES_SWEEP (256,512), CONCURRENCY_SWEEP (1,2,4), CPU_THREADS (0 = ORT's default).
 */
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { noiseImage } from '../src/worker/inference/fake-models.js';
import { loadManifestModel } from '../src/worker/inference/manifest-model.js';
import type { TileTensor, UpscaleModel } from '../src/worker/inference/session.js';
import { toNchw, upscaleTiled } from '../src/worker/inference/tiling.js';
import { decodeRgb, encodeRgb, upscaleImage } from '../src/worker/inference/upscale.js';
import { loadModelCatalog } from '../src/worker/worker.models.js';
import { announce, median, runCount } from './baselines/stats.js';

const WEIGHTS = fileURLToPath(new URL('../weights/', import.meta.url));
const MODELS = (process.env.MODELS ?? 'rdn-slim-x2,rdn-medium-x2,rdn-slim-x4').split(',').filter(Boolean);
const SIZE = Number(process.env.SIZE ?? 2000);
const TILES_SWEEP = (process.env.TILES_SWEEP ?? '256,512').split(',').map(Number);
const CONCURRENCY_SWEEP = (process.env.CONCURRENCY_SWEEP ?? '1,2,4').split(',').map(Number);
const CPU_THREADS = Number(process.env.CPU_THREADS ?? 0);
/** The worker's configured order (config/default.json `worker.providers`). */
const WORKER_PROVIDERS = ['cuda', 'webgpu', 'cpu'];

const quiet = { debug() {}, info() {}, warn() {}, error: (obj: object, msg: string) => console.error(msg, obj) };

/**
 * A photo-like input: smooth blobs (noise at 1/8 size, Lanczos-enlarged) with a little grain, so the
 * PNG encoder sees photo-like entropy; pure noise would make encoding, not the model, the cost.
 */
async function photo(side: number): Promise<Buffer> {
  const small = Math.max(8, Math.round(side / 8));
  const blobs = await sharp(noiseImage(small, small, 11).data, { raw: { width: small, height: small, channels: 3 } })
    .resize(side, side, { kernel: 'lanczos3' })
    .raw()
    .toBuffer();
  const grain = noiseImage(side, side, 5).data;
  for (let i = 0; i < blobs.length; i++) blobs[i] = Math.min(255, blobs[i]! + (grain[i]! >> 5));
  return sharp(blobs, { raw: { width: side, height: side, channels: 3 } }).png().toBuffer();
}

/** A model that costs nothing: one cached output per tile size, so only the tiling copies are timed. */
function instantModel(scale: number): UpscaleModel {
  const outputs = new Map<string, Float32Array>();
  return {
    name: 'instant',
    scale,
    range: 255,
    provider: 'js',
    async run(tile: TileTensor) {
      const key = `${tile.width}x${tile.height}`;
      let data = outputs.get(key);
      if (!data) outputs.set(key, (data = new Float32Array(3 * tile.width * scale * tile.height * scale).fill(128)));
      return { data, channels: 3, width: tile.width * scale, height: tile.height * scale };
    },
    async release() {},
  };
}

async function rawPixels(png: Buffer): Promise<Buffer> {
  return sharp(png).removeAlpha().raw().toBuffer();
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

async function timeEndToEnd(input: Buffer, model: UpscaleModel, tileSize: number, concurrency: number, runs: number): Promise<{ ms: number; inferenceMs: number; tiles: number; out: string }> {
  const samples: Array<{ ms: number; inferenceMs: number; tiles: number; out: string }> = [];
  for (let r = 0; r < runs; r++) {
    const res = await upscaleImage(input, model, { tileSize, concurrency });
    samples.push({ ms: res.ms, inferenceMs: res.inferenceMs, tiles: res.tiles, out: `${res.inferred.width}x${res.inferred.height} -> ${res.width}x${res.height}` });
  }
  return { ms: median(samples.map((s) => s.ms)), inferenceMs: median(samples.map((s) => s.inferenceMs)), tiles: samples[0]!.tiles, out: samples[0]!.out };
}

async function main(): Promise<void> {
  const runs = runCount(3);
  announce(`gpu check (worker provider order ${WORKER_PROVIDERS.join(' -> ')}; ${SIZE}x${SIZE} end to end)`, runs);

  // 1. The worker's own catalog, as worker.start builds it: which provider wins, and why the others lost.
  const t0 = performance.now();
  const catalog = await loadModelCatalog({ dir: WEIGHTS, providers: WORKER_PROVIDERS, cpuThreads: CPU_THREADS, logger: quiet, preload: MODELS });
  console.log(`\nworker catalog: provider=${catalog.provider} (preload of ${MODELS.length} models ${(performance.now() - t0).toFixed(0)} ms)`);
  for (const f of catalog.failures) console.log(`  skipped ${f.provider}: ${f.message}`);

  const cpu: Record<string, UpscaleModel> = {};
  for (const key of MODELS) cpu[key] = await loadManifestModel(WEIGHTS, key, { providers: ['cpu'], ...(CPU_THREADS > 0 ? { cpuThreads: CPU_THREADS } : {}) });

  // 2. Same input, both providers: one tile's raw floats, and a whole photo through the worker's tiled path.
  const small = await photo(384);
  console.log(`\n| model | provider | tile max abs diff vs cpu (0-255 floats) | 384² photo: max 8-bit diff, pixels differing |\n|---|---|---|---|`);
  for (const key of MODELS) {
    const model = await catalog.get(key.endsWith('x4') ? 4 : 2, key);
    const tile = toNchw(noiseImage(128, 128, 3), { x: 0, y: 0, width: 128, height: 128 }, model.range);
    const [a, b] = [await model.run(tile), await cpu[key]!.run(tile)];
    const [pa, pb] = [await rawPixels((await upscaleImage(small, model, { concurrency: 2 })).buffer), await rawPixels((await upscaleImage(small, cpu[key]!)).buffer)];
    let differing = 0;
    for (let i = 0; i < pa.length; i++) if (pa[i] !== pb[i]) differing++;
    console.log(`| ${key} | ${model.provider} | ${maxAbsDiff(a.data, b.data).toExponential(2)} | ${maxAbsDiff(pa, pb)}, ${((100 * differing) / pa.length).toFixed(3)}% |`);
  }

  // 3. Where a photo's time goes besides the model: decode, the tiling copies (an instant model), encode.
  const input = await photo(SIZE);
  console.log(`\n| ${SIZE}² photo, no model | decode ms | tiling copies ms (x2, 256² tiles) | PNG encode ms (4x pixels) | PNG bytes |\n|---|---|---|---|---|`);
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    const { image } = await decodeRgb(input, 100_000_000);
    const t1 = performance.now();
    await upscaleTiled(image, instantModel(2), { tileSize: 256, overlap: 16 });
    const t2 = performance.now();
    // What a model's output looks like to the encoder: the photo enlarged x2 (Lanczos), not a flat image.
    const lanczos = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } }).resize(image.width * 2, image.height * 2, { kernel: 'lanczos3' }).raw().toBuffer();
    const t3 = performance.now();
    const png = await encodeRgb({ data: lanczos, width: image.width * 2, height: image.height * 2, channels: 3 }, 'png');
    console.log(`| run ${r + 1} | ${(t1 - t0).toFixed(0)} | ${(t2 - t1).toFixed(0)} | ${(performance.now() - t3).toFixed(0)} | ${png.length} |`);
  }

  // 4. End to end: the worker's settings (256² tiles, 2 in flight on a GPU) and the sweep around them.
  console.log(`\n| model | provider | tile | in flight | ${SIZE}² end to end ms (median) | inference ms | tiles | input -> output |\n|---|---|---|---|---|---|---|---|`);
  for (const key of MODELS) {
    const model = await catalog.get(key.endsWith('x4') ? 4 : 2, key);
    const base = await timeEndToEnd(input, cpu[key]!, 256, 1, runs);
    console.log(`| ${key} | cpu | 256 | 1 | ${base.ms.toFixed(0)} | ${base.inferenceMs.toFixed(0)} | ${base.tiles} | ${base.out} |`);
    if (model.provider === 'cpu') continue;
    await upscaleImage(small, model, { tileSize: 512 }); // plans the 512² kernels before timing
    for (const tile of TILES_SWEEP) {
      for (const concurrency of CONCURRENCY_SWEEP) {
        const r = await timeEndToEnd(input, model, tile, concurrency, runs);
        console.log(`| ${key} | ${model.provider} | ${tile} | ${concurrency} | ${r.ms.toFixed(0)} (${(base.ms / r.ms).toFixed(1)}x cpu) | ${r.inferenceMs.toFixed(0)} | ${r.tiles} | ${r.out} |`);
      }
    }
  }
  await catalog.release();
  for (const m of Object.values(cpu)) await m.release();
}

await main();
