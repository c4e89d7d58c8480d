/**
 * The input of the Bradley–Terry fit: votes aggregated into rows of (winner, loser, side, count), and
 * those rows laid out in columns by screen side for the iterations. Item ids are dense indices
 * 0 … items−1; the caller maps image ids to them.
 */

export type Side = 'left' | 'right';

/** One aggregated row: `count` votes in which `winner` beat `loser` while shown on `winnerSide`. */
export interface PairCount {
  winner: number;
  loser: number;
  winnerSide: Side;
  count: number;
}

/** One vote, before aggregation. */
export interface Vote {
  winner: number;
  loser: number;
  winnerSide: Side;
}

/** The rows in column form, oriented by screen side, ready for the iterations. */
export interface PairTable {
  items: number;
  length: number;
  left: Int32Array;
  right: Int32Array;
  leftWon: Uint8Array;
  count: Float64Array;
}

function checkItem(value: number, items: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value >= items) throw new RangeError(`${what} must be an integer in [0, ${items}), got ${value}`);
}

function checkItems(items: number): void {
  if (!Number.isInteger(items) || items < 1 || items > 2 ** 25) throw new RangeError(`items must be an integer in [1, 2^25], got ${items}`);
}

/**
 * Counts raw votes into rows (a `Map` keyed by winner, loser and side): O(votes) time, O(rows) memory.
 * The database can do the same with `GROUP BY winner_id, loser_id, winner_side`.
 */
export function aggregateVotes(items: number, votes: Iterable<Vote>): PairCount[] {
  checkItems(items);
  const index = new Map<number, number>();
  const rows: PairCount[] = [];
  let i = 0;
  for (const vote of votes) {
    checkItem(vote.winner, items, `votes[${i}].winner`);
    checkItem(vote.loser, items, `votes[${i}].loser`);
    if (vote.winner === vote.loser) throw new RangeError(`votes[${i}]: an image cannot beat itself (${vote.winner})`);
    if (vote.winnerSide !== 'left' && vote.winnerSide !== 'right') throw new RangeError(`votes[${i}].winnerSide must be 'left' or 'right'`);
    const key = (vote.winner * items + vote.loser) * 2 + (vote.winnerSide === 'left' ? 1 : 0);
    const at = index.get(key);
    if (at === undefined) {
      index.set(key, rows.length);
      rows.push({ winner: vote.winner, loser: vote.loser, winnerSide: vote.winnerSide, count: 1 });
    } else {
      rows[at]!.count++;
    }
    i++;
  }
  return rows;
}

/** Validates the rows and lays them out by screen side. O(rows). */
export function compilePairs(items: number, pairs: readonly PairCount[]): PairTable {
  checkItems(items);
  const n = pairs.length;
  const table: PairTable = { items, length: n, left: new Int32Array(n), right: new Int32Array(n), leftWon: new Uint8Array(n), count: new Float64Array(n) };
  for (let r = 0; r < n; r++) {
    const p = pairs[r]!;
    checkItem(p.winner, items, `pairs[${r}].winner`);
    checkItem(p.loser, items, `pairs[${r}].loser`);
    if (p.winner === p.loser) throw new RangeError(`pairs[${r}]: an image cannot beat itself (${p.winner})`);
    if (p.winnerSide !== 'left' && p.winnerSide !== 'right') throw new RangeError(`pairs[${r}].winnerSide must be 'left' or 'right'`);
    if (!(p.count >= 0) || !Number.isFinite(p.count)) throw new RangeError(`pairs[${r}].count must be finite and ≥ 0, got ${p.count}`);
    const leftWon = p.winnerSide === 'left';
    table.left[r] = leftWon ? p.winner : p.loser;
    table.right[r] = leftWon ? p.loser : p.winner;
    table.leftWon[r] = leftWon ? 1 : 0;
    table.count[r] = p.count;
  }
  return table;
}
