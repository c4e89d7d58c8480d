import { describe, expect, it } from 'vitest';
import { logFactorial, normal, poisson, seededRandom } from './random.js';

describe('seededRandom', () => {
  it('repeats a stream for a seed and differs between seeds', () => {
    const a = seededRandom(7);
    const b = seededRandom(7);
    const c = seededRandom(8);
    const sa = Array.from({ length: 5 }, a);
    expect(Array.from({ length: 5 }, b)).toEqual(sa);
    expect(Array.from({ length: 5 }, c)).not.toEqual(sa);
  });

  it('stays in [0, 1) with a uniform mean and variance', () => {
    const rand = seededRandom(1);
    let sum = 0;
    let sq = 0;
    let outside = 0;
    const n = 100_000;
    for (let i = 0; i < n; i++) {
      const x = rand();
      if (!(x >= 0 && x < 1)) outside++;
      sum += x;
      sq += x * x;
    }
    expect(outside).toBe(0);
    expect(sum / n).toBeCloseTo(0.5, 2);
    expect(sq / n - (sum / n) ** 2).toBeCloseTo(1 / 12, 2);
  });

  it.each([Number.NaN, Infinity])('rejects seed %s', (seed) => expect(() => seededRandom(seed)).toThrow(RangeError));
});

describe('normal', () => {
  it('has mean 0 and variance 1', () => {
    const rand = seededRandom(2);
    const xs = Array.from({ length: 50_000 }, () => normal(rand));
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    const variance = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length;
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(Math.abs(variance - 1)).toBeLessThan(0.03);
  });
});

describe('logFactorial', () => {
  it('matches the sum of logs on both sides of the table edge', () => {
    let exact = 0;
    for (let k = 1; k <= 1000; k++) {
      exact += Math.log(k);
      if (k === 5 || k === 255 || k === 256 || k === 1000) expect(logFactorial(k)).toBeCloseTo(exact, 8);
    }
    expect(logFactorial(0)).toBe(0);
  });
});

describe('poisson', () => {
  it.each([0.3, 1, 4, 9.9, 10, 37, 1000, 250_000])('λ = %s has mean and variance λ', (lambda) => {
    const rand = seededRandom(Math.round(lambda * 100));
    const n = 20_000;
    let sum = 0;
    let sq = 0;
    let invalid = 0;
    for (let i = 0; i < n; i++) {
      const k = poisson(rand, lambda);
      if (!Number.isInteger(k) || k < 0) invalid++;
      sum += k;
      sq += k * k;
    }
    const mean = sum / n;
    const variance = sq / n - mean * mean;
    expect(invalid).toBe(0);
    // 5 standard errors of the mean; the variance to 10 % (its relative SE is about √(2/n) ≈ 1 %).
    expect(Math.abs(mean - lambda)).toBeLessThan(5 * Math.sqrt(lambda / n));
    expect(Math.abs(variance / lambda - 1)).toBeLessThan(0.1);
  });

  it('returns 0 for λ = 0', () => expect(poisson(seededRandom(1), 0)).toBe(0));

  it.each([-1, Number.NaN, Infinity])('rejects λ = %s', (lambda) => expect(() => poisson(seededRandom(1), lambda)).toThrow(RangeError));
});
