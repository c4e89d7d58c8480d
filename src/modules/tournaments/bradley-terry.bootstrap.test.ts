import { describe, expect, it } from 'vitest';
import { compilePairs, fitBradleyTerry, type PairCount } from './bradley-terry.js';
import { bootstrapBradleyTerry, rateBradleyTerry, tiedRanks } from './bradley-terry.bootstrap.js';
import { aggregateVotes } from './bradley-terry.pairs.js';
import { simulateVotes } from './simulate.js';

const row = (winner: number, loser: number, count: number, winnerSide: 'left' | 'right' = 'left'): PairCount => ({ winner, loser, winnerSide, count });

describe('tiedRanks', () => {
  it('ties overlapping intervals and counts only the clearly better', () => {
    expect(Array.from(tiedRanks([2, 1.5, 0], [3, 2.5, 1]))).toEqual([1, 1, 3]);
    expect(Array.from(tiedRanks([0, 2, 4], [1, 3, 5]))).toEqual([3, 2, 1]);
    expect(Array.from(tiedRanks([0, 0.5, 1], [2, 2.5, 3]))).toEqual([1, 1, 1]);
    // 1 overlaps both 0 and 2, which do not overlap each other: 2 is clearly above 0 only.
    expect(Array.from(tiedRanks([0, 0.8, 1.5], [1, 1.6, 2]))).toEqual([2, 1, 1]);
  });

  it('treats touching bounds as overlapping', () => expect(Array.from(tiedRanks([0, 1], [1, 2]))).toEqual([1, 1]));

  it('leaves unranked items out of the table and out of the counts', () => {
    expect(Array.from(tiedRanks([0, 5, 2], [1, 6, 3], [true, false, true]))).toEqual([2, 0, 1]);
  });

  it('rejects mismatched lengths and inverted or NaN intervals', () => {
    expect(() => tiedRanks([0], [1, 2])).toThrow(RangeError);
    expect(() => tiedRanks([0, 1], [1, 2], [true])).toThrow(RangeError);
    expect(() => tiedRanks([2], [1])).toThrow(RangeError);
    expect(() => tiedRanks([Number.NaN], [1])).toThrow(RangeError);
  });
});

describe('bootstrapBradleyTerry', () => {
  const sim = simulateVotes({ items: 12, votes: 1500, theta: 1.2, spread: 1, seed: 3 });
  const table = compilePairs(12, aggregateVotes(12, sim.votes));
  const fit = fitBradleyTerry(table);

  it('is reproducible for a seed and differs between seeds', () => {
    const a = bootstrapBradleyTerry(table, fit, { replicates: 30, seed: 9 });
    const b = bootstrapBradleyTerry(table, fit, { replicates: 30, seed: 9 });
    const c = bootstrapBradleyTerry(table, fit, { replicates: 30, seed: 10 });
    expect(Array.from(b.lower)).toEqual(Array.from(a.lower));
    expect(Array.from(b.upper)).toEqual(Array.from(a.upper));
    expect(Array.from(c.lower)).not.toEqual(Array.from(a.lower));
    expect(a.unconverged).toBe(0);
  });

  it('brackets the point estimates, and narrows with a lower level', () => {
    const wide = bootstrapBradleyTerry(table, fit, { replicates: 60, seed: 1 });
    const narrow = bootstrapBradleyTerry(table, fit, { replicates: 60, seed: 1, level: 0.5 });
    fit.logStrength.forEach((b, i) => {
      expect(wide.lower[i]).toBeLessThan(b);
      expect(wide.upper[i]).toBeGreaterThan(b);
      expect(narrow.upper[i]! - narrow.lower[i]!).toBeLessThan(wide.upper[i]! - wide.lower[i]!);
    });
    expect(wide.thetaLower).toBeLessThan(fit.theta);
    expect(wide.thetaUpper).toBeGreaterThan(fit.theta);
  });

  it('shrinks intervals about as 1/√votes', () => {
    const width = (votes: number) => {
      const s = simulateVotes({ items: 10, votes, theta: 1, spread: 0.5, seed: 4 });
      const t = compilePairs(10, aggregateVotes(10, s.votes));
      const bs = bootstrapBradleyTerry(t, fitBradleyTerry(t), { replicates: 80, seed: 2 });
      let sum = 0;
      for (let i = 0; i < 10; i++) sum += bs.upper[i]! - bs.lower[i]!;
      return sum / 10;
    };
    const ratio = width(800) / width(3200);
    expect(ratio).toBeGreaterThan(1.6);
    expect(ratio).toBeLessThan(2.5);
  });

  it.each([{ replicates: 1 }, { replicates: 2.5 }, { level: 1 }, { level: 0 }, { level: Number.NaN }])('rejects %o', (options) =>
    expect(() => bootstrapBradleyTerry(table, fit, options)).toThrow(RangeError),
  );
});

describe('rateBradleyTerry', () => {
  // Image 3 has 4 votes: preliminary at minVotes 10. 0 ≫ 1 ≫ 2 by wide margins.
  const rows = [row(0, 1, 40), row(1, 0, 4, 'right'), row(1, 2, 40, 'right'), row(2, 1, 4), row(0, 2, 30), row(3, 0, 2), row(2, 3, 2, 'right')];

  it('labels images under minVotes preliminary and ranks the rest', () => {
    const s = rateBradleyTerry(4, rows, { minVotes: 10, replicates: 50, seed: 1 });
    expect(s.images.map((x) => x.preliminary)).toEqual([false, false, false, true]);
    expect(s.images.map((x) => x.rank)).toEqual([1, 2, 3, null]);
    expect(s.images[3]!.votes).toBe(4);
    expect(s.images[0]!.wins).toBe(70);
    expect(s.images[0]!.rating).toBeCloseTo(1500 + 173.7178 * s.images[0]!.logStrength, 9);
    expect(s.converged).toBe(true);
    expect(s.thetaLower).toBeLessThan(s.theta);
  });

  it('ties images whose intervals overlap', () => {
    const close = [row(0, 1, 11), row(1, 0, 9, 'right'), row(1, 2, 12), row(2, 1, 8, 'right'), row(0, 2, 12), row(2, 0, 8, 'right')];
    const s = rateBradleyTerry(3, close, { minVotes: 10, replicates: 50, seed: 1 });
    expect(s.images.map((x) => x.rank)).toEqual([1, 1, 1]);
    expect(s.images[0]!.logStrength).toBeGreaterThan(s.images[2]!.logStrength);
  });

  it('with minVotes 0 ranks everything', () => {
    expect(rateBradleyTerry(4, rows, { minVotes: 0, replicates: 20 }).images.every((x) => x.rank !== null)).toBe(true);
  });

  it.each([-1, Number.NaN])('rejects minVotes %s', (minVotes) => expect(() => rateBradleyTerry(4, rows, { minVotes })).toThrow(RangeError));
});
