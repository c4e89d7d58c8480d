import { describe, expect, it } from 'vitest';
import { fakeUpscaleModel, noiseImage } from './fake-models.js';
import type { TileTensor, UpscaleModel } from './session.js';
import { planTiles, reflectIndex, upscaleTiled, type RgbImage } from './tiling.js';

const SIZES: Array<[number, number]> = [[1, 1], [1, 97], [97, 1], [2, 300], [64, 64], [65, 63], [129, 200], [300, 41]];

function diff(a: RgbImage, b: RgbImage): { max: number; count: number; first?: [number, number] } {
  expect([a.width, a.height]).toEqual([b.width, b.height]);
  let max = 0;
  let count = 0;
  let first: [number, number] | undefined;
  for (let i = 0; i < a.data.length; i++) {
    const d = Math.abs(a.data[i]! - b.data[i]!);
    if (d > 0) {
      count++;
      first ??= [Math.floor(i / 3) % a.width, Math.floor(i / 3 / a.width)];
    }
    max = Math.max(max, d);
  }
  return { max, count, first };
}

/** Independent reference: nearest-neighbour ×s straight from the HWC bytes. */
function nearest(img: RgbImage, s: number): RgbImage {
  const out = new Uint8Array(img.data.length * s * s);
  for (let y = 0; y < img.height * s; y++) {
    for (let x = 0; x < img.width * s; x++) {
      for (let c = 0; c < 3; c++) out[(y * img.width * s + x) * 3 + c] = img.data[(Math.floor(y / s) * img.width + Math.floor(x / s)) * 3 + c]!;
    }
  }
  return { data: out, width: img.width * s, height: img.height * s, channels: 3 };
}

describe('planTiles', () => {
  // Pixel-by-pixel checks over seven tilings: 11 s for 129×200 on a loaded CI machine, so not the 30 s default.
  it.each(SIZES)('cores partition a %ix%i image, windows hold them with overlap context or an image edge', { timeout: 90_000 }, (w, h) => {
    for (const [tileSize, overlap, pad] of [[16, 4, 0], [16, 4, 4], [8, 3, 3], [5, 2, 0], [5, 2, 2], [64, 0, 0], [1, 0, 0]] as const) {
      const owner = new Int32Array(w * h).fill(-1);
      const tiles = planTiles(w, h, tileSize, overlap, pad);
      tiles.forEach(({ core, input }, t) => {
        // One tensor shape whenever the (padded) image allows, never more than tileSize.
        expect(input.width).toBe(Math.min(tileSize, w + 2 * pad));
        expect(input.height).toBe(Math.min(tileSize, h + 2 * pad));
        expect(Math.min(input.x, input.y)).toBeGreaterThanOrEqual(-pad);
        const left = core.x - input.x;
        const right = input.x + input.width - (core.x + core.width);
        const top = core.y - input.y;
        const bottom = input.y + input.height - (core.y + core.height);
        expect(left >= overlap || input.x === -pad).toBe(true);
        expect(top >= overlap || input.y === -pad).toBe(true);
        expect(right >= overlap || input.x + input.width === w + pad).toBe(true);
        expect(bottom >= overlap || input.y + input.height === h + pad).toBe(true);
        for (let y = core.y; y < core.y + core.height; y++) {
          for (let x = core.x; x < core.x + core.width; x++) {
            owner[y * w + x] = owner[y * w + x] === -1 ? t : -2; // -2 marks a pixel owned twice
          }
        }
      });
      expect(owner.every((t) => t >= 0)).toBe(true);
    }
  });

  it('reflectIndex mirrors without repeating the edge, for any length', () => {
    expect([-3, -2, -1, 0, 1, 2, 3, 4, 5, 6].map((i) => reflectIndex(i, 4))).toEqual([3, 2, 1, 0, 1, 2, 3, 2, 1, 0]);
    expect([-5, -1, 0, 3, 9].map((i) => reflectIndex(i, 1))).toEqual([0, 0, 0, 0, 0]);
    expect([-4, -1, 2, 5].map((i) => reflectIndex(i, 2))).toEqual([0, 1, 0, 1]);
  });

  it('refuses bad geometry', () => {
    expect(() => planTiles(0, 5, 16, 2)).toThrow(/width/);
    expect(() => planTiles(5, 2.5, 16, 2)).toThrow(/height/);
    expect(() => planTiles(5, 5, 0, 0)).toThrow(/tileSize/);
    expect(() => planTiles(5, 5, 16, 8)).toThrow(/overlap/);
    expect(() => planTiles(5, 5, 16, -1)).toThrow(/overlap/);
  });
});

