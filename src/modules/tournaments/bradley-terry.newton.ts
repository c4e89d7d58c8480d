/**
 * The Newton direction of the Bradley–Terry fit without forming the Hessian: preconditioned conjugate
 * gradients on H·d = g, where each product H·u is one pass over the rows. H is the Fisher information
 * of (β₁ … βₙ, ln θ): each row of count c and left-win probability p adds c·p(1−p)·x·xᵀ with
 * x = e_left − e_right + e_θ, and the prior adds its own diagonal. The diagonal preconditioner makes a
 * well-mixed comparison graph take a handful of CG steps; chains and a θ tangled with one image's side
 * (where a diagonal step alone zigzags) take more, but still converge.
 *
 * Cost: O(rows + items) per CG step; the solve stops at a relative residual of `forcing` (inexact
 * Newton: each outer step then cuts the error by about that factor) or after `maxSteps`.
 */
import type { PairTable } from './bradley-terry.pairs.js';

export interface NewtonSystem {
  table: PairTable;
  /** Per row: count × p × (1 − p) at the current point. */
  rowWeight: Float64Array;
  /** Per item the prior's curvature, then θ's at index `items`. */
  priorCurvature: Float64Array;
  /** Diagonal of H (prior + rows), length items + 1. */
  diagonal: Float64Array;
  /** Gradient of the log posterior, length items + 1 (θ last; 0 when θ is not fitted). */
  gradient: Float64Array;
  withTheta: boolean;
}

/** out = H·u */
function multiply(s: NewtonSystem, u: Float64Array, out: Float64Array): void {
  const { left, right, length } = s.table;
  const n = s.table.items;
  for (let i = 0; i <= n; i++) out[i] = s.priorCurvature[i]! * u[i]!;
  const ut = s.withTheta ? u[n]! : 0;
  let outTheta = 0;
  for (let r = 0; r < length; r++) {
    const v = s.rowWeight[r]!;
    if (v === 0) continue;
    const a = left[r]!;
    const b = right[r]!;
    const x = v * (u[a]! - u[b]! + ut);
    out[a] = out[a]! + x;
    out[b] = out[b]! - x;
    outTheta += x;
  }
  out[n] = s.withTheta ? out[n]! + outTheta : 0;
}

function dot(a: Float64Array, b: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}

/**
 * Writes the (inexact) Newton step into `step` (length items + 1) and returns how many H·u products it
 * took. Starting CG from 0 makes every iterate an ascent direction (gᵀd > 0), so a backtracking line
 * search on it always succeeds.
 */
export function newtonStep(s: NewtonSystem, step: Float64Array, forcing = 0.05, maxSteps = 100): number {
  const n = s.table.items;
  const size = n + 1;
  const g = s.gradient;
  // A tiny ridge: without a prior, H is singular along the common shift of all β (g has no component there).
  const precond = new Float64Array(size);
  for (let i = 0; i < size; i++) precond[i] = s.diagonal[i]! > 0 ? 1 / (s.diagonal[i]! * (1 + 1e-10)) : 0;
  if (!s.withTheta) precond[n] = 0;
  const r = Float64Array.from(g);
  if (!s.withTheta) r[n] = 0;
  const z = new Float64Array(size);
  for (let i = 0; i < size; i++) z[i] = precond[i]! * r[i]!;
  const p = Float64Array.from(z);
  const hp = new Float64Array(size);
  step.fill(0);
  const stop = forcing * Math.sqrt(dot(r, r));
  let rz = dot(r, z);
  let products = 0;
  while (products < maxSteps && Math.sqrt(dot(r, r)) > stop && rz > 0) {
    multiply(s, p, hp);
    products++;
    for (let i = 0; i < size; i++) hp[i] = hp[i]! + 1e-10 * s.diagonal[i]! * p[i]!;
    const curvature = dot(p, hp);
    if (!(curvature > 0)) break;
    const alpha = rz / curvature;
    for (let i = 0; i < size; i++) {
      step[i] = step[i]! + alpha * p[i]!;
      r[i] = r[i]! - alpha * hp[i]!;
      z[i] = precond[i]! * r[i]!;
    }
    const rzNext = dot(r, z);
    const beta = rzNext / rz;
    rz = rzNext;
    for (let i = 0; i < size; i++) p[i] = z[i]! + beta * p[i]!;
  }
  if (products === 0) for (let i = 0; i < size; i++) step[i] = precond[i]! * g[i]!;
  return products;
}
