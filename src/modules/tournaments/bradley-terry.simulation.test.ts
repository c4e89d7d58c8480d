/** The canonical tier against known truth: votes simulated from fixed strengths (seeded), then fitted. */
import { describe, expect, it } from 'vitest';
import { compilePairs, fitBradleyTerry } from './bradley-terry.js';
import { bootstrapBradleyTerry, rateBradleyTerry } from './bradley-terry.bootstrap.js';
import { aggregateVotes } from './bradley-terry.pairs.js';
import { kendallTau, simulateVotes } from './simulate.js';

describe('Bradley–Terry on simulated votes', () => {
  it('recovers the true order (Kendall τ ≥ 0.9) with enough votes, and less well with few', () => {
    const tau = (votes: number) => {
      const sim = simulateVotes({ items: 40, votes, theta: 1.2, spread: 1, seed: 11 });
      const fit = fitBradleyTerry(compilePairs(40, aggregateVotes(40, sim.votes)));
      expect(fit.converged).toBe(true);
      return kendallTau(fit.logStrength, sim.truth);
    };
    const many = tau(16_000);
    expect(many).toBeGreaterThanOrEqual(0.9);
    expect(tau(400)).toBeLessThan(many - 0.1);
  });

  it('95 % intervals cover the true strengths at about the nominal rate', () => {
    let covered = 0;
    let total = 0;
    for (const seed of [21, 22, 23]) {
      const sim = simulateVotes({ items: 40, votes: 4000, theta: 1.3, spread: 1, seed });
      const s = rateBradleyTerry(40, aggregateVotes(40, sim.votes), { replicates: 100, seed, minVotes: 0 });
      s.images.forEach((x, i) => {
        total++;
        if (x.lower <= sim.truth[i]! && sim.truth[i]! <= x.upper) covered++;
      });
    }
    // 120 intervals: at a true 95 % the count's SD is 2.4; 85–99 % leaves room for the prior's slight shrinkage.
    expect(covered / total).toBeGreaterThanOrEqual(0.85);
    expect(covered / total).toBeLessThanOrEqual(0.99);
  });

  it.each([1.5, 0.8, 1])('recovers a position term θ = %s, with an interval around it', (theta) => {
    const sim = simulateVotes({ items: 60, votes: 12_000, theta, spread: 0.8, seed: Math.round(theta * 10) });
    const table = compilePairs(60, aggregateVotes(60, sim.votes));
    const fit = fitBradleyTerry(table);
    expect(Math.abs(fit.theta - theta)).toBeLessThan(0.08 * theta);
    const bs = bootstrapBradleyTerry(table, fit, { replicates: 60, seed: 5 });
    expect(bs.thetaLower).toBeLessThanOrEqual(theta);
    expect(bs.thetaUpper).toBeGreaterThanOrEqual(theta);
  });

  it('ignoring a real position bias costs accuracy that the position term recovers', () => {
    // Keep every vote with an even-numbered image on the left, a third of the rest: even images sit left far more often.
    const sim = simulateVotes({ items: 30, votes: 9000, theta: 2, spread: 0.5, seed: 8 });
    const skewed = sim.votes.filter((v, k) => (v.winnerSide === 'left' ? v.winner : v.loser) % 2 === 0 || k % 3 === 0);
    const table = compilePairs(30, aggregateVotes(30, skewed));
    const error = (fit: { logStrength: Float64Array }) => {
      let sum = 0;
      for (let i = 0; i < 30; i++) sum += (fit.logStrength[i]! - sim.truth[i]!) ** 2;
      return Math.sqrt(sum / 30);
    };
    const withTerm = fitBradleyTerry(table);
    const without = fitBradleyTerry(table, { positionTerm: false });
    expect(without.theta).toBe(1);
    expect(Math.abs(withTerm.theta - 2)).toBeLessThan(0.2);
    expect(error(withTerm)).toBeLessThan(error(without) / 2);
  });
});
