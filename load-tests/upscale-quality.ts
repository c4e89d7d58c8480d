/**
 * Upscale quality (issue 7, "Measure"): real photographs downscaled with bicubic by each model's scale,
 * upscaled back by the model (the worker's own tiled path, `upscaleImage`, on CPU) and by Lanczos (sharp
 * `lanczos3`), then PSNR and SSIM against the originals, in one table.
 *
 *   npx tsx load-tests/upscale-quality.ts
 *   MODELS=rdn-slim-x4 PHOTOS=astronaut,coffee npx tsx load-tests/upscale-quality.ts
 *
 * Photos: the scikit-image sample photographs shipped in Debian's `python3-skimage` package (astronaut,
 * camera, chelsea, coffee, motorcycle_left, rocket; public domain or CC0 per the package's copyright file).
 * Unless PHOTOS_DIR points at a folder of them, the script fetches the .deb with `apt-get download` into a
 * cache folder under the OS temp dir and unpacks it with `dpkg -x` (run `apt-get update` first on a fresh
 * machine). Nothing is committed.
 *
 * Metrics follow the super-resolution literature: the original is cropped to a multiple of the scale; `scale`
 * pixels are shaved off every border before comparing; PSNR over RGB and over luma (BT.601 Y, as MATLAB's
 * rgb2ycbcr) and SSIM over luma (Gaussian window 11, σ 1.5, K1 0.01, K2 0.03, L 255; mean of the map).
 * Models: every manifest entry present in weights/ (generate the RRDN `-thick` ones with `npm run weights -- --all`).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { loadManifestModel, readModelEntries } from '../src/worker/inference/manifest-model.js';
import { upscaleImage } from '../src/worker/inference/upscale.js';
import { machineLoad } from './baselines/stats.js';

const WEIGHTS = fileURLToPath(new URL('../weights/', import.meta.url));
const ALL_PHOTOS = ['astronaut.png', 'camera.png', 'chelsea.png', 'coffee.png', 'motorcycle_left.png', 'rocket.jpg'];

interface Rgb {
  data: Uint8Array;
  width: number;
  height: number;
}

/** The sample photos' folder: PHOTOS_DIR, or python3-skimage's data folder unpacked from its .deb. */
function photosDir(): string {
  if (process.env.PHOTOS_DIR) return process.env.PHOTOS_DIR;
  const cache = join(tmpdir(), 'easel-skimage-photos');
  const data = join(cache, 'root/usr/lib/python3/dist-packages/skimage/data');
  if (existsSync(join(data, 'astronaut.png'))) return data;
  mkdirSync(cache, { recursive: true });
  const got = spawnSync('apt-get', ['download', 'python3-skimage'], { cwd: cache, encoding: 'utf8' });
  const deb = readdirSync(cache).find((f) => f.startsWith('python3-skimage_') && f.endsWith('.deb'));
  if (!deb) throw new Error(`apt-get download python3-skimage failed (run apt-get update first?): ${got.stderr}`);
  const x = spawnSync('dpkg', ['-x', deb, join(cache, 'root')], { cwd: cache, encoding: 'utf8' });
  if (x.status !== 0) throw new Error(`dpkg -x failed: ${x.stderr}`);
  return data;
}

async function readRgb(input: string | Buffer): Promise<Rgb> {
  const { data, info } = await sharp(input).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`expected 3 channels, got ${info.channels}`);
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
}

const raw = (img: Rgb) => sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } });

function crop(img: Rgb, width: number, height: number, shave = 0): Rgb {
  const w = width - 2 * shave;
  const h = height - 2 * shave;
  const out = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) out.set(img.data.subarray(((y + shave) * img.width + shave) * 3, ((y + shave) * img.width + shave + w) * 3), y * w * 3);
  return { data: out, width: w, height: h };
}

function lumaOf(img: Rgb): Float64Array {
  const n = img.width * img.height;
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) y[i] = 16 + (65.481 * img.data[3 * i]! + 128.553 * img.data[3 * i + 1]! + 24.966 * img.data[3 * i + 2]!) / 255;
  return y;
}

function psnr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i]! - b[i]!) ** 2;
  return 10 * Math.log10((255 * 255) / Math.max(se / a.length, 1e-12));
}

/** Separable Gaussian filter, 'valid' region only (output shrinks by 2·radius each way). */
function gaussValid(src: Float64Array, w: number, h: number, k: Float64Array): { data: Float64Array; w: number; h: number } {
  const r = (k.length - 1) / 2;
  const tw = w - 2 * r;
  const th = h - 2 * r;
  const tmp = new Float64Array(tw * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < tw; x++) {
    let s = 0;
    for (let i = 0; i < k.length; i++) s += k[i]! * src[y * w + x + i]!;
    tmp[y * tw + x] = s;
  }
  const out = new Float64Array(tw * th);
  for (let y = 0; y < th; y++) for (let x = 0; x < tw; x++) {
    let s = 0;
    for (let i = 0; i < k.length; i++) s += k[i]! * tmp[(y + i) * tw + x]!;
    out[y * tw + x] = s;
  }
  return { data: out, w: tw, h: th };
}

