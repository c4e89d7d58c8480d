import type { Redis } from 'ioredis';

export interface RateLimitResult {
  allowed: boolean;
  remaining: number;
  /** Seconds until the window resets. */
  retryAfter: number;
}

/** Fixed-window counters. The Redis implementation makes a limit hold across hub nodes. */
export interface RateLimiter {
  hit(key: string, limit: number, windowSeconds: number): Promise<RateLimitResult>;
}

function result(count: number, limit: number, ttlMs: number): RateLimitResult {
  return {
    allowed: count <= limit,
    remaining: Math.max(0, limit - count),
    retryAfter: Math.max(1, Math.ceil(ttlMs / 1000)),
  };
}

// INCR and PEXPIRE in one script so a crash between them cannot leave a counter without expiry.
const HIT_SCRIPT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return { n, redis.call('PTTL', KEYS[1]) }`;

const COMMAND = 'easelRateLimitHit';
type HitCommand = (key: string, windowMs: number) => Promise<[number, number]>;

/**
 * The script is registered with `defineCommand`, so each hit sends only its SHA (EVALSHA); ioredis
 * falls back to EVAL by itself when the server has lost the script (restart, failover, SCRIPT FLUSH).
 */
export function createRedisRateLimiter(redis: Redis, prefix: string, fallback: RateLimiter = createMemoryRateLimiter()): RateLimiter {
  const client = redis as Redis & { [COMMAND]?: HitCommand };
  if (!client[COMMAND]) redis.defineCommand(COMMAND, { numberOfKeys: 1, lua: HIT_SCRIPT });
  const run = client[COMMAND]!.bind(client);
  return {
    async hit(key, limit, windowSeconds) {
      // While Redis is down, limits hold per node (the memory limiter) instead of failing every limited
      // request and socket handshake: sign-in and reconnects keep working through a Redis outage. A command
      // sent while disconnected would also wait out ioredis's reconnect retries first.
      if (DOWN.has(redis.status)) return fallback.hit(key, limit, windowSeconds);
      try {
        const [count, ttl] = await run(`${prefix}rl:${key}`, windowSeconds * 1000);
        return result(count, limit, ttl);
      } catch (err) {
        // Redis went away mid-command (the client's 'error' listener logs the outage): count on this node.
        if (!DOWN.has(redis.status) && !isConnectionError(err)) throw err;
        return fallback.hit(key, limit, windowSeconds);
      }
    },
  };
}

/** ioredis states in which a command would wait for a reconnect (or fail): the connection was lost. */
const DOWN = new Set(['reconnecting', 'close', 'end']);

function isConnectionError(err: unknown): boolean {
  const { name, message } = err as { name?: unknown; message?: unknown };
  return name === 'MaxRetriesPerRequestError' || (typeof message === 'string' && /Connection is closed|ECONNREFUSED|ECONNRESET|EPIPE/.test(message));
}

export function createMemoryRateLimiter(now: () => number = Date.now): RateLimiter {
  const windows = new Map<string, { count: number; resetAt: number }>();
  let lastSweep = now();
  return {
    async hit(key, limit, windowSeconds) {
      const t = now();
      if (t - lastSweep > 60_000) {
        for (const [k, w] of windows) if (w.resetAt <= t) windows.delete(k);
        lastSweep = t;
      }
      let w = windows.get(key);
      if (!w || w.resetAt <= t) {
        w = { count: 0, resetAt: t + windowSeconds * 1000 };
        windows.set(key, w);
      }
      w.count += 1;
      return result(w.count, limit, w.resetAt - t);
    },
  };
}
