import { describe, expect, it } from 'vitest';
import { advance, decide, firstRound, isBracketSize, matchupsInRound, playOrder, roundCount, roundName, seedOrder, type Contest } from './bracket.js';

describe('bracket', () => {
  it('knows the sizes an event may have', () => {
    expect([8, 16, 32, 64].every(isBracketSize)).toBe(true);
    expect([0, 2, 4, 12, 128].some(isBracketSize)).toBe(false);
  });

  it('counts rounds and matchups', () => {
    expect(roundCount(8)).toBe(3);
    expect(roundCount(64)).toBe(6);
    expect([0, 1, 2, 3].map((r) => matchupsInRound(16, r))).toEqual([8, 4, 2, 1]);
    expect(playOrder(16)).toHaveLength(15);
    expect(playOrder(8).slice(-2)).toEqual([{ round: 1, slot: 1 }, { round: 2, slot: 0 }]);
    expect(() => roundCount(12)).toThrow(RangeError);
    expect(() => matchupsInRound(8, 3)).toThrow(RangeError);
  });

  it('draws seeds so the best meet last', () => {
    expect(seedOrder(8)).toEqual([1, 8, 4, 5, 2, 7, 3, 6]);
    expect(seedOrder(16)).toEqual([1, 16, 8, 9, 4, 13, 5, 12, 2, 15, 7, 10, 3, 14, 6, 11]);
    const order = seedOrder(64);
    expect(new Set(order).size).toBe(64);
    // Seeds 1 and 2 sit in different halves; 1-4 in different quarters.
    expect(order.indexOf(1) < 32).toBe(true);
    expect(order.indexOf(2) >= 32).toBe(true);
    expect(new Set([1, 2, 3, 4].map((s) => Math.floor(order.indexOf(s) / 16))).size).toBe(4);
    // Every first-round pair sums to n + 1.
    for (let i = 0; i < 64; i += 2) expect(order[i]! + order[i + 1]!).toBe(65);
  });

  it('pairs entrants listed best first', () => {
    expect(firstRound(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'])).toEqual([
      ['a', 'h'],
      ['d', 'e'],
      ['b', 'g'],
      ['c', 'f'],
    ]);
  });

  it('advances winners into the next round, left from even slots', () => {
    expect(advance(8, { round: 0, slot: 0 })).toEqual({ round: 1, slot: 0, side: 'left' });
    expect(advance(8, { round: 0, slot: 3 })).toEqual({ round: 1, slot: 1, side: 'right' });
    expect(advance(8, { round: 1, slot: 1 })).toEqual({ round: 2, slot: 0, side: 'right' });
    expect(advance(8, { round: 2, slot: 0 })).toBeNull();
    expect(() => advance(8, { round: 0, slot: 4 })).toThrow(RangeError);
  });

  it('names rounds', () => {
    expect([0, 1, 2, 3, 4, 5].map((r) => roundName(64, r))).toEqual(['Round of 64', 'Round of 32', 'Round of 16', 'Quarter-finals', 'Semi-finals', 'Final']);
  });

  describe('decide', () => {
    const base: Contest = { leftId: 1, rightId: 2, leftVotes: 0, rightVotes: 0, leftRating: 1500, rightRating: 1500, leftSeed: 3, rightSeed: 6 };
    it('gives it to the most votes, whatever the ratings', () => {
      expect(decide({ ...base, leftVotes: 4, rightVotes: 5, leftRating: 2000 })).toEqual({ winnerId: 2, loserId: 1, by: 'votes' });
      expect(decide({ ...base, leftVotes: 1 })).toEqual({ winnerId: 1, loserId: 2, by: 'votes' });
    });
    it('breaks a tie by rating, then by seed', () => {
      expect(decide({ ...base, leftVotes: 2, rightVotes: 2, rightRating: 1500.5 })).toEqual({ winnerId: 2, loserId: 1, by: 'rating' });
      expect(decide({ ...base, leftRating: 1600 })).toEqual({ winnerId: 1, loserId: 2, by: 'rating' });
      expect(decide({ ...base, leftSeed: 7, rightSeed: 2 })).toEqual({ winnerId: 2, loserId: 1, by: 'seed' });
      expect(decide(base)).toEqual({ winnerId: 1, loserId: 2, by: 'seed' });
    });
  });
});
