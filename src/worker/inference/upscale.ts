import { performance } from 'node:perf_hooks';
import sharp, { type Metadata, type OutputInfo } from 'sharp';
import { PayloadTooLargeError, UnsupportedMediaTypeError } from '../../platform/errors.js';
import type { UpscaleModel } from './session.js';
import { upscaleTiled, type RgbImage } from './tiling.js';

/**
 * One upscale, bytes in, bytes out: decode with sharp (EXIF-oriented, alpha flattened onto white,
 * sRGB), apply the pixel rule, run the model tile by tile, encode PNG or WebP.
 *
 * Pixel rule, applied before any inference:
 * 1. an input over `maxInputPixels` (width × height from the header) is refused with 413
 *    `image_too_many_pixels` before a single pixel is decoded (decompression bombs);
 * 2. if the output (width × height × scale²) would exceed `maxOutputPixels`, then with
 *    `onOversize: 'downscale'` the input is first shrunk (Lanczos, aspect kept) to the largest size
 *    whose output fits, and with `'refuse'` the job fails with 413 `output_too_many_pixels`.
 * Defaults: 40 MP in, 16.8 MP (4096²) out, downscale: a 4000×3000 photo at ×4 becomes a
 * 1182×886 input and a 4728×3544 output instead of a 16000×12000 one (192 MP, 576 MB of RGB).
 */

export interface PixelRule {
  maxInputPixels: number;
  maxOutputPixels: number;
  onOversize: 'downscale' | 'refuse';
}

export const DEFAULT_PIXEL_RULE: PixelRule = { maxInputPixels: 40_000_000, maxOutputPixels: 4096 * 4096, onOversize: 'downscale' };

export type OutputFormat = 'png' | 'webp';

export interface UpscaleOptions {
  format?: OutputFormat;
  /** Model input tile side, context included (default 256). */
  tileSize?: number;
  /** Context pixels around each tile (default 16; should cover the model's receptive field). */
  overlap?: number;
  pixelRule?: PixelRule;
  /** Tiles in flight at once (default 1; more keeps a GPU provider busy, one tile of memory each). */
  concurrency?: number;
  /** WebP quality 1–100 (default 92); PNG is lossless. */
  webpQuality?: number;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

export interface UpscaleResult {
  buffer: Buffer;
  format: OutputFormat;
  width: number;
  height: number;
  /** Oriented size of the uploaded image. */
  source: { width: number; height: number };
  /** Size the model actually saw (smaller than `source` when the pixel rule downscaled it). */
  inferred: { width: number; height: number };
  downscaled: boolean;
  scale: number;
  model: string;
  provider: string;
  tiles: number;
  /** Wall time of the whole call, and of the tiled inference alone. */
  ms: number;
  inferenceMs: number;
}

/** The input size that keeps `w·h·scale²` within `maxOutputPixels`, aspect ratio kept. */
export function fitForOutput(width: number, height: number, scale: number, maxOutputPixels: number): { width: number; height: number } {
  if (width * height * scale * scale <= maxOutputPixels) return { width, height };
  const f = Math.sqrt(maxOutputPixels / (width * height * scale * scale));
  const budget = Math.floor(maxOutputPixels / (scale * scale));
  // A side cannot go below 1 px (both cannot: their product is budget >= 1), so a very thin image
  // keeps 1 px on its short side and gives the long side the whole budget.
  if (width * f < 1) return { width: 1, height: Math.min(height, budget) };
  if (height * f < 1) return { width: Math.min(width, budget), height: 1 };
  return { width: Math.floor(width * f), height: Math.floor(height * f) };
}

function checkRule(rule: PixelRule, scale: number): void {
  if (!(rule.maxInputPixels >= 1) || !(rule.maxOutputPixels >= scale * scale)) {
    throw new RangeError(`pixel rule needs maxInputPixels >= 1 and maxOutputPixels >= scale² (${scale * scale})`);
  }
}

// Causes carry the decoder's message for logs; the error mapper never sends them to clients.
function notAnImage(cause?: unknown): UnsupportedMediaTypeError {
  return Object.assign(new UnsupportedMediaTypeError('The file is not a recognised image', 'not_an_image'), { cause });
}

export interface DecodedImage {
  image: RgbImage;
  source: { width: number; height: number };
}

/**
 * Decodes to interleaved RGB, resized first when `target` (given the oriented size) asks for it.
 * Exported for best-cut and benchmarks; refuses non-images (415), bombs (413) and truncated data (415).
 */
export async function decodeRgb(
  input: Buffer,
  maxInputPixels: number,
  target?: (width: number, height: number) => { width: number; height: number },
): Promise<DecodedImage> {
  let meta: Metadata;
  try {
    meta = await sharp(input, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw notAnImage(err);
  }
  const { width, height } = meta.autoOrient ?? meta;
  if (!width || !height) throw notAnImage();
  if (width * height > maxInputPixels) {
    throw new PayloadTooLargeError(`Image is ${width}x${height}; at most ${maxInputPixels} pixels are accepted`, 'image_too_many_pixels');
  }
  const size = target ? target(width, height) : { width, height };
  let pipeline = sharp(input, { limitInputPixels: maxInputPixels, failOn: 'truncated' }).autoOrient().flatten({ background: '#ffffff' });
  if (size.width !== width || size.height !== height) pipeline = pipeline.resize(size.width, size.height, { fit: 'fill', kernel: 'lanczos3' });
  let raw: { data: Buffer; info: OutputInfo };
  try {
    raw = await pipeline.toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw Object.assign(new UnsupportedMediaTypeError('The image is damaged or truncated', 'corrupt_image'), { cause: err });
  }
  const { info } = raw;
  let data = new Uint8Array(raw.data.buffer, raw.data.byteOffset, raw.data.byteLength);
  if (info.channels !== 3) {
    // sharp keeps single-band greys as one channel; the models want three.
    const rgb = new Uint8Array(info.width * info.height * 3);
    for (let i = 0; i < info.width * info.height; i++) rgb.fill(data[i * info.channels]!, i * 3, i * 3 + 3);
    data = rgb;
  }
  return { image: { data, width: info.width, height: info.height, channels: 3 }, source: { width, height } };
}

export async function encodeRgb(image: RgbImage, format: OutputFormat, webpQuality = 92): Promise<Buffer> {
  const pipeline = sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 }, limitInputPixels: false });
  return format === 'png' ? pipeline.png({ compressionLevel: 6 }).toBuffer() : pipeline.webp({ quality: webpQuality }).toBuffer();
}

