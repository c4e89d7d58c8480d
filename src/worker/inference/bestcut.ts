import { AppError, ValidationError } from '../../platform/errors.js';
import { decodeRgb } from './upscale.js';

/**
 * Best-cut (seed 001): pick the best of 2–10 shots of the same scene.
 *
 * Each candidate is decoded (EXIF-oriented, alpha on white), shrunk to fit inside
 * `analysisSize × analysisSize` (default 512, never enlarged: sharpness is compared at one scale and
 * ten 24 MP photos cost ten 0.26 MP passes) and turned into luma Y = 0.2126 R + 0.7152 G + 0.0722 B
 * on the encoded 0–255 values. Then:
 * - sharpness: the variance of the 4-neighbour Laplacian over interior pixels (Pech-Pacheco et al.);
 * - exposure: mean luma and the fractions of pixels at or above `clipHigh` (blown) and at or below
 *   `clipLow` (crushed). A candidate is 'over' when more than `maxClipped` of it is blown or its mean
 *   is above `maxMean`, 'under' when more than `maxClipped` is crushed or its mean is below `minMean`.
 *
 * The rule: score = sharpness × (1 − blown − crushed); the pick is the highest score among the
 * candidates whose exposure is 'ok', and only when every candidate is flagged the highest score
 * overall. So a well-exposed, slightly softer shot beats an over-exposed sharp one (blown highlights
 * have hard edges and score high on the Laplacian alone). Ties go to the earlier candidate.
 */

export interface ExposureRule {
  clipHigh: number;
  clipLow: number;
  maxClipped: number;
  minMean: number;
  maxMean: number;
}

export const DEFAULT_EXPOSURE: ExposureRule = { clipHigh: 250, clipLow: 5, maxClipped: 0.1, minMean: 40, maxMean: 215 };

export interface BestCutOptions {
  analysisSize?: number;
  maxInputPixels?: number;
  exposure?: ExposureRule;
}

export type Exposure = 'ok' | 'over' | 'under';

export interface CandidateScore {
  index: number;
  /** Oriented size of the candidate as uploaded. */
  width: number;
  height: number;
  sharpness: number;
  meanLuma: number;
  clippedHigh: number;
  clippedLow: number;
  exposure: Exposure;
  score: number;
}

export interface BestCutResult {
  pick: number;
  scores: CandidateScore[];
  analysisSize: number;
}

export const MIN_CANDIDATES = 2;
export const MAX_CANDIDATES = 10;

/** Luma plane of an interleaved RGB image. */
export function luma(rgb: Uint8Array, pixels: number): Float32Array {
  const y = new Float32Array(pixels);
  for (let i = 0, j = 0; i < pixels; i++, j += 3) y[i] = 0.2126 * rgb[j]! + 0.7152 * rgb[j + 1]! + 0.0722 * rgb[j + 2]!;
  return y;
}

/** Variance of the 4-neighbour Laplacian over interior pixels; 0 for images thinner than 3 px. */
export function laplacianVariance(y: Float32Array, width: number, height: number): number {
  if (width < 3 || height < 3) return 0;
  let sum = 0;
  let sumSq = 0;
  for (let r = 1; r < height - 1; r++) {
    for (let c = 1, i = r * width + 1; c < width - 1; c++, i++) {
      const v = y[i - width]! + y[i + width]! + y[i - 1]! + y[i + 1]! - 4 * y[i]!;
      sum += v;
      sumSq += v * v;
    }
  }
  const n = (width - 2) * (height - 2);
  const mean = sum / n;
  return sumSq / n - mean * mean;
}

export function exposureOf(y: Float32Array, rule: ExposureRule): Pick<CandidateScore, 'meanLuma' | 'clippedHigh' | 'clippedLow' | 'exposure'> {
  let sum = 0;
  let high = 0;
  let low = 0;
  for (const v of y) {
    sum += v;
    if (v >= rule.clipHigh) high++;
    else if (v <= rule.clipLow) low++;
  }
  const meanLuma = sum / y.length;
  const clippedHigh = high / y.length;
  const clippedLow = low / y.length;
  const exposure: Exposure =
    clippedHigh > rule.maxClipped || meanLuma > rule.maxMean ? 'over' : clippedLow > rule.maxClipped || meanLuma < rule.minMean ? 'under' : 'ok';
  return { meanLuma, clippedHigh, clippedLow, exposure };
}

/** Index of the best score among `scores` passing `keep`; -1 when none does. */
function best(scores: CandidateScore[], keep: (s: CandidateScore) => boolean): number {
  let pick = -1;
  for (const s of scores) if (keep(s) && (pick < 0 || s.score > scores[pick]!.score)) pick = s.index;
  return pick;
}

/**
 * @example
 * const { pick, scores } = await bestCut([a, b, c]);
 * // scores[i] = { sharpness, meanLuma, clippedHigh, clippedLow, exposure, score, ... }
 */
export async function bestCut(images: Buffer[], opts: BestCutOptions = {}): Promise<BestCutResult> {
  if (images.length < MIN_CANDIDATES || images.length > MAX_CANDIDATES) {
    throw new ValidationError(`Best-cut needs ${MIN_CANDIDATES} to ${MAX_CANDIDATES} images, got ${images.length}`, [
      { path: 'files', message: `between ${MIN_CANDIDATES} and ${MAX_CANDIDATES} images` },
    ]);
  }
  const analysisSize = opts.analysisSize ?? 512;
  if (!Number.isInteger(analysisSize) || analysisSize < 3) throw new RangeError(`analysisSize must be an integer >= 3, got ${analysisSize}`);
  const rule = opts.exposure ?? DEFAULT_EXPOSURE;
  const scores: CandidateScore[] = [];
  // One at a time: at most one decoded candidate in memory.
  for (const [index, bytes] of images.entries()) {
    let decoded;
    try {
      decoded = await decodeRgb(bytes, opts.maxInputPixels ?? 40_000_000, (w, h) => {
        const f = Math.min(1, analysisSize / Math.max(w, h));
        return { width: Math.max(1, Math.round(w * f)), height: Math.max(1, Math.round(h * f)) };
      });
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      throw new AppError(err.status, err.code, `Candidate ${index + 1}: ${err.message}`, {
        cause: err,
        errors: [{ path: `files.${index}`, message: err.message }],
      });
    }
    const { image, source } = decoded;
    const y = luma(image.data, image.width * image.height);
    const sharpness = laplacianVariance(y, image.width, image.height);
    const exposure = exposureOf(y, rule);
    const score = sharpness * (1 - exposure.clippedHigh - exposure.clippedLow);
    scores.push({ index, width: source.width, height: source.height, sharpness, ...exposure, score });
  }
  const okPick = best(scores, (s) => s.exposure === 'ok');
  return { pick: okPick >= 0 ? okPick : best(scores, () => true), scores, analysisSize };
}
