import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { bestCut, DEFAULT_EXPOSURE, exposureOf, laplacianVariance } from './bestcut.js';

/** A rendered landscape-like scene (gradients, shapes, fine lines, text), mid-tone exposure. */
function scene(width: number, height: number): Buffer {
  const posts = Array.from({ length: 24 }, (_, i) => `<line x1="${300 + i * 12}" y1="360" x2="${300 + i * 12}" y2="460" stroke="#3a2f28" stroke-width="3"/>`).join('');
  return Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 640 480">
<defs><linearGradient id="sky" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#6d8fb5"/><stop offset="1" stop-color="#c9b48a"/></linearGradient></defs>
<rect width="640" height="480" fill="url(#sky)"/><circle cx="500" cy="110" r="60" fill="#e8d27a"/>
<polygon points="0,480 180,220 330,480" fill="#4a5a3c"/><polygon points="220,480 420,190 640,480" fill="#5b6b48"/>
<rect x="60" y="330" width="140" height="110" fill="#8a4b3a"/><rect x="90" y="370" width="30" height="30" fill="#2b2b33"/>
${posts}<text x="40" y="80" font-family="sans-serif" font-size="42" fill="#1f2530">Easel best-cut</text></svg>`);
}

let shots: Record<'sharp' | 'blurred' | 'soft' | 'over' | 'under', Buffer>;
beforeAll(async () => {
  const base = await sharp(scene(640, 480)).jpeg({ quality: 92 }).toBuffer();
  shots = {
    sharp: base,
    blurred: await sharp(base).blur(3).jpeg().toBuffer(),
    soft: await sharp(base).blur(0.8).jpeg().toBuffer(),
    over: await sharp(base).linear(2.2, 30).jpeg().toBuffer(), // ~2/3 of the frame blown to white
    under: await sharp(base).linear(0.12, 0).jpeg().toBuffer(),
  };
});

describe('bestCut', () => {
  it('picks the sharp shot over the same shot blurred, and scores every candidate', async () => {
    const r = await bestCut([shots.blurred, shots.sharp]);
    expect(r.pick).toBe(1);
    expect(r.scores.map((s) => [s.index, s.width, s.height, s.exposure])).toEqual([[0, 640, 480, 'ok'], [1, 640, 480, 'ok']]);
    expect(r.scores[1]!.sharpness).toBeGreaterThan(10 * r.scores[0]!.sharpness);
    expect(r.analysisSize).toBe(512);
    // Order does not matter.
    expect((await bestCut([shots.sharp, shots.soft, shots.blurred])).pick).toBe(0);
  });

  it('flags an over-exposed sharp shot and picks a well-exposed softer one (exposure gates, then sharpness)', async () => {
    const r = await bestCut([shots.over, shots.soft]);
    const [over, soft] = r.scores;
    expect(over!.exposure).toBe('over');
    expect(over!.clippedHigh).toBeGreaterThan(DEFAULT_EXPOSURE.maxClipped);
    expect(soft!.exposure).toBe('ok');
    // Blown highlights have hard edges: on sharpness, and even on the clipping-discounted score, the
    // over-exposed shot is ahead; only the exposure gate sends the pick to the softer shot.
    expect(over!.sharpness).toBeGreaterThan(soft!.sharpness);
    expect(over!.score).toBeGreaterThan(soft!.score);
    expect(r.pick).toBe(1);
  });

  it('flags under-exposure and, when every shot is flagged, picks the best score among them', async () => {
    const r = await bestCut([shots.under, shots.over]);
    expect(r.scores.map((s) => s.exposure)).toEqual(['under', 'over']);
    expect(r.scores[0]!.meanLuma).toBeLessThan(DEFAULT_EXPOSURE.minMean);
    expect(r.pick).toBe(1);
  });

  it('analyses large photos on a copy that fits in analysisSize, reporting their real size', async () => {
    const big = await sharp(scene(2000, 1500)).png().toBuffer();
    const small = await sharp(scene(640, 480)).png().toBuffer();
    const r = await bestCut([big, small], { analysisSize: 320 });
    expect(r.scores.map((s) => [s.width, s.height])).toEqual([[2000, 1500], [640, 480]]);
    // Same scene at the same analysis scale: comparable sharpness whatever the upload resolution.
    const ratio = r.scores[0]!.sharpness / r.scores[1]!.sharpness;
    expect(ratio).toBeGreaterThan(0.5);
    expect(ratio).toBeLessThan(2);
  });

  it('refuses fewer than 2 or more than 10 images with 422', async () => {
    for (const n of [0, 1, 11]) {
      await expect(bestCut(Array.from({ length: n }, () => shots.sharp))).rejects.toMatchObject({
        status: 422,
        code: 'validation_failed',
        message: `Best-cut needs 2 to 10 images, got ${n}`,
      });
    }
    expect((await bestCut(Array.from({ length: 10 }, () => shots.soft))).scores).toHaveLength(10);
  });

  it('names the candidate that is not an image, empty, truncated or too large', async () => {
    await expect(bestCut([shots.sharp, shots.soft, Buffer.from('%PDF-1.7 not a photo')])).rejects.toMatchObject({
      status: 415,
      code: 'not_an_image',
      message: 'Candidate 3: The file is not a recognised image',
      errors: [{ path: 'files.2', message: 'The file is not a recognised image' }],
    });
    await expect(bestCut([Buffer.alloc(0), shots.sharp])).rejects.toMatchObject({ status: 415, code: 'not_an_image' });
    await expect(bestCut([shots.sharp, shots.sharp.subarray(0, shots.sharp.length / 3)])).rejects.toMatchObject({
      status: 415,
      code: 'corrupt_image',
      message: expect.stringMatching(/^Candidate 2:/),
    });
    await expect(bestCut([shots.sharp, shots.soft], { maxInputPixels: 640 * 480 - 1 })).rejects.toMatchObject({ status: 413, code: 'image_too_many_pixels' });
    await expect(bestCut([shots.sharp, shots.soft], { analysisSize: 2 })).rejects.toThrow(/analysisSize/);
  });
});

describe('measures', () => {
  it('laplacian variance: 0 on flat or tiny images, known value on a checkerboard', () => {
    expect(laplacianVariance(new Float32Array(25).fill(77), 5, 5)).toBe(0);
    expect(laplacianVariance(Float32Array.from([0, 255, 0, 255]), 2, 2)).toBe(0);
    // 0/1 checkerboard: each interior Laplacian is ±4, half each over the 4×4 interior -> mean 0, variance 16.
    const board = Float32Array.from({ length: 36 }, (_, i) => (Math.floor(i / 6) + (i % 6)) % 2);
    expect(laplacianVariance(board, 6, 6)).toBe(16);
  });

  it('exposure: clipped fractions and mean against the rule', () => {
    const e = exposureOf(Float32Array.from([255, 255, 0, 128, 128, 128, 128, 128, 128, 128]), DEFAULT_EXPOSURE);
    expect(e).toMatchObject({ clippedHigh: 0.2, clippedLow: 0.1, exposure: 'over' });
    expect(exposureOf(new Float32Array(10).fill(30), DEFAULT_EXPOSURE).exposure).toBe('under');
    expect(exposureOf(new Float32Array(10).fill(120), DEFAULT_EXPOSURE)).toEqual({ meanLuma: 120, clippedHigh: 0, clippedLow: 0, exposure: 'ok' });
  });
});
