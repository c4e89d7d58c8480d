import { describe, expect, it } from 'vitest';
import { computeFit, computeFitInWorker, type FitInput } from './tournaments.fit-compute.js';

/** Image 0 beats 1 beats 2 mostly, with sides mixed; 2 has too few votes to be ranked at minVotes 10. */
function table(): FitInput {
  const rows: [number, number, boolean, number][] = [
    [0, 1, true, 9],
    [1, 0, false, 2],
    [0, 1, false, 8],
    [1, 2, true, 3],
    [2, 1, true, 1],
    [0, 2, true, 2],
  ];
  return {
    items: 3,
    winner: Int32Array.from(rows.map((r) => r[0])),
    loser: Int32Array.from(rows.map((r) => r[1])),
    winnerLeft: Uint8Array.from(rows.map((r) => (r[2] ? 1 : 0))),
    count: Float64Array.from(rows.map((r) => r[3])),
    minVotes: 10,
    replicates: 30,
    priorWeight: 1,
    seed: 7,
  };
}

describe('Bradley-Terry fit off the event loop', () => {
  it('orders the images, labels the thinly voted one preliminary and brackets every β', () => {
    const out = computeFit(table());
    expect(out.beta[0]).toBeGreaterThan(out.beta[1]!);
    expect(Array.from(out.preliminary)).toEqual([0, 0, 1]);
    expect(out.rank[2]).toBe(0);
    for (let i = 0; i < 3; i++) {
      expect(out.lower[i]).toBeLessThanOrEqual(out.beta[i]!);
      expect(out.upper[i]).toBeGreaterThanOrEqual(out.beta[i]!);
    }
    expect(out.converged).toBe(true);
  });

  it('a worker thread gives exactly the same answer (same seed)', async () => {
    const inline = computeFit(table());
    const threaded = await computeFitInWorker(table());
    expect(threaded).toEqual(inline);
  });

  it('a failing fit in the thread rejects with its error instead of hanging', async () => {
    await expect(computeFitInWorker({ ...table(), items: 0 })).rejects.toThrow(/items must be an integer/);
  });
});
