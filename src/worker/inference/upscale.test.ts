import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boxUpscaleOnnx } from '../../../test/helpers/tiny-onnx.js';
import { fakeUpscaleModel, noiseImage } from './fake-models.js';
import { loadManifestModel } from './manifest-model.js';
import { loadOnnxUpscaleModel, type OnnxUpscaleModel } from './session.js';
import { upscaleTiled, type RgbImage } from './tiling.js';
import { decodeRgb, fitForOutput, upscaleImage } from './upscale.js';

/** Integration: sharp + onnxruntime-node on cpu with tiny in-memory ONNX models. */

const png = (img: RgbImage) => sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } }).png().toBuffer();
const raw = async (buf: Buffer) => {
  const { data, info } = await sharp(buf).raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height, channels: info.channels };
};
function maxDiff(a: Uint8Array, b: Uint8Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

let blurX2: OnnxUpscaleModel;
let nearestX4: OnnxUpscaleModel;
beforeAll(async () => {
  const opts = { providers: ['cpu'], cpuThreads: 1 };
  blurX2 = await loadOnnxUpscaleModel({ name: 'blur-x2', scale: 2, range: 255, model: boxUpscaleOnnx({ scale: 2, kernel: 3 }) }, opts);
  nearestX4 = await loadOnnxUpscaleModel({ name: 'nearest-x4', scale: 4, range: 1, model: boxUpscaleOnnx({ scale: 4, kernel: 1 }) }, opts);
});
afterAll(async () => {
  await blurX2?.release();
  await nearestX4?.release();
});

describe('tiled ONNX inference', () => {
  it.each([[1, 1], [1, 50], [50, 1], [37, 53], [70, 33]])('matches untiled within 1 level at every pixel, borders included (%ix%i)', async (w, h) => {
    const img = noiseImage(w, h, w + 31 * h);
    const whole = await upscaleTiled(img, blurX2, { tileSize: 1024, overlap: 4 });
    const tiled = await upscaleTiled(img, blurX2, { tileSize: 16, overlap: 4 });
    expect(maxDiff(tiled.image.data, whole.image.data)).toBeLessThanOrEqual(1);
    // The JS fake with the same kernel agrees with the ONNX graph: the fakes stand for the real thing.
    const js = await upscaleTiled(img, fakeUpscaleModel({ scale: 2, kernel: 3 }), { tileSize: 1024, overlap: 4 });
    expect(maxDiff(js.image.data, whole.image.data)).toBeLessThanOrEqual(1);
  });

  it('runs tiles concurrently on one ORT session with the same result', async () => {
    const img = noiseImage(90, 60, 8);
    const serial = await upscaleTiled(img, blurX2, { tileSize: 32, overlap: 4 });
    const parallel = await upscaleTiled(img, blurX2, { tileSize: 32, overlap: 4, concurrency: 4 });
    expect(parallel.tiles).toBe(serial.tiles);
    expect(maxDiff(parallel.image.data, serial.image.data)).toBe(0);
  });

  it('shows seams without overlap (the tolerance check above can fail)', async () => {
    const img = noiseImage(40, 40, 5);
    const whole = await upscaleTiled(img, blurX2, { tileSize: 64, overlap: 0 });
    const tiled = await upscaleTiled(img, blurX2, { tileSize: 16, overlap: 0 });
    expect(maxDiff(tiled.image.data, whole.image.data)).toBeGreaterThan(10);
  });
});

describe('upscaleImage', () => {
  it('decodes, upscales tile by tile with progress, and encodes PNG', async () => {
    const img = noiseImage(45, 30, 11);
    const progress: number[][] = [];
    const out = await upscaleImage(await png(img), blurX2, { tileSize: 24, overlap: 4, onProgress: (d, t) => progress.push([d, t]) });
    expect(out).toMatchObject({ format: 'png', width: 90, height: 60, source: { width: 45, height: 30 }, downscaled: false, provider: 'cpu', model: 'blur-x2', scale: 2, tiles: 6 });
    expect(out.ms).toBeGreaterThanOrEqual(out.inferenceMs);
    expect(out.inferenceMs).toBeGreaterThan(0);
    expect(progress).toEqual([1, 2, 3, 4, 5, 6].map((d) => [d, 6]));
    const decoded = await raw(out.buffer);
    expect([decoded.width, decoded.height, decoded.channels]).toEqual([90, 60, 3]);
    const reference = await upscaleTiled(img, fakeUpscaleModel({ scale: 2, kernel: 3 }), { tileSize: 64, overlap: 4 });
    expect(maxDiff(decoded.data, reference.image.data)).toBeLessThanOrEqual(1);
  });

  it('feeds a 0-1 model 0-1 pixels and writes WebP', async () => {
    const img = noiseImage(20, 10, 2);
    const out = await upscaleImage(await png(img), nearestX4, { format: 'webp', webpQuality: 100 });
    expect([out.format, out.width, out.height]).toEqual(['webp', 80, 40]);
    expect((await sharp(out.buffer).metadata()).format).toBe('webp');
  });

  it('orients by EXIF, flattens alpha onto white and expands greyscale to RGB', async () => {
    const rotated = await sharp(await png(noiseImage(8, 4))).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    const r = await upscaleImage(rotated, nearestX4);
    expect([r.source, r.width, r.height]).toEqual([{ width: 4, height: 8 }, 16, 32]);

    const transparent = await sharp({ create: { width: 3, height: 3, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).png().toBuffer();
    const t = await raw((await upscaleImage(transparent, nearestX4)).buffer);
    expect(t.channels).toBe(3);
    expect(t.data.every((v) => v === 255)).toBe(true);

    const grey = await sharp(Buffer.from([0, 128, 255, 64]), { raw: { width: 2, height: 2, channels: 1 } }).png().toBuffer();
    const g = await raw((await upscaleImage(grey, nearestX4)).buffer);
    expect([g.channels, g.data[0], g.data[1], g.data[2], g.data[3 * 4]]).toEqual([3, 0, 0, 0, 128]);
  });

  it('decodes 16-bit PNG and CMYK JPEG to 8-bit sRGB', async () => {
    const colour = { width: 4, height: 3, channels: 3 as const, background: { r: 200, g: 100, b: 50 } };
    const deep = await sharp({ create: colour }).toColourspace('rgb16').png().toBuffer();
    expect((await sharp(deep).metadata()).depth).toBe('ushort');
    expect(Array.from((await decodeRgb(deep, 1e6)).image.data.slice(0, 6))).toEqual([200, 100, 50, 200, 100, 50]);
    const cmyk = await sharp({ create: colour }).toColourspace('cmyk').jpeg().toBuffer();
    const c = (await decodeRgb(cmyk, 1e6)).image;
    expect(c.data.length).toBe(4 * 3 * 3);
    expect(Math.abs(c.data[0]! - 200) + Math.abs(c.data[1]! - 100)).toBeLessThan(15);
  });

  it('applies the pixel rule: downscale to fit the output bound, or refuse', async () => {
    expect(fitForOutput(4000, 3000, 4, 4096 * 4096)).toEqual({ width: 1182, height: 886 });
    expect(fitForOutput(100, 100, 2, 40_000)).toEqual({ width: 100, height: 100 });
    expect(fitForOutput(5000, 1, 4, 16)).toEqual({ width: 1, height: 1 });
    expect(fitForOutput(5000, 2, 2, 400)).toEqual({ width: 100, height: 1 }); // thin: height floors at 1
    expect(fitForOutput(3, 5000, 2, 400)).toEqual({ width: 1, height: 100 });
    for (const [w, h, s, max] of [[4000, 3000, 4, 4096 * 4096], [7, 9999, 2, 1000], [12345, 3, 4, 160], [999, 997, 2, 4]] as const) {
      const fit = fitForOutput(w, h, s, max);
      expect(fit.width * fit.height * s * s).toBeLessThanOrEqual(max);
      expect(Math.min(fit.width, fit.height)).toBeGreaterThanOrEqual(1);
    }

    const input = await png(noiseImage(60, 40));
    const down = await upscaleImage(input, blurX2, { pixelRule: { maxInputPixels: 1e6, maxOutputPixels: 2400, onOversize: 'downscale' } });
    expect(down).toMatchObject({ downscaled: true, source: { width: 60, height: 40 }, inferred: { width: 30, height: 20 }, width: 60, height: 40 });
    expect(down.width * down.height).toBeLessThanOrEqual(2400);

    await expect(upscaleImage(input, blurX2, { pixelRule: { maxInputPixels: 1e6, maxOutputPixels: 2400, onOversize: 'refuse' } })).rejects.toMatchObject({
      status: 413,
      code: 'output_too_many_pixels',
    });
    await expect(upscaleImage(input, blurX2, { pixelRule: { maxInputPixels: 2399, maxOutputPixels: 1e9, onOversize: 'refuse' } })).rejects.toMatchObject({
      status: 413,
      code: 'image_too_many_pixels',
    });
    await expect(upscaleImage(input, nearestX4, { pixelRule: { maxInputPixels: 1e6, maxOutputPixels: 15, onOversize: 'downscale' } })).rejects.toThrow(/scale²/);
  });

  it('refuses non-images, empty and truncated files with 415 before inference', async () => {
    const calls: string[] = [];
    const spy = { ...fakeUpscaleModel({ scale: 2 }), run: async () => { calls.push('run'); throw new Error('must not run'); } };
    for (const bytes of [Buffer.from('hello, not an image'), Buffer.alloc(0)]) {
      await expect(upscaleImage(bytes, spy)).rejects.toMatchObject({ status: 415, code: 'not_an_image' });
    }
    const full = await sharp(await png(noiseImage(64, 64))).jpeg().toBuffer();
    await expect(upscaleImage(full.subarray(0, full.length / 2), spy)).rejects.toMatchObject({ status: 415, code: 'corrupt_image' });
    expect(calls).toEqual([]);
  });

  it('stops between tiles when its job is cancelled', async () => {
    const controller = new AbortController();
    const run = upscaleImage(await png(noiseImage(64, 64)), blurX2, {
      tileSize: 16,
      overlap: 2,
      signal: controller.signal,
      onProgress: (done) => done === 2 && controller.abort(new Error('job cancelled')),
    });
    await expect(run).rejects.toThrow('job cancelled');
  });
});

// Real converted weights (`npm run weights`, issue 7 item 3): smoke test on cpu.
const weightsDir = fileURLToPath(new URL('../../../weights/', import.meta.url));
const manifestKeys: string[] = existsSync(join(weightsDir, 'manifest.json'))
  ? (JSON.parse(readFileSync(join(weightsDir, 'manifest.json'), 'utf8')) as { models: Array<{ key: string }> }).models.map((m) => m.key)
  : [];
describe.skipIf(manifestKeys.length === 0)('converted RDN weights', () => {
  it.skipIf(!manifestKeys.includes('rdn-slim-x2'))('upscale a 32x32 image with rdn-slim-x2 on cpu after cuda fails', async () => {
    const model = await loadManifestModel(weightsDir, 'rdn-slim-x2', { providers: ['cuda', 'cpu'], cpuThreads: 2 });
    try {
      expect([model.scale, model.range, model.provider, model.failures.map((f) => f.provider)]).toEqual([2, 255, 'cpu', ['cuda']]);
      const out = await upscaleImage(await png(noiseImage(32, 32)), model);
      expect([out.width, out.height, out.tiles, out.provider]).toEqual([64, 64, 1, 'cpu']);
    } finally {
      await model.release();
    }
  });

  it.each(manifestKeys)('%s keeps flat grey flat and tiles without seams at overlap 16', async (key) => {
    const model = await loadManifestModel(weightsDir, key, { providers: ['cpu'], cpuThreads: 2 });
    try {
      // Corners included: the manifest's pixel range is the one the model wants (a wrong one gives
      // black or white), and mirrored edges keep its zero padding from darkening the border
      // (rdn-slim-x2 turns the corner of a flat 128 into 92 without them).
      const grey = await sharp({ create: { width: 32, height: 32, channels: 3, background: { r: 128, g: 128, b: 128 } } }).png().toBuffer();
      const g = await raw((await upscaleImage(grey, model)).buffer);
      expect(Math.max(...g.data.map((v) => Math.abs(v - 128)))).toBeLessThanOrEqual(2);

      // Overlap 16 covers what the RDNs see: measured exact from 12 (slim) and 16 (medium).
      const { image: scene } = await decodeRgb(await sharp(Buffer.from(SCENE)).png().toBuffer(), 1e6);
      const whole = await upscaleTiled(scene, model, { tileSize: 1024, overlap: 16 });
      const tiled = await upscaleTiled(scene, model, { tileSize: 64, overlap: 16 });
      expect([whole.tiles, tiled.tiles]).toEqual([1, 9]); // 32-px cores: 3 × 3
      expect(maxDiff(tiled.image.data, whole.image.data)).toBeLessThanOrEqual(1);
    } finally {
      await model.release();
    }
  });
});

const SCENE = `<svg xmlns="http://www.w3.org/2000/svg" width="96" height="72" viewBox="0 0 640 480"><rect width="640" height="480" fill="#6d8fb5"/>
<circle cx="500" cy="110" r="60" fill="#e8d27a"/><polygon points="0,480 180,220 330,480" fill="#4a5a3c"/>
<text x="40" y="80" font-size="42" fill="#1f2530">Easel</text><rect x="300" y="360" width="200" height="100" fill="#3a2f28"/></svg>`;
