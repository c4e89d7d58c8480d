import { readFile, stat } from 'node:fs/promises';
import sharp, { type Metadata } from 'sharp';
import { PayloadTooLargeError, UnsupportedMediaTypeError } from '../../platform/errors.js';
import { stripMetadata } from './image.metadata.js';

/**
 * The only file that talks to sharp. Everything here treats the input as hostile: the format is
 * what the decoder says, never the file name or declared content type.
 */

export const IMAGE_FORMATS = ['jpeg', 'png', 'gif', 'webp'] as const;
export type ImageFormat = (typeof IMAGE_FORMATS)[number];

/** ~6.3k x 6.3k. A default only; the config layer passes the deployed limit. */
export const DEFAULT_MAX_PIXELS = 40_000_000;
export const THUMB_SIZE = 320;
export const MAX_WEBP_EDGE = 4096;
const THUMB_QUALITY = 80;
const WEBP_QUALITY = 82;

/**
 * 'error' implies 'truncated', so cut-off files fail, while libjpeg/libpng *warnings* (e.g. stray
 * bytes between markers, common from real cameras) do not reject otherwise decodable uploads.
 */
const FAIL_ON = 'error' as const;

// libvips' operation cache only helps when the same file is processed repeatedly; uploads are
// one-shot, so it would just hold up to 50 MB of decoded pixels per process.
sharp.cache(false);

export interface ProbeOptions {
  allowedFormats: readonly ImageFormat[];
  maxPixels: number;
  /**
   * Step 3 below (default true). Callers that run makeVariants next may skip it: the variants
   * decode every pixel with the same failOn, so a corrupt file fails there, and it saves a decode.
   */
  fullDecode?: boolean;
}

export interface ImageProbe {
  format: ImageFormat;
  width: number;
  height: number;
  /** Raw EXIF orientation (1-8) when present; width/height are as stored, before rotation. */
  orientation?: number;
  /** Frames, when the decoder reports more than one (animated GIF/WebP/APNG). */
  pages?: number;
  /** The file embeds an ICC colour profile (kept through a re-encode). */
  icc?: true;
}

export interface ImageVariants {
  /** WebP, fits inside 320x320, EXIF-oriented, metadata stripped. */
  thumb: Buffer;
  /** WebP, long side at most 4096, EXIF-oriented, metadata stripped. */
  webp: Buffer;
}

function isImageFormat(value: string | undefined): value is ImageFormat {
  return (IMAGE_FORMATS as readonly string[]).includes(value ?? '');
}

// The decoder's message goes to `cause` for logs only; the mapper never sends causes to clients.
function notAnImage(cause?: unknown): UnsupportedMediaTypeError {
  const err = new UnsupportedMediaTypeError('The file is not a recognised image', 'not_an_image');
  if (cause !== undefined) err.cause = cause;
  return err;
}

function corruptImage(cause: unknown): UnsupportedMediaTypeError {
  const err = new UnsupportedMediaTypeError('The image is damaged or truncated', 'corrupt_image');
  err.cause = cause;
  return err;
}

/**
 * Identifies and validates an image file in three steps, cheapest first:
 * 1. header only (format, dimensions) - rejects non-images and disallowed formats;
 * 2. pixel count from the header - rejects decompression bombs before any pixel is decoded
 *    (413 'image_too_many_pixels': the upload is too big in the dimension that costs memory);
 * 3. a streaming full decode via `stats()` - rejects truncated or corrupt pixel data without
 *    holding the whole bitmap in memory.
 *
 * @example
 * const probe = await probeImage(tmp.path, { allowedFormats: ['jpeg', 'png'], maxPixels: cfg.uploads.maxPixels });
 */
