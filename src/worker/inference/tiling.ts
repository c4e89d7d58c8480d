import type { TileTensor, UpscaleModel } from './session.js';

/**
 * Tiled super-resolution, pure (no I/O): the model only ever sees one tile of at most
 * `tileSize × tileSize` input pixels, so memory on the model's side stays bounded however large the
 * image is; only the uint8 output image is full size.
 *
 * Seams: every tile is read with `overlap` extra pixels of context on each side that has a neighbour,
 * and only its core (the part of the image it owns) is written back. So each output pixel comes from
 * the one tile in which it lies at least `overlap` input pixels from any tile edge that is not an image
 * edge, and for a model whose receptive field radius is ≤ `overlap` the tiled result equals the untiled
 * one (up to float rounding inside the runtime). Cropping, not feathering: no pixel is a mix of two
 * inferences, so nothing softens along seams and the pointwise case is bit-exact.
 *
 * Image edges: the RDN models pad every convolution with zeros, which darkens the outermost output
 * pixels (a flat grey 128 comes back as 92 in the corner from rdn-slim-x2). With `edges: 'reflect'`
 * (the default) the image is mirrored by `overlap` pixels on every side before inference, as
 * Real-ESRGAN's tiler does, so edge pixels get context too; windows may then reach into that margin
 * (negative coordinates), read through `reflectIndex`. `edges: 'zero'` leaves the model's own padding.
 */

/** Interleaved RGB (HWC) 8-bit image. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 3;
}

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface Tile {
  /** The input region fed to the model (core plus context). */
  input: Rect;
  /** The region this tile owns and writes back; cores partition the image. */
  core: Rect;
}

export type EdgeMode = 'reflect' | 'zero';

export interface TilingOptions {
  /** Largest tile side fed to the model, context included. */
  tileSize: number;
  /** Context pixels on each inner side; must be < tileSize / 2. */
  overlap: number;
  /** How the image is extended beyond its edges (default 'reflect'; see above). */
  edges?: EdgeMode;
  /** Called after each tile with (done, total). */
  onProgress?: (done: number, total: number) => void;
  /** Tiles in flight at once (default 1). */
  concurrency?: number;
  /** Checked between tiles, so a cancelled job stops within one tile. */
  signal?: AbortSignal;
}

/** Splits [0, length) into n near-equal spans. */
function spans(length: number, step: number): Array<[number, number]> {
  const n = Math.ceil(length / step);
  return Array.from({ length: n }, (_, i) => [Math.round((i * length) / n), Math.round(((i + 1) * length) / n)]);
}

/**
 * Where the input window for a core span sits: context on both sides, slid inward at the (padded)
 * image edges so every window keeps the full tile size (one tensor shape for the runtime) when the
 * image allows. Windows stay within [-pad, length + pad).
 */
function window(core: [number, number], length: number, tileSize: number, overlap: number, pad: number): [number, number] {
  const size = Math.min(tileSize, length + 2 * pad);
  const start = Math.max(-pad, Math.min(core[0] - overlap, length + pad - size));
  return [start, start + size];
}

/** Mirror index (edge pixel not repeated, like numpy's 'reflect') for any integer and length. */
export function reflectIndex(i: number, length: number): number {
  if (i >= 0 && i < length) return i;
  if (length === 1) return 0;
  const period = 2 * (length - 1);
  const m = ((i % period) + period) % period;
  return m < length ? m : period - m;
}

