import { describe, expect, it } from 'vitest';
import { createDecodeBudget, estimateDecodeBytes } from './decode-budget.js';

/** A task the test finishes by hand, so every interleaving is explicit. */
function gate() {
  let open!: () => void;
  const done = new Promise<void>((r) => (open = r));
  return { open, done };
}
const tick = () => new Promise((r) => setImmediate(r));

describe('decode budget', () => {
  it('runs tasks together while their bytes fit, and queues the rest', async () => {
    const budget = createDecodeBudget(100);
    const started: string[] = [];
    const gates = { a: gate(), b: gate(), c: gate() };
    const run = (name: keyof typeof gates, bytes: number) => budget.run(bytes, async () => {
      started.push(name);
      await gates[name].done;
    });
    const all = [run('a', 40), run('b', 50), run('c', 30)];
    await tick();
    expect(started).toEqual(['a', 'b']);
    expect(budget.stats()).toMatchObject({ inUse: 90, active: 2, waiting: 1 });
    gates.a.open();
    await tick();
    expect(started).toEqual(['a', 'b', 'c']);
    expect(budget.stats()).toMatchObject({ inUse: 80, active: 2, waiting: 0 });
    gates.b.open();
    gates.c.open();
    await Promise.all(all);
    expect(budget.stats()).toMatchObject({ inUse: 0, active: 0, peakBytes: 90, peakActive: 2 });
  });

  it('is bounded by bytes, not by a count: many small decodes at once, one large alone', async () => {
    const budget = createDecodeBudget(1000);
    const hold = gate();
    const small = Array.from({ length: 10 }, () => budget.run(100, () => hold.done));
    await tick();
    expect(budget.stats()).toMatchObject({ active: 10, inUse: 1000 });
    hold.open();
    await Promise.all(small);
    const big = gate();
    const large = budget.run(900, () => big.done);
    const next = budget.run(200, async () => undefined);
    await tick();
    expect(budget.stats()).toMatchObject({ active: 1, waiting: 1 });
    big.open();
    await Promise.all([large, next]);
  });

  it('serves waiters in order: a small task does not overtake a waiting large one', async () => {
    const budget = createDecodeBudget(100);
    const order: string[] = [];
    const first = gate();
    const a = budget.run(60, async () => {
      order.push('a');
      await first.done;
    });
    const b = budget.run(80, async () => void order.push('b'));
    const c = budget.run(10, async () => void order.push('c')); // would fit now, but b was first
    await tick();
    expect(order).toEqual(['a']);
    first.open();
    await Promise.all([a, b, c]);
    expect(order).toEqual(['a', 'b', 'c']);
  });

  it('runs a reservation larger than the budget alone instead of deadlocking', async () => {
    const budget = createDecodeBudget(100);
    expect(budget.fits(500)).toBe(false);
    expect(budget.fits(100)).toBe(true);
    const hold = gate();
    const huge = budget.run(500, () => hold.done);
    const other = budget.run(1, async () => 'ran');
    await tick();
    expect(budget.stats()).toMatchObject({ inUse: 100, active: 1, waiting: 1 });
    hold.open();
    await expect(other).resolves.toBe('ran');
    await huge;
  });

  it('releases the reservation when a task throws', async () => {
    const budget = createDecodeBudget(100);
    await expect(budget.run(100, async () => Promise.reject(new Error('decode failed')))).rejects.toThrow('decode failed');
    expect(budget.stats()).toMatchObject({ inUse: 0, active: 0 });
    await expect(budget.run(100, async () => 'next')).resolves.toBe('next');
  });

  it('refuses a nonsensical capacity and prices a 40 MP image under the 256 MiB default', () => {
    expect(() => createDecodeBudget(0)).toThrow(RangeError);
    expect(() => createDecodeBudget(1.5)).toThrow(RangeError);
    expect(estimateDecodeBytes(8000, 5000)).toBeLessThanOrEqual(256 * 1024 * 1024);
  });
});
