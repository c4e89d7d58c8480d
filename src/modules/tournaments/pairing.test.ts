import { describe, expect, it } from 'vitest';
import { pickPair, type PairingCandidate } from './pairing.js';
import { seededRandom } from './random.js';

const image = (id: string, ownerId: string, rating = 1500, rd = 100): PairingCandidate => ({ id, ownerId, rating, rd });

function tally(candidates: PairingCandidate[], viewer: string | null, draws: number, options: Parameters<typeof pickPair>[2]) {
  const pairs = new Map<string, number>();
  const appearances = new Map<string, number>();
  const onLeft = new Map<string, number>();
  for (let k = 0; k < draws; k++) {
    const m = pickPair(candidates, viewer, options);
    if (!m) throw new Error('expected a matchup');
    const key = [m.left.id, m.right.id].sort().join('-');
    pairs.set(key, (pairs.get(key) ?? 0) + 1);
    for (const c of [m.left, m.right]) appearances.set(c.id, (appearances.get(c.id) ?? 0) + 1);
    onLeft.set(m.left.id, (onLeft.get(m.left.id) ?? 0) + 1);
  }
  return { pairs, appearances, onLeft };
}

describe('pickPair', () => {
  const crowd = [image('a1', 'alice'), image('a2', 'alice'), image('b1', 'bob'), image('b2', 'bob'), image('c1', 'carol'), image('v1', 'viewer'), image('v2', 'viewer')];

  it("never pairs two images of one owner and never shows the viewer's own", () => {
    const random = seededRandom(1);
    for (let k = 0; k < 2000; k++) {
      const m = pickPair(crowd, 'viewer', { random })!;
      expect(m.left.ownerId).not.toBe(m.right.ownerId);
      expect([m.left.ownerId, m.right.ownerId]).not.toContain('viewer');
    }
  });

  it('randomises left and right', () => {
    const { appearances, onLeft } = tally([image('x', 'o1'), image('y', 'o2')], null, 4000, { random: seededRandom(2) });
    expect(appearances.get('x')).toBe(4000);
    expect(Math.abs(onLeft.get('x')! / 4000 - 0.5)).toBeLessThan(0.03); // SD 0.008
  });

  it('follows the stated weights for uncertain images', () => {
    // P(a in the pair) = 300/390 + (90/390)·330/450 ≈ 0.938, all ratings equal.
    const { appearances } = tally([image('a', '1', 1500, 300), image('b', '2', 1500, 30), image('c', '3', 1500, 30), image('d', '4', 1500, 30)], null, 5000, {
      random: seededRandom(3),
    });
    expect(Math.abs(appearances.get('a')! / 5000 - (300 / 390 + (90 / 390) * (330 / 450)))).toBeLessThan(0.02); // SD 0.0034
  });

  it('prefers close ratings', () => {
    const { pairs } = tally([image('a', '1', 1500), image('b', '2', 1520), image('c', '3', 1900)], null, 3000, { random: seededRandom(4) });
    // Each image comes first a third of the time (equal RDs), then meets the closer one far more often:
    // P(a-b) = (P(b | a first) + P(a | b first)) / 3, with P(b | a) = e^−0.01 / (e^−0.01 + e^−4).
    const closeness = (d: number) => Math.exp(-((d / 200) ** 2));
    const expected = (closeness(20) / (closeness(20) + closeness(400)) + closeness(20) / (closeness(20) + closeness(380))) / 3;
    expect(Math.abs(pairs.get('a-b')! / 3000 - expected)).toBeLessThan(0.03); // SD 0.009
    // c, far from both, still gets shown (a third of the first picks), against the nearer b more often.
    expect(pairs.get('b-c')!).toBeGreaterThan(pairs.get('a-c')!);
    // A wide closeness scale makes every pair about as likely.
    const wide = tally([image('a', '1', 1500), image('b', '2', 1520), image('c', '3', 1900)], null, 3000, { random: seededRandom(4), closeness: 1e6 });
    for (const count of wide.pairs.values()) expect(Math.abs(count / 3000 - 1 / 3)).toBeLessThan(0.04);
  });

  it('still pairs images whose ratings are too far apart for exp() to represent', () => {
    const m = pickPair([image('a', '1', 0), image('b', '2', 100_000)], null, { random: seededRandom(5) });
    expect(m && [m.left.id, m.right.id].sort()).toEqual(['a', 'b']);
  });

  it('skips excluded pairs and sets aside images that can meet nobody', () => {
    const voted = new Set(['a|b']);
    const exclude = (x: string, y: string) => voted.has([x, y].sort().join('|'));
    const { pairs } = tally([image('a', '1'), image('b', '2'), image('c', '3')], null, 1000, { random: seededRandom(6), exclude });
    expect(pairs.has('a-b')).toBe(false);
    expect(pairs.get('a-c')! + pairs.get('b-c')!).toBe(1000);
  });

  it('returns null when no valid pair exists', () => {
    const random = seededRandom(7);
    expect(pickPair([], null, { random })).toBeNull();
    expect(pickPair([image('a', '1')], null, { random })).toBeNull();
    expect(pickPair([image('a', '1'), image('b', '1'), image('c', '1')], null, { random })).toBeNull();
    expect(pickPair([image('a', '1'), image('b', '2')], '2', { random })).toBeNull();
    expect(pickPair([image('a', '1'), image('b', '2')], null, { random, exclude: () => true })).toBeNull();
  });

  it('is reproducible for a seed', () => {
    const ids = (seed: number) => Array.from({ length: 20 }, ((random) => () => {
      const m = pickPair(crowd, 'viewer', { random })!;
      return `${m.left.id}/${m.right.id}`;
    })(seededRandom(seed)));
    expect(ids(8)).toEqual(ids(8));
    expect(ids(8)).not.toEqual(ids(9));
  });

  it.each<[string, PairingCandidate[], number | undefined]>([
    ['zero rd', [image('a', '1', 1500, 0), image('b', '2')], undefined],
    ['NaN rating', [image('a', '1', Number.NaN), image('b', '2')], undefined],
    ['infinite rd', [image('a', '1', 1500, Infinity), image('b', '2')], undefined],
    ['duplicate ids', [image('a', '1'), image('a', '2')], undefined],
    ['zero closeness', [image('a', '1'), image('b', '2')], 0],
    ['negative closeness', [image('a', '1'), image('b', '2')], -5],
  ])('rejects %s', (_name, candidates, closeness) =>
    expect(() => pickPair(candidates, null, { random: seededRandom(1), ...(closeness === undefined ? {} : { closeness }) })).toThrow(RangeError),
  );
});