/**
 * @example
 * const out = await upscaleImage(upload, model, { format: 'webp', onProgress: (done, total) => job.progress(done / total) });
 * // out: { buffer, width, height, ms, tiles, provider, downscaled, ... }
 */
export async function upscaleImage(input: Buffer, model: UpscaleModel, opts: UpscaleOptions = {}): Promise<UpscaleResult> {
  const started = performance.now();
  const rule = opts.pixelRule ?? DEFAULT_PIXEL_RULE;
  const format = opts.format ?? 'png';
  checkRule(rule, model.scale);
  const { image, source } = await decodeRgb(input, rule.maxInputPixels, (w, h) => {
    const fit = fitForOutput(w, h, model.scale, rule.maxOutputPixels);
    if ((fit.width !== w || fit.height !== h) && rule.onOversize === 'refuse') {
      throw new PayloadTooLargeError(
        `Upscaling ${w}x${h} by ${model.scale} gives ${w * h * model.scale ** 2} pixels; at most ${rule.maxOutputPixels} are produced`,
        'output_too_many_pixels',
      );
    }
    return fit;
  });
  opts.signal?.throwIfAborted();
  const inferStart = performance.now();
  const { image: out, tiles } = await upscaleTiled(image, model, {
    tileSize: opts.tileSize ?? 256,
    overlap: opts.overlap ?? 16,
    concurrency: opts.concurrency,
    onProgress: opts.onProgress,
    signal: opts.signal,
  });
  const inferenceMs = performance.now() - inferStart;
  const buffer = await encodeRgb(out, format, opts.webpQuality);
  return {
    buffer,
    format,
    width: out.width,
    height: out.height,
    source,
    inferred: { width: image.width, height: image.height },
    downscaled: image.width !== source.width || image.height !== source.height,
    scale: model.scale,
    model: model.name,
    provider: model.provider,
    tiles,
    ms: performance.now() - started,
    inferenceMs,
  };
}
