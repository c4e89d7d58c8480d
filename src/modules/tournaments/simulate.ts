/**
 * Synthetic tournaments for tests and load-tests/bt-fit.ts: votes drawn from known strengths, so a
 * fit can be judged against the truth. Not used by the service.
 */
import type { Vote } from './bradley-terry.js';
import { normal, seededRandom, type Random } from './random.js';

export interface SimulationOptions {
  items: number;
  votes: number;
  /** True position term (odds multiplier of the left image). */
  theta: number;
  /** Standard deviation of the true β (ln γ), drawn N(0, spread²) and centred to mean 0. */
  spread: number;
  seed: number;
}

export interface Simulation {
  truth: Float64Array;
  votes: Vote[];
}

/** Draws true strengths, then `votes` uniformly random pairs with random sides, each decided by the model. */
export function simulateVotes(options: SimulationOptions): Simulation {
  const { items, votes, theta, spread, seed } = options;
  if (!Number.isInteger(items) || items < 2) throw new RangeError(`items must be an integer ≥ 2, got ${items}`);
  if (!Number.isInteger(votes) || votes < 0) throw new RangeError(`votes must be an integer ≥ 0, got ${votes}`);
  const rand = seededRandom(seed);
  const truth = new Float64Array(items);
  let mean = 0;
  for (let i = 0; i < items; i++) {
    truth[i] = spread * normal(rand);
    mean += truth[i]! / items;
  }
  for (let i = 0; i < items; i++) truth[i] = truth[i]! - mean;
  const out: Vote[] = new Array<Vote>(votes);
  for (let v = 0; v < votes; v++) {
    const left = pick(rand, items);
    let right = pick(rand, items - 1);
    if (right >= left) right++;
    const pLeft = 1 / (1 + Math.exp(-(Math.log(theta) + truth[left]! - truth[right]!)));
    out[v] = rand() < pLeft ? { winner: left, loser: right, winnerSide: 'left' } : { winner: right, loser: left, winnerSide: 'right' };
  }
  return { truth, votes: out };
}

function pick(rand: Random, n: number): number {
  return Math.floor(rand() * n);
}

/** Kendall's τ-a between two score vectors over the same items. O(n²): fine up to ~10⁴ items. */
export function kendallTau(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length || a.length < 2) throw new RangeError('kendallTau needs two vectors of the same length ≥ 2');
  const n = a.length;
  let score = 0;
  for (let i = 0; i < n; i++) {
    const ai = a[i]!;
    const bi = b[i]!;
    for (let j = i + 1; j < n; j++) score += Math.sign(ai - a[j]!) * Math.sign(bi - b[j]!);
  }
  return score / ((n * (n - 1)) / 2);
}
