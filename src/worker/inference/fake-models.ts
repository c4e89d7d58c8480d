import type { PixelRange, TileTensor, UpscaleModel } from './session.js';
import type { RgbImage } from './tiling.js';

/**
 * Pure-JS stand-ins for an ONNX super-resolution model, for tests and for running the worker's job
 * path without weights: a ×scale box filter (kernel 1 = pointwise nearest-neighbour, kernel 3 = a
 * 3×3 box blur with zero padding, i.e. a receptive field of radius 1) followed by nearest upsampling.
 * They record the largest tile they were given, so tests can prove memory stays bounded by tile size.
 */
export interface FakeModel extends UpscaleModel {
  readonly calls: number;
  readonly largestTile: number;
  /** Most `run` calls ever in flight at once. */
  readonly maxInFlight: number;
}

export function fakeUpscaleModel(opts: { scale: number; kernel?: 1 | 3; range?: PixelRange; gain?: number; delayMs?: number }): FakeModel {
  const { scale } = opts;
  const kernel = opts.kernel ?? 1;
  const range = opts.range ?? 255;
  const gain = opts.gain ?? 1;
  const r = (kernel - 1) / 2;
  let calls = 0;
  let largestTile = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  return {
    name: `fake-box${kernel}-x${scale}`,
    scale,
    range,
    provider: 'js',
    get calls() {
      return calls;
    },
    get largestTile() {
      return largestTile;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    async run(tile: TileTensor): Promise<TileTensor> {
      calls++;
      largestTile = Math.max(largestTile, tile.width * tile.height);
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      try {
        if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
        return compute(tile);
      } finally {
        inFlight--;
      }
    },
    async release() {},
  };

  function compute(tile: TileTensor): TileTensor {
    const { width: w, height: h, channels } = tile;
    for (let i = 0; i < tile.data.length; i++) {
      if (tile.data[i]! < 0 || tile.data[i]! > range) throw new RangeError(`input ${tile.data[i]} outside 0..${range}`);
    }
    const ow = w * scale;
    const oh = h * scale;
    const out = new Float32Array(channels * ow * oh);
    for (let c = 0; c < channels; c++) {
      const inPlane = c * w * h;
      const outPlane = c * ow * oh;
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          let sum = 0;
          for (let dy = -r; dy <= r; dy++) {
            for (let dx = -r; dx <= r; dx++) {
              const yy = y + dy;
              const xx = x + dx;
              if (yy >= 0 && yy < h && xx >= 0 && xx < w) sum += tile.data[inPlane + yy * w + xx]!;
            }
          }
          const v = (sum / (kernel * kernel)) * gain;
          for (let sy = 0; sy < scale; sy++) {
            out.fill(v, outPlane + (y * scale + sy) * ow + x * scale, outPlane + (y * scale + sy) * ow + (x + 1) * scale);
          }
        }
      }
    }
    return { data: out, channels, height: oh, width: ow };
  }
}

/** Deterministic noisy RGB test image (a linear congruential generator): the harshest case for seams. */
export function noiseImage(width: number, height: number, seed = 1): RgbImage {
  const data = new Uint8Array(width * height * 3);
  let s = seed >>> 0;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = s >>> 24;
  }
  return { data, width, height, channels: 3 };
}
