/**
 * Single-elimination bracket arithmetic for live events, with no I/O. Matchups are addressed by
 * (round, slot): round 0 holds n/2 matchups, each later round half as many, the last round one (the
 * final). The winner of (r, s) plays in (r + 1, ⌊s/2⌋), on the left when s is even.
 */

export const BRACKET_SIZES = [8, 16, 32, 64] as const;
export type BracketSize = (typeof BRACKET_SIZES)[number];

export interface Slot {
  round: number;
  slot: number;
}

export function isBracketSize(n: number): n is BracketSize {
  return (BRACKET_SIZES as readonly number[]).includes(n);
}

/** Rounds in a bracket of n entrants: log2(n). */
export function roundCount(n: number): number {
  if (!Number.isInteger(n) || n < 2 || (n & (n - 1)) !== 0) throw new RangeError(`bracket size must be a power of two ≥ 2, got ${n}`);
  return Math.log2(n);
}

/** Matchups in round r of an n-entrant bracket. */
export function matchupsInRound(n: number, round: number): number {
  const rounds = roundCount(n);
  if (!Number.isInteger(round) || round < 0 || round >= rounds) throw new RangeError(`round ${round} outside 0..${rounds - 1}`);
  return n >> (round + 1);
}

/**
 * Seed numbers (1 = best) in bracket order, so that seeds 1 and 2 can only meet in the final, 1-4 only
 * in the semi-finals, and so on (the usual tennis/World Cup draw): for 8 it is 1 8 4 5 2 7 3 6.
 */
export function seedOrder(n: number): number[] {
  roundCount(n);
  let order = [1];
  while (order.length < n) {
    const size = order.length * 2;
    order = order.flatMap((s) => [s, size + 1 - s]);
  }
  return order;
}

/**
 * First-round pairs from entrants listed best seed first: [left, right] per slot. Seed 1 plays seed n,
 * and the strongest seeds are spread across the halves of the draw.
 */
export function firstRound<T>(seeded: readonly T[]): [T, T][] {
  const order = seedOrder(seeded.length);
  const pairs: [T, T][] = [];
  for (let i = 0; i < order.length; i += 2) pairs.push([seeded[order[i]! - 1]!, seeded[order[i + 1]! - 1]!]);
  return pairs;
}

/** Where the winner of a matchup plays next, or null after the final. */
export function advance(n: number, at: Slot): (Slot & { side: 'left' | 'right' }) | null {
  const rounds = roundCount(n);
  const slots = matchupsInRound(n, at.round);
  if (!Number.isInteger(at.slot) || at.slot < 0 || at.slot >= slots) throw new RangeError(`slot ${at.slot} outside 0..${slots - 1}`);
  if (at.round === rounds - 1) return null;
  return { round: at.round + 1, slot: at.slot >> 1, side: at.slot % 2 === 0 ? 'left' : 'right' };
}

/** Every (round, slot) in play order: all of round 0 left to right, then round 1, … the final last. */
export function playOrder(n: number): Slot[] {
  const out: Slot[] = [];
  for (let round = 0; round < roundCount(n); round++) {
    for (let slot = 0; slot < matchupsInRound(n, round); slot++) out.push({ round, slot });
  }
  return out;
}

/** Human name of a round: "Final", "Semi-finals", "Quarter-finals", else "Round of N". */
export function roundName(n: number, round: number): string {
  const left = n >> round;
  if (left === 2) return 'Final';
  if (left === 4) return 'Semi-finals';
  if (left === 8) return 'Quarter-finals';
  return `Round of ${left}`;
}

export interface Contest {
  leftId: number;
  rightId: number;
  leftVotes: number;
  rightVotes: number;
  /** Ratings at close (1500 for an unrated image). */
  leftRating: number;
  rightRating: number;
  /** Bracket seeds (1 = best). */
  leftSeed: number;
  rightSeed: number;
}

export type TieBreak = 'votes' | 'rating' | 'seed';

/**
 * The winner of a closed matchup: more votes; on equal votes (including none) the higher rating; on equal
 * ratings the better seed. Always one winner, and the same one on every node.
 */
export function decide(c: Contest): { winnerId: number; loserId: number; by: TieBreak } {
  const pick = (left: boolean, by: TieBreak) => ({ winnerId: left ? c.leftId : c.rightId, loserId: left ? c.rightId : c.leftId, by });
  if (c.leftVotes !== c.rightVotes) return pick(c.leftVotes > c.rightVotes, 'votes');
  if (c.leftRating !== c.rightRating) return pick(c.leftRating > c.rightRating, 'rating');
  return pick(c.leftSeed <= c.rightSeed, 'seed');
}