function ssim(a: Float64Array, b: Float64Array, w: number, h: number): number {
  const k = new Float64Array(11).map((_, i) => Math.exp(-((i - 5) ** 2) / (2 * 1.5 * 1.5)));
  const sum = k.reduce((s, v) => s + v, 0);
  for (let i = 0; i < k.length; i++) k[i] = k[i]! / sum;
  const c1 = (0.01 * 255) ** 2;
  const c2 = (0.03 * 255) ** 2;
  const prod = (x: Float64Array, y: Float64Array) => x.map((v, i) => v * y[i]!);
  const mu1 = gaussValid(a, w, h, k).data;
  const mu2 = gaussValid(b, w, h, k).data;
  const s11 = gaussValid(prod(a, a), w, h, k).data;
  const s22 = gaussValid(prod(b, b), w, h, k).data;
  const s12 = gaussValid(prod(a, b), w, h, k).data;
  let total = 0;
  for (let i = 0; i < mu1.length; i++) {
    const m1 = mu1[i]!;
    const m2 = mu2[i]!;
    const v1 = s11[i]! - m1 * m1;
    const v2 = s22[i]! - m2 * m2;
    const cov = s12[i]! - m1 * m2;
    total += ((2 * m1 * m2 + c1) * (2 * cov + c2)) / ((m1 * m1 + m2 * m2 + c1) * (v1 + v2 + c2));
  }
  return total / mu1.length;
}

interface Score {
  psnrRgb: number;
  psnrY: number;
  ssimY: number;
}

function score(ref: Rgb, out: Rgb, shave: number): Score {
  const a = crop(ref, ref.width, ref.height, shave);
  const b = crop(out, ref.width, ref.height, shave);
  const ya = lumaOf(a);
  const yb = lumaOf(b);
  return { psnrRgb: psnr(a.data, b.data), psnrY: psnr(ya, yb), ssimY: ssim(ya, yb, a.width, a.height) };
}

const mean = (xs: number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;
const f = (n: number, d = 2) => n.toFixed(d);

async function main(): Promise<void> {
  const dir = photosDir();
  const photos = process.env.PHOTOS ? process.env.PHOTOS.split(',').map((p) => ALL_PHOTOS.find((x) => x.startsWith(p)) ?? p) : ALL_PHOTOS;
  const entries = (await readModelEntries(WEIGHTS)).filter((e) => existsSync(join(WEIGHTS, e.file)));
  const keys = process.env.MODELS ? process.env.MODELS.split(',') : entries.map((e) => e.key);
  console.log(`# upscale quality: ${photos.length} photos from ${dir}; models ${keys.join(', ')}; node ${process.version}, ${machineLoad().note}`);

  // rows[scale][method][photo] = score
  const rows = new Map<number, Map<string, Map<string, Score>>>();
  const put = (scale: number, method: string, photo: string, s: Score) => {
    const byMethod = rows.get(scale) ?? rows.set(scale, new Map()).get(scale)!;
    (byMethod.get(method) ?? byMethod.set(method, new Map()).get(method)!).set(photo, s);
  };
  const scales = [...new Set(keys.map((k) => entries.find((e) => e.key === k)?.scale).filter((s): s is number => s !== undefined))];

  for (const photo of photos) {
    const full = await readRgb(join(dir, photo));
    for (const scale of scales) {
      const ref = crop(full, full.width - (full.width % scale), full.height - (full.height % scale));
      const lrPng = await raw(ref).resize(ref.width / scale, ref.height / scale, { kernel: 'cubic', fastShrinkOnLoad: false }).png().toBuffer();
      const lanczos = await readRgb(await sharp(lrPng).resize(ref.width, ref.height, { kernel: 'lanczos3' }).png().toBuffer());
      put(scale, 'Lanczos (sharp lanczos3)', photo, score(ref, lanczos, scale));
      for (const key of keys.filter((k) => entries.find((e) => e.key === k)?.scale === scale)) {
        const model = await loadManifestModel(WEIGHTS, key, { providers: ['cpu'] });
        try {
          const up = await upscaleImage(lrPng, model, { format: 'png' });
          const out = await readRgb(up.buffer);
          if (out.width !== ref.width || out.height !== ref.height) throw new Error(`${key} gave ${out.width}x${out.height}, expected ${ref.width}x${ref.height}`);
          const s = score(ref, out, scale);
          put(scale, key, photo, s);
          console.log(`  ${photo} x${scale} ${key}: PSNR ${f(s.psnrRgb)} dB (Y ${f(s.psnrY)}), SSIM ${f(s.ssimY, 4)} (${Math.round(up.ms)} ms)`);
        } finally {
          await model.release();
        }
      }
    }
  }

  for (const [scale, byMethod] of rows) {
    const names = photos.map((p) => p.replace(/\.(png|jpg)$/, ''));
    console.log(`\n### x${scale}: PSNR RGB / Y (dB) and SSIM Y per photo; mean\n`);
    console.log(`| method | ${names.join(' | ')} | mean PSNR RGB | mean PSNR Y | mean SSIM Y |`);
    console.log(`|---|${names.map(() => '---').join('|')}|---|---|---|`);
    const lanczos = byMethod.get('Lanczos (sharp lanczos3)')!;
    for (const [method, byPhoto] of byMethod) {
      const ss = photos.map((p) => byPhoto.get(p)!);
      const cells = ss.map((s) => `${f(s.psnrRgb)} / ${f(s.psnrY)}, ${f(s.ssimY, 3)}`);
      const d = method === 'Lanczos (sharp lanczos3)' ? '' : ` (${mean(ss.map((s) => s.psnrY)) - mean(photos.map((p) => lanczos.get(p)!.psnrY)) >= 0 ? '+' : ''}${f(mean(ss.map((s) => s.psnrY)) - mean(photos.map((p) => lanczos.get(p)!.psnrY)))})`;
      console.log(`| ${method} | ${cells.join(' | ')} | ${f(mean(ss.map((s) => s.psnrRgb)))} | ${f(mean(ss.map((s) => s.psnrY)))}${d} | ${f(mean(ss.map((s) => s.ssimY)), 4)} |`);
    }
  }
}

await main();