/** Tiles for an image; with `pad` > 0 windows may reach up to `pad` pixels beyond each edge. */
export function planTiles(width: number, height: number, tileSize: number, overlap: number, pad = 0): Tile[] {
  for (const [name, v] of [['width', width], ['height', height], ['tileSize', tileSize]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer, got ${v}`);
  }
  if (!Number.isInteger(overlap) || overlap < 0 || 2 * overlap >= tileSize) {
    throw new RangeError(`overlap must be an integer in [0, tileSize/2), got ${overlap} for tileSize ${tileSize}`);
  }
  const step = tileSize - 2 * overlap;
  const tiles: Tile[] = [];
  for (const ys of spans(height, step)) {
    const yw = window(ys, height, tileSize, overlap, pad);
    for (const xs of spans(width, step)) {
      const xw = window(xs, width, tileSize, overlap, pad);
      tiles.push({
        input: { x: xw[0], y: yw[0], width: xw[1] - xw[0], height: yw[1] - yw[0] },
        core: { x: xs[0], y: ys[0], width: xs[1] - xs[0], height: ys[1] - ys[0] },
      });
    }
  }
  return tiles;
}

/** Copies a region of an HWC uint8 image (mirrored outside it) into an NCHW float tensor scaled to 0..range. */
export function toNchw(image: RgbImage, rect: Rect, range: number): TileTensor {
  const { width: w, height: h } = rect;
  const plane = w * h;
  const data = new Float32Array(3 * plane);
  const k = range / 255;
  const src = image.data;
  const cols = Int32Array.from({ length: w }, (_, x) => reflectIndex(rect.x + x, image.width) * 3);
  for (let y = 0; y < h; y++) {
    const rowBase = reflectIndex(rect.y + y, image.height) * image.width * 3;
    const r = y * w;
    const g = plane + r;
    const b = 2 * plane + r;
    for (let x = 0; x < w; x++) {
      const i = rowBase + cols[x]!;
      data[r + x] = src[i]! * k;
      data[g + x] = src[i + 1]! * k;
      data[b + x] = src[i + 2]! * k;
    }
  }
  return { data, channels: 3, height: h, width: w };
}

/**
 * Writes `src` (a tensor covering `srcRect`, in output pixels) into `out` for the pixels of `dstRect`,
 * mapping 0..range back to 0..255, rounded and clamped (models overshoot near edges) by the
 * Uint8ClampedArray store itself: NaN becomes 0, halves round to even. One channel plane at a time,
 * so the reads are sequential: on a GPU the copies are a visible share of a tile's time (RESULTS.md).
 */
export function writeNchw(out: RgbImage, src: TileTensor, srcRect: Rect, dstRect: Rect, range: number): void {
  const plane = src.width * src.height;
  const k = 255 / range;
  const dst = new Uint8ClampedArray(out.data.buffer, out.data.byteOffset, out.data.length);
  const data = src.data;
  const w = dstRect.width;
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < dstRect.height; y++) {
      let s = c * plane + (dstRect.y + y - srcRect.y) * src.width + (dstRect.x - srcRect.x);
      let d = ((dstRect.y + y) * out.width + dstRect.x) * 3 + c;
      for (const end = s + w; s < end; s++, d += 3) dst[d] = data[s]! * k;
    }
  }
}

function scaled(r: Rect, s: number): Rect {
  return { x: r.x * s, y: r.y * s, width: r.width * s, height: r.height * s };
}

export interface TiledResult {
  image: RgbImage;
  tiles: number;
}

/**
 * Upscales `image` by `model.scale`; the model sees NCHW float tiles in its own pixel range and the
 * result is clamped and rounded back to uint8. With `concurrency` > 1, that many tiles are in flight
 * at once (a GPU provider then copies one tile while it computes another); each writes only its own
 * core, so completion order does not matter, and memory grows by one tile per extra slot.
 *
 * @example
 * const { image: big, tiles } = await upscaleTiled(rgb, model, { tileSize: 256, overlap: 16, onProgress: (d, t) => report(d / t) });
 */
export async function upscaleTiled(image: RgbImage, model: UpscaleModel, opts: TilingOptions): Promise<TiledResult> {
  if (image.data.length !== image.width * image.height * 3) {
    throw new RangeError(`image data has ${image.data.length} bytes; expected ${image.width}×${image.height}×3`);
  }
  const concurrency = opts.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
  const s = model.scale;
  const pad = (opts.edges ?? 'reflect') === 'reflect' ? opts.overlap : 0;
  const plan = planTiles(image.width, image.height, opts.tileSize, opts.overlap, pad);
  const out: RgbImage = { data: new Uint8Array(image.width * s * image.height * s * 3), width: image.width * s, height: image.height * s, channels: 3 };
  let next = 0;
  let done = 0;
  let failed = false;
  const lane = async (): Promise<void> => {
    while (next < plan.length && !failed) {
      opts.signal?.throwIfAborted();
      const tile = plan[next++]!;
      const result = await model.run(toNchw(image, tile.input, model.range));
      if (result.width !== tile.input.width * s || result.height !== tile.input.height * s || result.channels !== 3) {
        throw new RangeError(`model ${model.name} returned ${result.channels}×${result.height}×${result.width} for a ${tile.input.height}×${tile.input.width} tile at scale ${s}`);
      }
      writeNchw(out, result, scaled(tile.input, s), scaled(tile.core, s), model.range);
      opts.onProgress?.(++done, plan.length);
    }
  };
  // allSettled, not all: a failure must not return while other lanes still run the model.
  const lanes = await Promise.allSettled(
    Array.from({ length: Math.min(concurrency, plan.length) }, () =>
      lane().catch((err: unknown) => {
        failed = true;
        throw err;
      }),
    ),
  );
  const rejected = lanes.find((l): l is PromiseRejectedResult => l.status === 'rejected');
  if (rejected) throw rejected.reason;
  return { image: out, tiles: plan.length };
}
