/**
 * Bradley–Terry, the canonical rating tier: a periodic fit over every vote of a tournament.
 *
 * Model: image i has strength γᵢ = e^{βᵢ}; the image shown on the left wins with
 *   P(left wins) = θ·γ_left / (θ·γ_left + γ_right),
 * where θ is the left/right position term (θ > 1: the left slot helps). Fitted by maximum a
 * posteriori with a weak prior: each
 * image gets `priorWeight` virtual wins and as many virtual losses against a reference image of strength
 * 1 (β = 0), and θ gets `priorWeight` virtual left wins and right wins between two reference images.
 * The prior makes the fit exist for every table (an image with only wins or only losses, or one
 * nobody has voted on yet, gets a finite β, the latter exactly 0) and pins the scale, so no
 * normalisation step is needed; at a few dozen votes per image it moves β by well under its
 * standard error.
 *
 * Input is aggregated: one row per (winner, loser, side of the winner) with a count, as a SQL
 * `GROUP BY` returns it, so every iteration costs O(rows), not O(votes).
 *
 * Iteration: each pass over the rows yields, per image, observed and expected wins and their variance.
 * The default step is Newton's: H·d = gradient solved by preconditioned conjugate gradients, each
 * H·u one more pass over the rows (bradley-terry.newton.ts). `method: 'mm'` takes Hunter's MM step
 * instead (Annals of Statistics 32(1), 2004, §3.2, home-field advantage: βᵢ += ln(winsᵢ/expectedᵢ)),
 * kept to cross-check: it crawls for strong images, whose expected wins barely move with β, and on
 * chains of comparisons. A step that lowers the log posterior is halved from the last good point, so
 * the fit ascends on every table. After every step all β are shifted together to the level that suits
 * the prior best: the likelihood cannot see a common shift, and left to the step that direction would
 * converge at a rate of about 1 − prior/votes per image.
 *
 * Cost: O(rows + items) time per pass and O(rows + items) memory; rows ≤ votes, far fewer when the
 * pairing repeats pairs. A fit takes `iterations` evaluation passes plus `products` CG passes:
 * measured on random pairings, 6–10 and 11–32 (MM alone: 50–2,200 passes for the same tolerance).
 */

import type { PairTable } from './bradley-terry.pairs.js';
import { newtonStep, type NewtonSystem } from './bradley-terry.newton.js';

export { aggregateVotes, compilePairs, type PairCount, type PairTable, type Side, type Vote } from './bradley-terry.pairs.js';

export interface FitOptions {
  /** Virtual wins and losses per image against the reference (and for θ). 0 = plain MLE, which needs a strongly connected table. */
  priorWeight: number;
  /** Fit θ; false pins θ = 1 (no position effect). */
  positionTerm: boolean;
  /** Stop when the next step would move no β and not ln θ by more than this. */
  tolerance: number;
  maxIterations: number;
  /** 'newton' (default): Newton steps solved by preconditioned CG. 'mm': Hunter's MM steps (slower; kept to cross-check). */
  method: 'newton' | 'mm';
}

export const FIT_DEFAULTS: Readonly<FitOptions> = Object.freeze({ priorWeight: 1, positionTerm: true, tolerance: 1e-7, maxIterations: 5000, method: 'newton' });

export interface BradleyTerryFit {
  /** β = ln γ per item, on the logistic scale Glicko-2 uses internally (display: 1500 + 173.7178·β). */
  logStrength: Float64Array;
  /** Position term: odds multiplier for the left image. 1 when `positionTerm` is off. */
  theta: number;
  /** Real votes per item (weighted in a bootstrap replicate). */
  votes: Float64Array;
  wins: Float64Array;
  /** Evaluation passes over the rows (one per step, plus one per backtrack). */
  iterations: number;
  converged: boolean;
  /** Extra passes over the rows spent in the Newton solves (H·u products). */
  products: number;
  /** Passes that overshot and were retried at half the step. */
  backtracks: number;
}

