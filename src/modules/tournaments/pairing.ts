/**
 * Which two images a voter sees next. Votes are worth most where ratings are uncertain (high RD) or
 * close (the outcome is a coin flip, so it says the most about the order), so pairs are drawn with
 * weight towards both, never two images of the same owner, never the viewer's own, and with left/right
 * decided by a coin so the position term can be estimated and does not favour anyone. Pure: the random
 * source is injected.
 *
 * The draw, in two stages so that it costs O(n) rather than O(n²):
 *   1. the first image i with probability ∝ RDᵢ;
 *   2. its opponent j ∝ (RDᵢ + RDⱼ) · exp(−((rᵢ − rⱼ)/closeness)²) among the images it may meet.
 * Stage 1 alone decides how often an image is shown, so an outlier far from every other rating is still
 * shown as often as its RD asks; stage 2 only chooses its nearest plausible opponents.
 * If i may meet nobody (every other image is its owner's, or excluded), i is set aside and stage 1
 * repeats, so a pick costs O(n) per image set aside: O(n²) only in the degenerate case where almost
 * all images share an owner.
 */
import type { Random } from './random.js';

export interface PairingCandidate {
  id: string;
  ownerId: string;
  /** Live (Glicko-2) rating and RD, on the Glicko scale. */
  rating: number;
  rd: number;
}

export interface PairingOptions {
  random: Random;
  /** Rating gap at which the closeness factor has fallen to 1/e. Default 200 (Glicko points). */
  closeness?: number;
  /**
   * True for a pair that must not be shown (e.g. this viewer already voted on it). Called with ids in
   * no particular order, so it must be symmetric.
   */
  exclude?: (a: string, b: string) => boolean;
}

export interface Matchup {
  left: PairingCandidate;
  right: PairingCandidate;
}

function check(candidates: readonly PairingCandidate[], closeness: number): void {
  if (!(closeness > 0) || !Number.isFinite(closeness)) throw new RangeError(`closeness must be finite and > 0, got ${closeness}`);
  const seen = new Set<string>();
  for (const [i, c] of candidates.entries()) {
    if (!Number.isFinite(c.rating)) throw new RangeError(`candidates[${i}].rating must be finite, got ${c.rating}`);
    if (!(c.rd > 0) || !Number.isFinite(c.rd)) throw new RangeError(`candidates[${i}].rd must be finite and > 0, got ${c.rd}`);
    if (seen.has(c.id)) throw new RangeError(`candidates[${i}]: duplicate id ${c.id}`);
    seen.add(c.id);
  }
}

/** Index drawn with probability ∝ weights[k]; weights are ≥ 0 with a positive sum. */
function draw(random: Random, weights: readonly number[], total: number): number {
  let u = random() * total;
  for (let k = 0; k < weights.length; k++) {
    u -= weights[k]!;
    if (u < 0) return k;
  }
  // Rounding can leave u a hair above 0 after the last weight: the last positive one is meant.
  for (let k = weights.length - 1; k >= 0; k--) if (weights[k]! > 0) return k;
  throw new RangeError('draw needs a positive weight');
}

/**
 * Picks the next matchup for `viewerId` (null for an anonymous viewer), or null when no valid pair exists.
 *
 * @example
 * const matchup = pickPair(entries, user.id, { random: Math.random, exclude: (a, b) => voted.has(pairKey(a, b)) });
 * if (matchup) show(matchup.left, matchup.right);
 */
export function pickPair(candidates: readonly PairingCandidate[], viewerId: string | null, options: PairingOptions): Matchup | null {
  const closeness = options.closeness ?? 200;
  check(candidates, closeness);
  const pool = candidates.filter((c) => c.ownerId !== viewerId);
  const firstWeights = pool.map((c) => c.rd);
  let firstTotal = firstWeights.reduce((s, w) => s + w, 0);
  for (let left = pool.length; left >= 2; left--) {
    const i = draw(options.random, firstWeights, firstTotal);
    const first = pool[i]!;
    // Log-weights with the maximum subtracted: far-apart ratings would underflow exp() to 0 otherwise.
    const logWeights = pool.map((c, k) =>
      k === i || c.ownerId === first.ownerId || options.exclude?.(first.id, c.id) ? -Infinity : Math.log(first.rd + c.rd) - ((first.rating - c.rating) / closeness) ** 2,
    );
    const max = logWeights.reduce((m, lw) => Math.max(m, lw), -Infinity);
    if (max === -Infinity) {
      firstTotal -= firstWeights[i]!;
      firstWeights[i] = 0;
      continue;
    }
    const weights = logWeights.map((lw) => Math.exp(lw - max));
    const second = pool[draw(options.random, weights, weights.reduce((s, w) => s + w, 0))]!;
    return options.random() < 0.5 ? { left: first, right: second } : { left: second, right: first };
  }
  return null;
}
