import { describe, expect, it } from 'vitest';
import { createUserCache, type AuthState } from './user-cache.js';

function harness(ttlMs = 1000, maxEntries = 3) {
  let t = 0;
  const rows = new Map<number, AuthState>([
    [1, { role: 'user', tokenVersion: 0 }],
    [2, { role: 'admin', tokenVersion: 0 }],
  ]);
  const calls: number[] = [];
  let gate: Promise<void> = Promise.resolve();
  const cache = createUserCache({
    ttlMs,
    maxEntries,
    now: () => t,
    load: async (id) => {
      calls.push(id);
      const snapshot = rows.get(id) ?? null;
      await gate;
      return snapshot && { ...snapshot };
    },
  });
  return { cache, rows, calls, advance: (ms: number) => (t += ms), block: (p: Promise<void>) => (gate = p) };
}

describe('user cache', () => {
  it('loads once per TTL, caches deleted users as null, and reloads after expiry', async () => {
    const h = harness();
    expect(await h.cache.get(1)).toEqual({ role: 'user', tokenVersion: 0 });
    expect(await h.cache.get(1)).toEqual({ role: 'user', tokenVersion: 0 });
    expect(await h.cache.get(99)).toBeNull();
    expect(await h.cache.get(99)).toBeNull();
    expect(h.calls).toEqual([1, 99]);
    h.rows.set(1, { role: 'admin', tokenVersion: 0 });
    h.advance(1001);
    expect(await h.cache.get(1)).toEqual({ role: 'admin', tokenVersion: 0 });
    expect(h.calls).toEqual([1, 99, 1]);
  });

  it('shares one load between concurrent misses', async () => {
    const h = harness();
    const results = await Promise.all([h.cache.get(1), h.cache.get(1), h.cache.get(1)]);
    expect(results).toHaveLength(3);
    expect(h.calls).toEqual([1]);
  });

  it('evicts the least recently used entry beyond maxEntries', async () => {
    const h = harness(1000, 2);
    await h.cache.get(1);
    await h.cache.get(2);
    await h.cache.get(1); // 1 is now the most recent
    await h.cache.get(3); // evicts 2
    expect(h.cache.stats().size).toBe(2);
    await h.cache.get(1);
    await h.cache.get(2);
    expect(h.calls).toEqual([1, 2, 3, 2]);
  });

  it('invalidate forces a reload, and discards a load that was in flight when it came', async () => {
    const h = harness();
    await h.cache.get(1);
    h.rows.set(1, { role: 'user', tokenVersion: 1 });
    h.cache.invalidate(1);
    expect(await h.cache.get(1)).toEqual({ role: 'user', tokenVersion: 1 });

    let release!: () => void;
    h.block(new Promise<void>((r) => (release = r)));
    const stale = h.cache.get(2); // reads the row before the change
    h.rows.set(2, { role: 'user', tokenVersion: 0 });
    h.cache.invalidate(2);
    release();
    expect(await stale).toEqual({ role: 'admin', tokenVersion: 0 });
    expect(await h.cache.get(2)).toEqual({ role: 'user', tokenVersion: 0 });
  });

  it('with ttl 0 loads every time', async () => {
    const h = harness(0);
    await h.cache.get(1);
    await h.cache.get(1);
    expect(h.calls).toEqual([1, 1]);
  });
});
