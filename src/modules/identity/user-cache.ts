/** What authentication needs to know about a user; `null` from the loader means the account is gone. */
export interface AuthState {
  role: 'user' | 'admin';
  tokenVersion: number;
}

export interface UserCacheOptions {
  /** 0 disables caching: every lookup loads. */
  ttlMs: number;
  maxEntries: number;
  load: (userId: number) => Promise<AuthState | null>;
  now?: () => number;
}

export interface UserCache {
  get(userId: number): Promise<AuthState | null>;
  invalidate(userId: number): void;
  stats(): { size: number; hits: number; loads: number };
}

interface Entry {
  state: AuthState | null;
  expiresAt: number;
}

/**
 * In-process user auth state: a TTL'd LRU (a Map in recency order) with one load in flight per user.
 * Deleted accounts are cached too (as null), so a stream of requests with a dead user's token costs
 * no queries. An invalidation that lands while a load is in flight discards that load's result, so a
 * row read before the change can never be stored after it.
 */
export function createUserCache(opts: UserCacheOptions): UserCache {
  const now = opts.now ?? Date.now;
  const entries = new Map<number, Entry>();
  const inflight = new Map<number, Promise<AuthState | null>>();
  let hits = 0;
  let loads = 0;

  function store(userId: number, state: AuthState | null): void {
    entries.delete(userId);
    entries.set(userId, { state, expiresAt: now() + opts.ttlMs });
    if (entries.size > opts.maxEntries) entries.delete(entries.keys().next().value!);
  }

  function load(userId: number): Promise<AuthState | null> {
    const pending = inflight.get(userId);
    if (pending) return pending;
    loads++;
    const promise = opts.load(userId).then(
      (state) => {
        if (inflight.get(userId) === promise) {
          inflight.delete(userId);
          if (opts.ttlMs > 0) store(userId, state);
        }
        return state;
      },
      (err: unknown) => {
        if (inflight.get(userId) === promise) inflight.delete(userId);
        throw err;
      },
    );
    inflight.set(userId, promise);
    return promise;
  }

  return {
    get(userId) {
      const entry = entries.get(userId);
      if (entry && entry.expiresAt > now()) {
        hits++;
        // Re-insert to mark it most recently used.
        entries.delete(userId);
        entries.set(userId, entry);
        return Promise.resolve(entry.state);
      }
      if (entry) entries.delete(userId);
      return load(userId);
    },
    invalidate(userId) {
      entries.delete(userId);
      inflight.delete(userId);
    },
    stats: () => ({ size: entries.size, hits, loads }),
  };
}