function checkFitOptions(o: FitOptions): void {
  if (!(o.priorWeight >= 0) || !Number.isFinite(o.priorWeight)) throw new RangeError(`priorWeight must be finite and ≥ 0, got ${o.priorWeight}`);
  if (!(o.tolerance > 0)) throw new RangeError(`tolerance must be > 0, got ${o.tolerance}`);
  if (o.method !== 'newton' && o.method !== 'mm') throw new RangeError(`method must be 'newton' or 'mm', got ${String(o.method)}`);
  if (!Number.isInteger(o.maxIterations) || o.maxIterations < 1) throw new RangeError(`maxIterations must be a positive integer, got ${o.maxIterations}`);
}

/**
 * Fits β and θ. `counts` replaces `table.count` (a bootstrap replicate's weights); `start` warm-starts
 * the iteration (a replicate starts from the full fit and needs far fewer iterations).
 *
 * @example
 * const table = compilePairs(3, [{ winner: 0, loser: 1, winnerSide: 'left', count: 7 }, ...]);
 * const fit = fitBradleyTerry(table);
 * fit.logStrength[0]; // β of image 0
 */
export function fitBradleyTerry(
  table: PairTable,
  options: Partial<FitOptions> = {},
  counts: Float64Array = table.count,
  start?: Pick<BradleyTerryFit, 'logStrength' | 'theta'>,
): BradleyTerryFit {
  const o = { ...FIT_DEFAULTS, ...options };
  checkFitOptions(o);
  if (counts.length !== table.length) throw new RangeError(`counts has ${counts.length} entries for ${table.length} rows`);
  if (start && start.logStrength.length !== table.items) throw new RangeError(`start has ${start.logStrength.length} strengths for ${table.items} items`);
  if (start && (!(start.theta > 0) || !Number.isFinite(start.theta) || !start.logStrength.every(Number.isFinite))) throw new RangeError('start must hold finite strengths and θ > 0');
  const { items, left, right, leftWon, length } = table;
  const w = o.priorWeight;
  const wins = new Float64Array(items);
  const votes = new Float64Array(items);
  let leftWins = 0;
  for (let r = 0; r < length; r++) {
    const c = counts[r]!;
    if (!(c >= 0) || !Number.isFinite(c)) throw new RangeError(`counts[${r}] must be finite and ≥ 0, got ${c}`);
    const a = left[r]!;
    const b = right[r]!;
    votes[a] = votes[a]! + c;
    votes[b] = votes[b]! + c;
    const winner = leftWon[r] ? a : b;
    wins[winner] = wins[winner]! + c;
    if (leftWon[r]) leftWins += c;
  }
  if (w === 0) {
    for (let i = 0; i < items; i++) {
      if (wins[i] === 0 || wins[i] === votes[i]) throw new RangeError(`item ${i} has ${wins[i]} wins in ${votes[i]} votes: the MLE does not exist, use priorWeight > 0`);
    }
  }
  const beta = start ? Float64Array.from(start.logStrength) : new Float64Array(items);
  let logTheta = o.positionTerm && start ? Math.log(start.theta) : 0;
  const gamma = new Float64Array(items);
  const expected = new Float64Array(items); // expected wins, prior included
  const variance = new Float64Array(items);
  const base = new Float64Array(items); // the last point that raised the posterior, and the step from it
  const step = new Float64Array(items + 1); // θ's component last
  const system: NewtonSystem = {
    table,
    rowWeight: new Float64Array(length),
    priorCurvature: new Float64Array(items + 1),
    diagonal: new Float64Array(items + 1),
    gradient: new Float64Array(items + 1),
    withTheta: o.positionTerm,
  };
  let products = 0;
  let baseTheta = 0;
  let stepTheta = 0;
  let stepSize = 1;
  let best = -Infinity;
  let backtracks = 0;
  let iterations = 0;
  let converged = false;
  while (iterations < o.maxIterations) {
    iterations++;
    const theta = Math.exp(logTheta);
    let logPost = 0;
    for (let i = 0; i < items; i++) {
      const g = Math.exp(beta[i]!);
      const p = g / (g + 1);
      gamma[i] = g;
      expected[i] = 2 * w * p;
      variance[i] = 2 * w * p * (1 - p);
      system.priorCurvature[i] = variance[i]!;
      logPost += w * (beta[i]! - 2 * Math.log1p(g));
    }
    const pt = theta / (theta + 1);
    let thetaExpected = 2 * w * pt;
    let thetaVariance = 2 * w * pt * (1 - pt);
    system.priorCurvature[items] = thetaVariance;
    logPost += w * (logTheta - 2 * Math.log1p(theta));
    for (let r = 0; r < length; r++) {
      const c = counts[r]!;
      if (c === 0) {
        system.rowWeight[r] = 0;
        continue;
      }
      const a = left[r]!;
      const b = right[r]!;
      const pl = (theta * gamma[a]!) / (theta * gamma[a]! + gamma[b]!);
      const v = c * pl * (1 - pl);
      system.rowWeight[r] = v;
      expected[a] = expected[a]! + c * pl;
      expected[b] = expected[b]! + c * (1 - pl);
      variance[a] = variance[a]! + v;
      variance[b] = variance[b]! + v;
      thetaExpected += c * pl;
      thetaVariance += v;
      logPost += c * Math.log(leftWon[r] ? pl : 1 - pl);
    }
    if (logPost < best - 1e-12 * Math.abs(best)) {
      // Overshot (beyond rounding). Both steps point uphill (each coordinate follows the sign of its
      // gradient), so halving from the last good point must ascend eventually.
      backtracks++;
      stepSize /= 2;
      if (stepSize < 1e-9) {
        // Not even a tiny step ascends: the gradient is rounding noise, the optimum is reached.
        beta.set(base);
        logTheta = baseTheta;
        converged = true;
        break;
      }
      move(beta, base, step, stepSize, w);
      logTheta = baseTheta + stepSize * stepTheta;
      continue;
    }
    best = logPost;
    base.set(beta);
    baseTheta = logTheta;
    stepSize = 1;
    let change = 0;
    if (o.method === 'newton') {
      for (let i = 0; i < items; i++) {
        system.gradient[i] = wins[i]! + w - expected[i]!;
        system.diagonal[i] = variance[i]!;
      }
      system.gradient[items] = o.positionTerm ? leftWins + w - thetaExpected : 0;
      system.diagonal[items] = thetaVariance;
      products += newtonStep(system, step);
      for (let i = 0; i <= items; i++) change = Math.max(change, Math.abs(step[i]!));
      // Far from the optimum the quadratic model can propose huge moves: keep the direction, cap the length.
      if (change > 2) for (let i = 0; i <= items; i++) step[i] = (step[i]! * 2) / change;
    } else {
      for (let i = 0; i < items; i++) step[i] = Math.log((wins[i]! + w) / expected[i]!);
      step[items] = o.positionTerm ? Math.log((leftWins + w) / thetaExpected) : 0;
      for (let i = 0; i <= items; i++) change = Math.max(change, Math.abs(step[i]!));
    }
    stepTheta = step[items]!;
    move(beta, base, step, stepSize, w);
    logTheta = baseTheta + stepSize * stepTheta;
    if (change < o.tolerance) {
      converged = true;
      break;
    }
  }
  return { logStrength: beta, theta: Math.exp(logTheta), votes, wins, iterations, products, converged, backtracks };
}

/** beta = base + size·step, then shifted as a whole to the level that suits the prior best (mean 0 without one). */
function move(beta: Float64Array, base: Float64Array, step: Float64Array, size: number, w: number): void {
  for (let i = 0; i < base.length; i++) beta[i] = base[i]! + size * step[i]!;
  const s = w === 0 ? -mean(beta) : priorShift(beta);
  for (let i = 0; i < beta.length; i++) beta[i] = beta[i]! + s;
}

function mean(values: Float64Array): number {
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/**
 * The shift s maximising the prior's log-density Σ ln σ(βᵢ + s) + ln σ(−βᵢ − s), i.e. the root of
 * Σ σ(βᵢ + s) = n/2 (monotone in s), by Newton's method with a bounded step.
 */
function priorShift(beta: Float64Array): number {
  let s = 0;
  for (let step = 0; step < 50; step++) {
    let g = -beta.length / 2;
    let dg = 0;
    for (const b of beta) {
      const p = 1 / (1 + Math.exp(-(b + s)));
      g += p;
      dg += p * (1 - p);
    }
    const delta = Math.max(-4, Math.min(4, -g / Math.max(dg, 1e-300)));
    s += delta;
    if (Math.abs(delta) < 1e-13) break;
  }
  return s;
}
