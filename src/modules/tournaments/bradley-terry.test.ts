import { describe, expect, it } from 'vitest';
import { aggregateVotes, compilePairs, fitBradleyTerry, type BradleyTerryFit, type PairCount, type PairTable } from './bradley-terry.js';

const row = (winner: number, loser: number, count: number, winnerSide: 'left' | 'right' = 'left'): PairCount => ({ winner, loser, winnerSide, count });

/** The model's expected wins per item (prior included) and expected left wins, computed independently of the fit. */
function expectations(table: PairTable, fit: BradleyTerryFit, w: number): { wins: number[]; leftWins: number } {
  const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
  const wins = Array.from(fit.logStrength, (b) => 2 * w * sigmoid(b));
  let leftWins = 2 * w * sigmoid(Math.log(fit.theta));
  for (let r = 0; r < table.length; r++) {
    const a = table.left[r]!;
    const b = table.right[r]!;
    const p = sigmoid(Math.log(fit.theta) + fit.logStrength[a]! - fit.logStrength[b]!);
    wins[a] = wins[a]! + table.count[r]! * p;
    wins[b] = wins[b]! + table.count[r]! * (1 - p);
    leftWins += table.count[r]! * p;
  }
  return { wins, leftWins };
}

// 0 beats 1 mostly, 1 beats 2 mostly, 2 beats 0 sometimes: strongly connected, so the plain MLE exists.
const triangle: PairCount[] = [row(0, 1, 6), row(1, 0, 2, 'right'), row(1, 2, 5), row(2, 1, 3), row(0, 2, 4, 'right'), row(2, 0, 1)];

describe('fitBradleyTerry', () => {
  it('two items, no prior, no position term: the strength ratio is the win ratio', () => {
    const table = compilePairs(2, [row(0, 1, 3), row(1, 0, 1, 'right')]);
    const fit = fitBradleyTerry(table, { priorWeight: 0, positionTerm: false });
    expect(fit.converged).toBe(true);
    expect(fit.logStrength[0]! - fit.logStrength[1]!).toBeCloseTo(Math.log(3), 9);
    expect(fit.logStrength[0]! + fit.logStrength[1]!).toBeCloseTo(0, 12);
    expect(fit.theta).toBe(1);
  });

  it('plain MLE on three items: each item’s wins equal its expected wins', () => {
    const table = compilePairs(3, triangle);
    const fit = fitBradleyTerry(table, { priorWeight: 0, positionTerm: false, tolerance: 1e-12 });
    const { wins } = expectations(table, fit, 0);
    expect(Array.from(fit.wins)).toEqual([10, 7, 4]);
    wins.forEach((e, i) => expect(e).toBeCloseTo(fit.wins[i]!, 9));
  });

  it('with prior and position term: the score equations hold, virtual games included, and for θ', () => {
    const table = compilePairs(3, triangle);
    for (const w of [0.5, 1, 3]) {
      const fit = fitBradleyTerry(table, { priorWeight: w, tolerance: 1e-12 });
      const { wins, leftWins } = expectations(table, fit, w);
      wins.forEach((e, i) => expect(e).toBeCloseTo(fit.wins[i]! + w, 9));
      expect(leftWins).toBeCloseTo(15 + w, 9); // 6 + 5 + 3 + 1 left wins
    }
  });

  it('Newton and MM reach the same optimum', () => {
    const table = compilePairs(4, [...triangle, row(3, 0, 2), row(1, 3, 4, 'right'), row(3, 2, 1, 'right')]);
    const newton = fitBradleyTerry(table, { tolerance: 1e-12 });
    const mm = fitBradleyTerry(table, { method: 'mm', tolerance: 1e-13, maxIterations: 100_000 });
    expect(mm.converged && newton.converged).toBe(true);
    expect(newton.iterations).toBeLessThan(mm.iterations);
    newton.logStrength.forEach((b, i) => expect(b).toBeCloseTo(mm.logStrength[i]!, 8));
    expect(newton.theta).toBeCloseTo(mm.theta, 8);
  });

  it('converges where θ is tangled with one image always on the left', () => {
    // Image 0 only ever played on the left: its strength and θ trade off along a ridge, which a
    // coordinate-wise step zigzags along; the conjugate-gradient Newton step follows it.
    const table = compilePairs(3, [row(0, 1, 1000), row(1, 2, 5), row(2, 1, 5, 'right')]);
    const newton = fitBradleyTerry(table, { tolerance: 1e-10 });
    const mm = fitBradleyTerry(table, { method: 'mm', tolerance: 1e-12, maxIterations: 200_000 });
    expect(newton.converged && mm.converged).toBe(true);
    expect(newton.iterations).toBeLessThan(100);
    expect(newton.theta).toBeCloseTo(mm.theta, 3);
    newton.logStrength.forEach((b, i) => expect(b).toBeCloseTo(mm.logStrength[i]!, 4));
  });

  it('the prior keeps an unbeaten image finite and leaves an unvoted one at the reference', () => {
    const fit = fitBradleyTerry(compilePairs(4, [row(0, 1, 20), row(0, 2, 20, 'right'), row(1, 2, 5), row(2, 1, 5, 'right')]));
    expect(fit.converged).toBe(true);
    expect(Number.isFinite(fit.logStrength[0]!)).toBe(true);
    expect(fit.logStrength[0]!).toBeGreaterThan(fit.logStrength[1]! + 2);
    expect(fit.logStrength[3]!).toBeCloseTo(0, 7);
    expect(fit.votes[3]).toBe(0);
  });

  it('mirroring every side inverts θ and keeps the strengths', () => {
    const flip = (rows: PairCount[]) => rows.map((r) => ({ ...r, winnerSide: r.winnerSide === 'left' ? ('right' as const) : ('left' as const) }));
    const a = fitBradleyTerry(compilePairs(3, triangle), { tolerance: 1e-12 });
    const b = fitBradleyTerry(compilePairs(3, flip(triangle)), { tolerance: 1e-12 });
    expect(a.theta).toBeGreaterThan(1);
    expect(b.theta).toBeCloseTo(1 / a.theta, 9);
    a.logStrength.forEach((x, i) => expect(b.logStrength[i]).toBeCloseTo(x, 9));
  });

  it('uses replacement counts and a warm start when given', () => {
    const table = compilePairs(3, triangle);
    const full = fitBradleyTerry(table);
    const doubled = fitBradleyTerry(table, {}, table.count.map((c) => 2 * c), full);
    expect(Array.from(doubled.wins)).toEqual([20, 14, 8]);
    expect(doubled.logStrength[0]! - doubled.logStrength[2]!).toBeGreaterThan(full.logStrength[0]! - full.logStrength[2]!);
    expect(fitBradleyTerry(table, {}, table.count, full).iterations).toBeLessThan(full.iterations);
  });

  it('with no votes at all puts every image at the reference and θ at 1', () => {
    const fit = fitBradleyTerry(compilePairs(3, []));
    expect(fit.converged).toBe(true);
    expect(Array.from(fit.logStrength)).toEqual([0, 0, 0]);
    expect(fit.theta).toBe(1);
  });

  it('refuses the plain MLE where it does not exist', () => {
    expect(() => fitBradleyTerry(compilePairs(2, [row(0, 1, 3)]), { priorWeight: 0 })).toThrow(/MLE does not exist/);
  });

  it.each([{ priorWeight: -1 }, { priorWeight: Number.NaN }, { tolerance: 0 }, { maxIterations: 0 }, { maxIterations: 1.5 }, { method: 'bfgs' as 'mm' }])(
    'rejects options %o',
    (options) => expect(() => fitBradleyTerry(compilePairs(3, triangle), options)).toThrow(RangeError),
  );

  it('rejects counts and starts of the wrong size, and bad replacement counts', () => {
    const table = compilePairs(3, triangle);
    expect(() => fitBradleyTerry(table, {}, new Float64Array(2))).toThrow(RangeError);
    expect(() => fitBradleyTerry(table, {}, table.count, { logStrength: new Float64Array(2), theta: 1 })).toThrow(RangeError);
    expect(() => fitBradleyTerry(table, {}, table.count, { logStrength: new Float64Array(3), theta: 0 })).toThrow(RangeError);
    expect(() => fitBradleyTerry(table, {}, table.count, { logStrength: Float64Array.of(0, Number.NaN, 0), theta: 1 })).toThrow(RangeError);
    expect(() => fitBradleyTerry(table, {}, table.count.map((c, i) => (i === 0 ? -1 : c)))).toThrow(RangeError);
  });
});