export async function probeImage(path: string | Buffer, opts: ProbeOptions): Promise<ImageProbe> {
  // stat() first so a missing file is an ENOENT (server bug), not a client-facing 415.
  if ((typeof path === 'string' ? (await stat(path)).size : path.length) === 0) throw notAnImage();

  let meta: Metadata;
  try {
    // Header parsing does not allocate pixels; the limit is enforced by us below with a clear code.
    meta = await sharp(path, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw notAnImage(err);
  }

  const { format, width, height } = meta;
  if (!width || !height) throw notAnImage();
  if (!isImageFormat(format) || !opts.allowedFormats.includes(format)) {
    throw new UnsupportedMediaTypeError(
      `Image format '${format ?? 'unknown'}' is not accepted`,
      'unsupported_image_format',
    );
  }
  if (width * height > opts.maxPixels) {
    throw new PayloadTooLargeError(
      `Image is ${width}x${height}; at most ${opts.maxPixels} pixels are accepted`,
      'image_too_many_pixels',
    );
  }

  const probe: ImageProbe = { format, width, height, ...(meta.orientation ? { orientation: meta.orientation } : {}), ...((meta.pages ?? 1) > 1 ? { pages: meta.pages! } : {}), ...(meta.icc ? { icc: true as const } : {}) };
  if (opts.fullDecode !== false) await verifyDecodes(path, opts.maxPixels);
  return probe;
}

/** Step 3 of probeImage on its own: a streaming full decode, so callers can gate it separately from the header read. */
export async function verifyDecodes(path: string | Buffer, maxPixels: number): Promise<void> {
  try {
    await sharp(path, { limitInputPixels: maxPixels, failOn: FAIL_ON }).stats();
  } catch (err) {
    throw corruptImage(err);
  }
}

/** The original as served publicly when it differs from the upload; dimensions are after orientation. */
export interface PublicOriginal {
  bytes: Buffer;
  width: number;
  height: number;
  /** 'lossless': metadata segments dropped, pixel data untouched; 'reencoded': pixels rotated per EXIF. */
  method: 'lossless' | 'reencoded';
}

/** High enough that a re-encode is visually lossless; 4:4:4 keeps colour edges, mozjpeg's trellis is not worth its CPU here. */
const REENCODE_QUALITY = 92;

/**
 * Removes location, camera and any other metadata from an upload before it is served as the public
 * original. Returns null when the upload carries none (it is served as is, byte for byte).
 * - Upright JPEG/PNG/WebP: metadata segments are dropped losslessly (image.metadata.ts).
 * - An EXIF orientation other than 1: the pixels are rotated and re-encoded (JPEG q92 4:4:4, PNG
 *   lossless, WebP q92), ICC profile kept, so the image is upright without the tag. Animated images
 *   are never rotated (sharp would rotate the stacked frames as one picture); their tag is dropped.
 * - GIF (no EXIF, no orientation): comment and XMP/vendor application extensions dropped losslessly;
 *   animation, timing and looping kept.
 * The result is checked with the decoder; anything still reporting metadata is re-encoded instead.
 *
 * @example
 * const clean = await makePublicOriginal(tmp.path, probe, { maxPixels: cfg.uploads.maxPixels });
 * await storage.putBuffer(originalKey(sha), clean?.bytes ?? await readFile(tmp.path));
 */
export async function makePublicOriginal(input: string | Buffer, probe: ImageProbe, opts: { maxPixels: number }): Promise<PublicOriginal | null> {
  const src = typeof input === 'string' ? await readFile(input) : input;
  const animated = (probe.pages ?? 1) > 1;
  const rotate = !animated && (probe.orientation ?? 1) > 1;
  if (!rotate) {
    const clean = stripMetadata(probe.format, src);
    if (clean === src) return null;
    if (clean && (await isClean(clean, probe))) return { bytes: clean, width: probe.width, height: probe.height, method: 'lossless' };
  }
  try {
    let img = sharp(src, { limitInputPixels: opts.maxPixels, failOn: FAIL_ON, ...(animated ? { pages: -1 } : {}) });
    if (rotate) img = img.autoOrient();
    // Kept rather than converted to sRGB (sharp's default), so wide-gamut colours survive the re-encode.
    if (probe.icc) img = img.keepIccProfile();
    if (probe.format === 'jpeg') img = img.jpeg({ quality: REENCODE_QUALITY, chromaSubsampling: '4:4:4', mozjpeg: false });
    else if (probe.format === 'png') img = img.png();
    else if (probe.format === 'gif') img = img.gif();
    else img = img.webp({ quality: REENCODE_QUALITY });
    const { data, info } = await img.toBuffer({ resolveWithObject: true });
    return { bytes: data, width: info.width, height: animated ? probe.height : info.height, method: 'reencoded' };
  } catch (err) {
    throw corruptImage(err);
  }
}

/** The decoder's view of a stripped file: same image, and no EXIF, XMP, IPTC, comments or orientation left. */
async function isClean(bytes: Buffer, probe: ImageProbe): Promise<boolean> {
  try {
    const meta = await sharp(bytes, { limitInputPixels: false }).metadata();
    const leftovers = meta.exif ?? meta.xmp ?? meta.iptc ?? meta.tifftagPhotoshop ?? (meta.comments?.length ? meta.comments : undefined) ?? meta.orientation;
    return meta.format === probe.format && meta.width === probe.width && meta.height === probe.height && leftovers === undefined;
  } catch {
    return false;
  }
}

/**
 * Renders the stored variants. Callers probe first; the pixel limit is applied again here so the
 * function is safe on its own. Animated GIF/WebP input yields its first frame.
 *
 * @example
 * const { thumb, webp } = await makeVariants(tmp.path, { maxPixels: cfg.uploads.maxPixels });
 */
export async function makeVariants(
  path: string | Buffer,
  opts: { maxPixels?: number } = {},
): Promise<ImageVariants> {
  // rotate() bakes EXIF orientation into the pixels; that matters because the output keeps no
  // metadata (sharp strips EXIF/XMP/GPS unless keep/withMetadata is called), so the tag is gone.
  const oriented = () =>
    sharp(path, { limitInputPixels: opts.maxPixels ?? DEFAULT_MAX_PIXELS, failOn: FAIL_ON }).rotate();
  try {
    // One after the other: the full-size WebP encode holds the whole bitmap, and two of them per
    // upload would double the peak memory of every concurrent upload.
    const thumb = await oriented()
      .resize(THUMB_SIZE, THUMB_SIZE, { fit: 'inside', withoutEnlargement: true })
      .webp({ quality: THUMB_QUALITY })
      .toBuffer();
    const webp = await oriented()
      .resize(MAX_WEBP_EDGE, MAX_WEBP_EDGE, { fit: 'inside', withoutEnlargement: true })
      .webp({ quality: WEBP_QUALITY })
      .toBuffer();
    return { thumb, webp };
  } catch (err) {
    throw corruptImage(err);
  }
}
