import { describe, expect, it } from 'vitest';
import { GLICKO2_INITIAL, inflateRd, ratePeriod, rateVote, type Glicko2Game, type Glicko2Rating } from './glicko2.js';

const paperPlayer: Glicko2Rating = { rating: 1500, rd: 200, volatility: 0.06 };
const paperGames: Glicko2Game[] = [
  { opponent: { rating: 1400, rd: 30 }, score: 1 },
  { opponent: { rating: 1550, rd: 100 }, score: 0 },
  { opponent: { rating: 1700, rd: 300 }, score: 0 },
];

describe('ratePeriod', () => {
  it("reproduces Glickman's worked example (τ = 0.5) to the paper's rounding", () => {
    const next = ratePeriod(paperPlayer, paperGames, { tau: 0.5 });
    // The paper rounds μ' = −0.2069 and φ' = 0.8722 to four places before converting back, so exact
    // arithmetic lands at 1464.0507: half a unit of that fourth place is 0.00005 × 173.7178 ≈ 0.0087.
    expect(Math.abs((next.rating - 1500) / 173.7178 - -0.2069)).toBeLessThanOrEqual(0.00005);
    expect(Math.abs(next.rd / 173.7178 - 0.8722)).toBeLessThanOrEqual(0.00005);
    expect(Math.abs(next.rating - 1464.06)).toBeLessThan(0.01);
    expect(Math.abs(next.rd - 151.52)).toBeLessThan(0.01);
    // σ' = 0.0599960 exactly; the paper prints it cut to 0.05999, so one unit of that place.
    expect(Math.abs(next.volatility - 0.05999)).toBeLessThan(0.00001);
  });

  it('does not depend on the order of the games in a period', () => {
    const a = ratePeriod(paperPlayer, paperGames);
    const b = ratePeriod(paperPlayer, [...paperGames].reverse());
    expect(b.rating).toBeCloseTo(a.rating, 9);
    expect(b.rd).toBeCloseTo(a.rd, 9);
  });

  it('moves further on a surprising result than on an expected one', () => {
    const upset = ratePeriod(GLICKO2_INITIAL, [{ opponent: { rating: 1900, rd: 50 }, score: 1 }]);
    const expected = ratePeriod(GLICKO2_INITIAL, [{ opponent: { rating: 1100, rd: 50 }, score: 1 }]);
    expect(upset.rating - 1500).toBeGreaterThan(3 * (expected.rating - 1500));
    expect(expected.rating).toBeGreaterThan(1500);
  });

  it('treats a draw between equals as no news for the rating', () => {
    const next = ratePeriod(GLICKO2_INITIAL, [{ opponent: GLICKO2_INITIAL, score: 0.5 }]);
    expect(next.rating).toBeCloseTo(1500, 9);
    expect(next.rd).toBeLessThan(350);
  });

  it('with no games only inflates RD for one idle period', () => {
    const next = ratePeriod(paperPlayer, []);
    expect(next.rating).toBe(1500);
    expect(next.volatility).toBe(0.06);
    expect(next.rd).toBeCloseTo(Math.sqrt((200 / 173.7178) ** 2 + 0.06 ** 2) * 173.7178, 9);
  });

  it.each<[string, Glicko2Rating, Glicko2Game[]]>([
    ['NaN rating', { ...paperPlayer, rating: Number.NaN }, paperGames],
    ['zero rd', { ...paperPlayer, rd: 0 }, paperGames],
    ['negative volatility', { ...paperPlayer, volatility: -0.1 }, paperGames],
    ['infinite opponent rd', paperPlayer, [{ opponent: { rating: 1500, rd: Infinity }, score: 1 }]],
    ['score above 1', paperPlayer, [{ opponent: { rating: 1500, rd: 50 }, score: 2 }]],
    ['NaN score', paperPlayer, [{ opponent: { rating: 1500, rd: 50 }, score: Number.NaN }]],
  ])('rejects %s', (_name, player, games) => expect(() => ratePeriod(player, games)).toThrow(RangeError));

  it.each([{ tau: 0 }, { tau: Number.NaN }, { epsilon: 0 }, { maxRd: -1 }])('rejects options %o', (options) =>
    expect(() => ratePeriod(paperPlayer, paperGames, options)).toThrow(RangeError),
  );
});

describe('rateVote', () => {
  it('updates both images from the ratings before the vote', () => {
    const winner: Glicko2Rating = { rating: 1600, rd: 120, volatility: 0.06 };
    const loser: Glicko2Rating = { rating: 1450, rd: 250, volatility: 0.07 };
    const next = rateVote(winner, loser);
    expect(next.winner).toEqual(ratePeriod(winner, [{ opponent: loser, score: 1 }]));
    expect(next.loser).toEqual(ratePeriod(loser, [{ opponent: winner, score: 0 }]));
    expect(next.winner.rating).toBeGreaterThan(1600);
    expect(next.loser.rating).toBeLessThan(1450);
    // The less known image moves more and loses more RD.
    expect(1450 - next.loser.rating).toBeGreaterThan(next.winner.rating - 1600);
    expect(loser.rd - next.loser.rd).toBeGreaterThan(winner.rd - next.winner.rd);
  });

  it('is symmetric between two unrated images', () => {
    const { winner, loser } = rateVote(GLICKO2_INITIAL, GLICKO2_INITIAL);
    expect(winner.rating - 1500).toBeCloseTo(1500 - loser.rating, 9);
    expect(winner.rd).toBeCloseTo(loser.rd, 9);
    expect(winner.rating).toBeGreaterThan(1600);
    expect(winner.rd).toBeLessThan(350);
  });

  it('settles a consistently better image above a worse one within a few dozen votes', () => {
    let a: Glicko2Rating = GLICKO2_INITIAL;
    let b: Glicko2Rating = GLICKO2_INITIAL;
    for (let i = 0; i < 30; i++) {
      // a wins 3 of every 4 votes.
      const next = i % 4 === 3 ? rateVote(b, a) : rateVote(a, b);
      if (i % 4 === 3) [b, a] = [next.winner, next.loser];
      else [a, b] = [next.winner, next.loser];
    }
    expect(a.rating).toBeGreaterThan(b.rating + 100);
    expect(a.rd).toBeLessThan(150);
  });
});

describe('inflateRd', () => {
  it('grows RD by √(φ² + tσ²) and keeps rating and volatility', () => {
    const next = inflateRd(paperPlayer, 4);
    expect(next.rd).toBeCloseTo(Math.sqrt((200 / 173.7178) ** 2 + 4 * 0.06 ** 2) * 173.7178, 9);
    expect(next.rating).toBe(1500);
    expect(next.volatility).toBe(0.06);
  });

  it('is the identity for 0 periods and accepts fractions', () => {
    expect(inflateRd(paperPlayer, 0).rd).toBeCloseTo(200, 9);
    const half = inflateRd(paperPlayer, 0.5).rd;
    expect(half).toBeGreaterThan(200);
    expect(half).toBeLessThan(inflateRd(paperPlayer, 1).rd);
  });

  it('never grows past the unrated RD', () => {
    expect(inflateRd(paperPlayer, 1e6).rd).toBe(350);
    expect(inflateRd(paperPlayer, 1e6, { maxRd: 300 }).rd).toBe(300);
  });

  it.each([-1, Number.NaN, Infinity])('rejects %s periods', (periods) => expect(() => inflateRd(paperPlayer, periods)).toThrow(RangeError));
});
