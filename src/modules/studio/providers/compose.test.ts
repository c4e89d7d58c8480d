import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { ASPECT_RATIOS } from '../studio.job-schemas.js';
import { CANVAS, composeAd, LAYOUTS, planLayout, renderText } from './compose.js';

/**
 * Composed ads decode at the requested ratio on every layout, and the copy is on the pixels: Hangul is drawn
 * with real glyphs (different syllables give different ink, which a missing-glyph box would not), and the
 * text area of a composed ad changes with the copy.
 */

const copy = { headline: '당신 곁의 작은 행복, 아침 커피', body: '한 모금에 담긴 정성. Fresh beans daily.', cta: '지금 바로 만나보세요' };

async function ink(png: Buffer): Promise<{ pixels: Buffer; width: number; height: number; inked: number }> {
  const { data, info } = await sharp(png).ensureAlpha().extractChannel(3).raw().toBuffer({ resolveWithObject: true });
  let inked = 0;
  for (const v of data) if (v > 128) inked++;
  return { pixels: data, width: info.width, height: info.height, inked };
}

describe('ad composition', () => {
  it('draws Hangul with real glyphs from the bundled font', async () => {
    const ga = await ink((await renderText('가', { width: 200, height: 200 }, { bold: true, color: '#000000' })).data);
    const na = await ink((await renderText('나', { width: 200, height: 200 }, { bold: true, color: '#000000' })).data);
    const hangul = await ink((await renderText('한글 광고', { width: 400, height: 100 }, { bold: false, color: '#000000' })).data);
    expect(ga.inked).toBeGreaterThan(100);
    expect(na.inked).toBeGreaterThan(100);
    expect(hangul.inked).toBeGreaterThan(200);
    // A font without Hangul draws the same placeholder box for both: real glyphs differ.
    const same = ga.width === na.width && ga.height === na.height && ga.pixels.equals(na.pixels);
    expect(same).toBe(false);
  });

  it('plans six distinct layouts per ratio, inside the canvas', () => {
    for (const ratio of ASPECT_RATIOS) {
      const { width, height } = CANVAS[ratio];
      const plans = LAYOUTS.map((_, i) => planLayout(i, width, height, ['#000', '#111', '#222']));
      expect(new Set(plans.map((p) => JSON.stringify(p))).size).toBe(6);
      for (const p of plans) {
        for (const b of [p.picture, p.text, ...p.shapes.map((s) => s.box)]) {
          expect(b.left).toBeGreaterThanOrEqual(0);
          expect(b.top).toBeGreaterThanOrEqual(0);
          expect(b.left + b.width).toBeLessThanOrEqual(width);
          expect(b.top + b.height).toBeLessThanOrEqual(height);
        }
      }
    }
  });

  it('composes every layout of every ratio into a decodable image of that ratio, with the copy on it', async () => {
    const photo = await sharp({ create: { width: 640, height: 480, channels: 3, background: { r: 90, g: 140, b: 60 } } }).jpeg().toBuffer();
    let i = 0;
    for (const ratio of ASPECT_RATIOS) {
      for (let layout = 0; layout < 6; layout++) {
        const background = i % 2 === 0 ? photo : null;
        const style = (['ultra_realistic', 'semi_realistic', 'anime'] as const)[i % 3]!;
        const out = await composeAd({ background, ...copy, aspectRatio: ratio, layout, style, seed: i });
        const meta = await sharp(out.png).metadata();
        expect(meta.format).toBe('png');
        expect([meta.width, meta.height]).toEqual([CANVAS[ratio].width, CANVAS[ratio].height]);
        const [a, b] = ratio.split(':').map(Number);
        expect(meta.width! / meta.height!).toBeCloseTo(a! / b!, 2);
        // One layout per ratio: the same ad with blank copy differs inside the text box.
        if (layout === (ASPECT_RATIOS.indexOf(ratio) * 5) % 6) {
          const blank = await composeAd({ background, headline: ' ', body: ' ', cta: ' ', aspectRatio: ratio, layout, style, seed: i });
          const t = planLayout(layout, meta.width!, meta.height!, ['#000', '#000', '#000']).text;
          const crop = (png: Buffer) => sharp(png).extract({ left: t.left, top: t.top, width: t.width, height: Math.round(t.height * 0.45) }).greyscale().raw().toBuffer();
          const [x, y] = await Promise.all([crop(out.png), crop(blank.png)]);
          let changed = 0;
          for (let k = 0; k < x.length; k++) if (Math.abs(x[k]! - y[k]!) > 60) changed++;
          expect(changed / x.length, `${ratio} layout ${layout}`).toBeGreaterThan(0.02);
        }
        i++;
      }
    }
  }, 120_000);
});
