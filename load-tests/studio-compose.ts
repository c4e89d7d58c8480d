/**
 * Ad image composition (issue 9, "Measure"): milliseconds per composed ad for each aspect ratio, over the six
 * layouts, with a photo background (a 1600×1200 JPEG, cover-cropped and treated per style) and with the
 * generated gradient; PNG output as the worker sends it. One process, one image at a time (the worker runs
 * jobs one at a time by default; sharp uses its own thread pool inside one composition).
 *
 *   npx tsx load-tests/studio-compose.ts            # RUNS=3 (each run: 6 layouts × 2 backgrounds per ratio)
 */
import sharp from 'sharp';
import { CANVAS, composeAd } from '../src/modules/studio/providers/compose.js';
import { ASPECT_RATIOS, type AspectRatio } from '../src/modules/studio/studio.job-schemas.js';
import { fmt } from './baselines/harness.js';
import { announce, interleaved, machineLoad, median, percentile, runCount } from './baselines/stats.js';

const copy = { headline: '당신 곁의 작은 행복, 신선한 아침 커피', body: '한 모금, 한 입에 담긴 정성. Fresh beans, roasted daily.', cta: '지금 바로 만나보세요' };

async function main(): Promise<void> {
  const runs = runCount(3);
  announce('studio-compose (6 layouts × photo/gradient per ratio per run)', runs);
  const photo = await sharp({ create: { width: 1600, height: 1200, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } } }).jpeg({ quality: 85 }).toBuffer();
  // Warm-up: fonts, librsvg, the thread pool.
  await composeAd({ background: photo, ...copy, aspectRatio: '1:1', layout: 0, style: 'ultra_realistic', seed: 0 });
  const perRatio = (ratio: AspectRatio, background: Buffer | null) => async () => {
    const ms: number[] = [];
    for (let layout = 0; layout < 6; layout++) {
      const t = performance.now();
      const out = await composeAd({ background, ...copy, aspectRatio: ratio, layout, style: (['ultra_realistic', 'semi_realistic', 'anime'] as const)[layout % 3]!, seed: layout });
      ms.push(performance.now() - t);
      if (out.width !== CANVAS[ratio].width) throw new Error('wrong size');
    }
    return ms;
  };
  const sides: Record<string, () => Promise<number[]>> = {};
  for (const r of ASPECT_RATIOS) {
    sides[`${r} photo`] = perRatio(r, photo);
    sides[`${r} gradient`] = perRatio(r, null);
  }
  const results = await interleaved(runs, sides, (side, run, ms) => console.log(`  run ${run} ${side}: median ${fmt(median(ms))} ms (${ms.map((m) => fmt(m, 0)).join(' / ')})`));
  console.log(`\n| ratio | canvas | photo: median ms | p90 | gradient: median ms | p90 |\n|---|---|---|---|---|---|`);
  for (const r of ASPECT_RATIOS) {
    const p = results[`${r} photo`]!.flat();
    const g = results[`${r} gradient`]!.flat();
    console.log(`| ${r} | ${CANVAS[r].width}×${CANVAS[r].height} | ${fmt(median(p), 0)} | ${fmt(percentile(p, 90), 0)} | ${fmt(median(g), 0)} | ${fmt(percentile(g, 90), 0)} |`);
  }
  console.log(`# sharp concurrency ${sharp.concurrency()}; ${machineLoad().note}`);
}

await main();