describe('upscaleTiled', () => {
  it.each(SIZES)('a pointwise model tiled equals the model untiled and nearest-neighbour exactly (%ix%i)', async (w, h) => {
    const img = noiseImage(w, h, w * 1000 + h);
    for (const scale of [2, 4]) {
      const expected = nearest(img, scale);
      const whole = await upscaleTiled(img, fakeUpscaleModel({ scale }), { tileSize: 512, overlap: 0 });
      expect(whole.tiles).toBe(1);
      expect(diff(whole.image, expected).count).toBe(0);
      const tiled = await upscaleTiled(img, fakeUpscaleModel({ scale }), { tileSize: 16, overlap: 3 });
      expect(diff(tiled.image, expected).count).toBe(0);
    }
  });

  it.each(SIZES)('a 3x3 receptive field tiles seamlessly with overlap >= 1 (%ix%i)', async (w, h) => {
    const img = noiseImage(w, h, 7 + w + h);
    for (const [tileSize, overlap] of [[8, 1], [16, 4], [7, 3]] as const) {
      for (const edges of ['reflect', 'zero'] as const) {
        // Untiled: one window holding the whole (mirror-padded) image.
        const whole = await upscaleTiled(img, fakeUpscaleModel({ scale: 2, kernel: 3 }), { tileSize: 1024, overlap, edges });
        expect(whole.tiles).toBe(1);
        const tiled = await upscaleTiled(img, fakeUpscaleModel({ scale: 2, kernel: 3 }), { tileSize, overlap, edges });
        expect(diff(tiled.image, whole.image).count).toBe(0); // same float ops in JS: exact
      }
    }
  });

  it('mirrors the image at its edges so zero padding does not darken the border', async () => {
    const grey: RgbImage = { data: new Uint8Array(10 * 6 * 3).fill(128), width: 10, height: 6, channels: 3 };
    const reflected = await upscaleTiled(grey, fakeUpscaleModel({ scale: 2, kernel: 3 }), { tileSize: 8, overlap: 2 });
    expect(reflected.image.data.every((v) => v === 128)).toBe(true);
    const zero = await upscaleTiled(grey, fakeUpscaleModel({ scale: 2, kernel: 3 }), { tileSize: 8, overlap: 2, edges: 'zero' });
    expect([zero.image.data[0], zero.image.data[(2 * 20 + 2) * 3]]).toEqual([57, 128]); // corner 4/9 of 128
  });

  it('without overlap the same blur shows seams at tile borders (the comparison can fail)', async () => {
    const img = noiseImage(40, 40, 3);
    const whole = await upscaleTiled(img, fakeUpscaleModel({ scale: 2, kernel: 3 }), { tileSize: 64, overlap: 0 });
    const tiled = await upscaleTiled(img, fakeUpscaleModel({ scale: 2, kernel: 3 }), { tileSize: 16, overlap: 0 });
    expect(tiled.tiles).toBe(9);
    const d = diff(tiled.image, whole.image);
    expect(d.max).toBeGreaterThan(10);
    // 40 px in 16-px tiles: cores split at 13/27 (near-equal spans); the first seam is at output x 26.
    expect(d.first).toEqual([26, 0]);
  });

  it('keeps the model input bounded by the tile size on a large image', async () => {
    const model = fakeUpscaleModel({ scale: 2 });
    const img = noiseImage(700, 300);
    for (const edges of ['reflect', 'zero'] as const) {
      const { tiles } = await upscaleTiled(img, model, { tileSize: 64, overlap: 8, edges });
      expect(model.largestTile).toBe(64 * 64);
      expect(tiles).toBe(Math.ceil(700 / 48) * Math.ceil(300 / 48));
    }
    expect(model.calls).toBe(2 * 15 * 7);
  });

  it('feeds 0-1 models 0-1 pixels and maps their output back to bytes', async () => {
    const img = noiseImage(33, 21, 9);
    const unit = await upscaleTiled(img, fakeUpscaleModel({ scale: 2, range: 1 }), { tileSize: 16, overlap: 2 });
    expect(diff(unit.image, nearest(img, 2)).count).toBe(0);
  });

  it('clamps overshoot and rounds', async () => {
    const img: RgbImage = { data: Uint8Array.from([0, 100, 200, 255, 1, 2]), width: 2, height: 1, channels: 3 };
    const bright = await upscaleTiled(img, fakeUpscaleModel({ scale: 1, gain: 1.5 }), { tileSize: 4, overlap: 0 });
    expect(Array.from(bright.image.data)).toEqual([0, 150, 255, 255, 2, 3]);
    const negative = await upscaleTiled(img, fakeUpscaleModel({ scale: 1, gain: -1 }), { tileSize: 4, overlap: 0 });
    expect(Array.from(negative.image.data)).toEqual([0, 0, 0, 0, 0, 0]);
    // A model's NaN and infinities land as 0 and 255; halves round to even (the Uint8ClampedArray store).
    const odd = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0.5, 2.5, 254.6];
    const oddModel = { ...fakeUpscaleModel({ scale: 1 }), run: async (t: TileTensor) => ({ ...t, data: Float32Array.from(odd) }) };
    const weird = await upscaleTiled(img, oddModel, { tileSize: 4, overlap: 0 });
    // NCHW planes [R0 R1][G0 G1][B0 B1] -> interleaved R0 G0 B0 R1 G1 B1
    expect(Array.from(weird.image.data)).toEqual([0, 0, 2, 255, 0, 255]);
  });

  it('reports progress per tile and stops when aborted', async () => {
    const seen: Array<[number, number]> = [];
    const img = noiseImage(50, 50);
    await upscaleTiled(img, fakeUpscaleModel({ scale: 2 }), { tileSize: 24, overlap: 2, onProgress: (d, t) => seen.push([d, t]) });
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9].map((d) => [d, 9]));

    const controller = new AbortController();
    const model = fakeUpscaleModel({ scale: 2 });
    const run = upscaleTiled(img, model, {
      tileSize: 24,
      overlap: 2,
      signal: controller.signal,
      onProgress: (d) => d === 3 && controller.abort(new Error('cancelled by user')),
    });
    await expect(run).rejects.toThrow('cancelled by user');
    expect(model.calls).toBe(3);
  });

  it('runs up to `concurrency` tiles at once with the same result, and stops all lanes on a failure', async () => {
    const img = noiseImage(90, 70, 4);
    const serial = await upscaleTiled(img, fakeUpscaleModel({ scale: 2, kernel: 3 }), { tileSize: 24, overlap: 4 });
    const model = fakeUpscaleModel({ scale: 2, kernel: 3, delayMs: 2 });
    const seen: number[] = [];
    const parallel = await upscaleTiled(img, model, { tileSize: 24, overlap: 4, concurrency: 3, onProgress: (d) => seen.push(d) });
    expect(model.maxInFlight).toBe(3);
    expect(diff(parallel.image, serial.image).count).toBe(0);
    expect(seen).toEqual(Array.from({ length: serial.tiles }, (_, i) => i + 1));

    let calls = 0;
    const flaky = fakeUpscaleModel({ scale: 2, delayMs: 2 });
    const failing: UpscaleModel = {
      ...flaky,
      run: async (t: TileTensor) => {
        if (++calls === 4) throw new Error('device lost');
        return flaky.run(t);
      },
    };
    await expect(upscaleTiled(img, failing, { tileSize: 24, overlap: 4, concurrency: 3 })).rejects.toThrow('device lost');
    expect(calls).toBeLessThanOrEqual(6); // lanes stop taking tiles after the failure
    await expect(upscaleTiled(img, model, { tileSize: 24, overlap: 4, concurrency: 0 })).rejects.toThrow(/concurrency/);
  });

  it('rejects a model that returns the wrong shape and an image whose bytes do not match its size', async () => {
    const liar: UpscaleModel = {
      ...fakeUpscaleModel({ scale: 2 }),
      name: 'liar',
      run: async (t: TileTensor) => ({ ...t }),
    };
    await expect(upscaleTiled(noiseImage(4, 4), liar, { tileSize: 8, overlap: 0 })).rejects.toThrow(/liar returned 3×4×4 for a 4×4 tile at scale 2/);
    const bad: RgbImage = { data: new Uint8Array(10), width: 2, height: 2, channels: 3 };
    await expect(upscaleTiled(bad, fakeUpscaleModel({ scale: 2 }), { tileSize: 8, overlap: 0 })).rejects.toThrow(/10 bytes/);
  });
});
