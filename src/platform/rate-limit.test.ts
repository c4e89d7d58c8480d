import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryRateLimiter, createRedisRateLimiter } from './rate-limit.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('Redis rate limiter (real Redis)', () => {
  let redis: Redis;
  let monitor: Redis;
  const prefix = `easel-test:${randomBytes(4).toString('hex')}:`;

  beforeAll(async () => {
    redis = new Redis(REDIS_URL);
    monitor = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    await Promise.all([redis.quit(), monitor.quit()]);
  });

  it('counts in a fixed window and reports the reset', async () => {
    const limiter = createRedisRateLimiter(redis, prefix);
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await limiter.hit('k1', 3, 60));
    expect(results.map((r) => r.allowed)).toEqual([true, true, true, false]);
    expect(results.map((r) => r.remaining)).toEqual([2, 1, 0, 0]);
    expect(results[3]!.retryAfter).toBeGreaterThan(0);
    expect(results[3]!.retryAfter).toBeLessThanOrEqual(60);
    expect(await redis.pttl(`${prefix}rl:k1`)).toBeGreaterThan(0);
  });

  it('sends EVALSHA, not the script, on every hit, and survives SCRIPT FLUSH', async () => {
    const limiter = createRedisRateLimiter(redis, prefix);
    await limiter.hit('k2', 10, 60); // loads the script if this server lacks it
    const seen: string[] = [];
    const mon = await monitor.monitor();
    mon.on('monitor', (_time: string, args: string[]) => {
      if (String(args[0]).toLowerCase().startsWith('eval')) seen.push(String(args[0]).toLowerCase());
    });
    await limiter.hit('k2', 10, 60);
    await redis.script('FLUSH');
    const afterFlush = await limiter.hit('k2', 10, 60);
    await limiter.hit('k2', 10, 60);
    await new Promise((r) => setTimeout(r, 100));
    mon.disconnect();
    expect(afterFlush).toMatchObject({ allowed: true, remaining: 7 });
    // evalsha; after the flush: evalsha (NOSCRIPT), eval (reload); then evalsha again.
    expect(seen[0]).toBe('evalsha');
    expect(seen.filter((c) => c === 'eval')).toHaveLength(1);
    expect(seen.at(-1)).toBe('evalsha');
  });

  it('shares one definition between limiters on the same client', async () => {
    const a = createRedisRateLimiter(redis, prefix);
    const b = createRedisRateLimiter(redis, prefix);
    await a.hit('k3', 2, 60);
    expect(await b.hit('k3', 2, 60)).toMatchObject({ allowed: true, remaining: 0 });
    expect(await a.hit('k3', 2, 60)).toMatchObject({ allowed: false });
  });
});

describe('memory rate limiter', () => {
  it('resets after the window', async () => {
    let now = 0;
    const limiter = createMemoryRateLimiter(() => now);
    expect((await limiter.hit('k', 1, 1)).allowed).toBe(true);
    expect((await limiter.hit('k', 1, 1)).allowed).toBe(false);
    now = 1001;
    expect((await limiter.hit('k', 1, 1)).allowed).toBe(true);
  });
});

describe('Redis rate limiter while Redis is down', () => {
  it('counts on this node instead of failing or waiting out the reconnects', async () => {
    // Nothing listens on port 1: the client goes to `reconnecting` at once.
    const down = new Redis('redis://127.0.0.1:1', { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 200 });
    down.on('error', () => {}); // the refused connects are the point of this test
    await down.connect().catch(() => {});
    try {
      const limiter = createRedisRateLimiter(down, 'easel-test-down:');
      const started = Date.now();
      const results = [];
      for (let i = 0; i < 3; i++) results.push(await limiter.hit('k', 2, 60));
      expect(results.map((r) => r.allowed)).toEqual([true, true, false]);
      expect(Date.now() - started).toBeLessThan(1000);
    } finally {
      down.disconnect();
    }
  });
});