describe('compilePairs', () => {
  it('orients rows by screen side', () => {
    const table = compilePairs(3, [row(0, 1, 2), row(2, 1, 5, 'right')]);
    expect(Array.from(table.left)).toEqual([0, 1]);
    expect(Array.from(table.right)).toEqual([1, 2]);
    expect(Array.from(table.leftWon)).toEqual([1, 0]);
    expect(Array.from(table.count)).toEqual([2, 5]);
  });

  it.each<[string, number, PairCount[]]>([
    ['winner out of range', 2, [row(2, 0, 1)]],
    ['negative loser', 2, [row(0, -1, 1)]],
    ['fractional id', 2, [row(0.5, 1, 1)]],
    ['self-vote', 2, [row(1, 1, 1)]],
    ['bad side', 2, [{ winner: 0, loser: 1, winnerSide: 'top' as 'left', count: 1 }]],
    ['negative count', 2, [row(0, 1, -1)]],
    ['NaN count', 2, [row(0, 1, Number.NaN)]],
    ['zero items', 0, []],
    ['fractional items', 2.5, []],
  ])('rejects %s', (_name, items, rows) => expect(() => compilePairs(items, rows)).toThrow(RangeError));
});

describe('aggregateVotes', () => {
  it('counts votes per winner, loser and side', () => {
    const rows = aggregateVotes(3, [
      { winner: 0, loser: 1, winnerSide: 'left' },
      { winner: 0, loser: 1, winnerSide: 'left' },
      { winner: 0, loser: 1, winnerSide: 'right' },
      { winner: 1, loser: 0, winnerSide: 'left' },
      { winner: 2, loser: 0, winnerSide: 'left' },
    ]);
    expect(rows).toEqual([row(0, 1, 2), row(0, 1, 1, 'right'), row(1, 0, 1), row(2, 0, 1)]);
  });

  it.each([
    ['self-vote', { winner: 1, loser: 1, winnerSide: 'left' as const }],
    ['unknown image', { winner: 0, loser: 3, winnerSide: 'left' as const }],
    ['bad side', { winner: 0, loser: 1, winnerSide: 'middle' as 'left' }],
  ])('rejects a %s', (_name, vote) => expect(() => aggregateVotes(3, [vote])).toThrow(RangeError));
});
