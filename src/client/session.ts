import { EaselError, NETWORK } from './errors.js';

/** What the SDK keeps between runs (localStorage in a browser, memory or a file elsewhere). */
export interface StoredSession {
  kind: 'user' | 'guest';
  accessToken: string;
  /** Users only: rotated on every refresh. */
  refreshToken: string | null;
  /** Epoch ms when the access token expires. */
  expiresAt: number;
  /** Epoch ms when it was issued (to pick the refresh moment). */
  issuedAt: number;
  guestId?: string;
  /** A user who was a guest in this client: that guest token, until the studio attached its sessions. */
  formerGuestToken?: string;
}

export interface SessionStore {
  load(): StoredSession | null;
  save(session: StoredSession | null): void;
}

export function memoryStore(initial: StoredSession | null = null): SessionStore {
  let s = initial;
  return { load: () => s, save: (v) => void (s = v) };
}

interface StorageLike {
  getItem(k: string): string | null;
  setItem(k: string, v: string): void;
  removeItem(k: string): void;
}

/** localStorage (or React Native's sync storage shim); a missing or full storage degrades to memory. */
export function webStore(key = 'easel.session', storage?: StorageLike): SessionStore {
  const st = storage ?? (globalThis as { localStorage?: StorageLike }).localStorage;
  const mem = memoryStore();
  if (!st) return mem;
  return {
    load() {
      try {
        const raw = st.getItem(key);
        return raw ? (JSON.parse(raw) as StoredSession) : null;
      } catch {
        return mem.load();
      }
    },
    save(v) {
      mem.save(v);
      try {
        if (v) st.setItem(key, JSON.stringify(v));
        else st.removeItem(key);
      } catch {
        // Private mode or quota: the session lives in memory for this page only.
      }
    },
  };
}

export type AuthState = { state: 'signed-out'; reason: string | null } | { state: 'guest' | 'user'; session: StoredSession };

export interface KeeperDeps {
  store: SessionStore;
  /** POST /auth/refresh. */
  refresh: (refreshToken: string) => Promise<{ access_token: string; refresh_token: string; expires_in: number }>;
  /** A token was renewed: swap it on live sockets. */
  onRenewed: (session: StoredSession) => void;
  onChange: (state: AuthState) => void;
  now?: () => number;
  /** Retry delay after a network failure (ms). */
  retryMs?: number;
}

/**
 * When to refresh: 20% of the lifetime before expiry plus 1.5 s (the token's `exp` is whole seconds and the
 * round trip takes time), at most a minute and at most half the lifetime early.
 */
export function refreshDelay(s: Pick<StoredSession, 'expiresAt' | 'issuedAt'>, now: number): number {
  const ttl = Math.max(0, s.expiresAt - s.issuedAt);
  const lead = Math.min(60_000, ttl * 0.2 + 1500, ttl * 0.5);
  return Math.max(0, s.expiresAt - lead - now);
}

interface LockManagerLike {
  request<T>(name: string, cb: () => Promise<T>): Promise<T>;
}

/**
 * Holds the tokens, refreshes the access token before it expires (single flight; across browser tabs through
 * the Web Locks API where present, re-reading the store first so two tabs never spend one refresh token
 * twice), and reports a refused refresh as signed out.
 */
export class SessionKeeper {
  private session: StoredSession | null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private inflight: Promise<boolean> | null = null;
  private signedOutReason: string | null = null;
  private readonly now: () => number;

  constructor(private readonly deps: KeeperDeps) {
    this.now = deps.now ?? Date.now;
    this.session = deps.store.load();
    if (this.session && this.session.expiresAt <= this.now() && !this.session.refreshToken) this.session = null;
    this.schedule();
  }

  get current(): StoredSession | null {
    return this.session;
  }

  get token(): string | null {
    return this.session?.accessToken ?? null;
  }

  get state(): AuthState {
    return this.session ? { state: this.session.kind, session: this.session } : { state: 'signed-out', reason: this.signedOutReason };
  }

  /** A new session from sign-in, register or guest; null signs out. */
  set(session: StoredSession | null, reason: string | null = null): void {
    this.session = session;
    this.signedOutReason = session ? null : reason;
    this.deps.store.save(session);
    this.schedule();
    this.deps.onChange(this.state);
  }

  /** Changes fields of the same session (no identity change, no listeners). */
  patch(fields: Partial<StoredSession>): void {
    if (!this.session) return;
    this.session = { ...this.session, ...fields };
    this.deps.store.save(this.session);
  }

  /** Renews now (single flight). Resolves true with a fresh token in place, false when signed out or not renewable. */
  renew(): Promise<boolean> {
    this.inflight ??= this.renewLocked().finally(() => (this.inflight = null));
    return this.inflight;
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    this.close();
    const s = this.session;
    if (!s || !s.refreshToken) return;
    // setTimeout overflows past 2^31 ms; a long-lived token is looked at again later.
    const delay = Math.min(refreshDelay(s, this.now()), 2_000_000_000);
    this.timer = setTimeout(() => void this.renew(), delay);
    (this.timer as { unref?: () => void }).unref?.();
  }

  private async renewLocked(): Promise<boolean> {
    const locks = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks;
    return locks ? locks.request('easel.refresh', () => this.renewOnce()) : this.renewOnce();
  }

  private async renewOnce(): Promise<boolean> {
    const before = this.session;
    if (!before || !before.refreshToken) return false;
    // Another tab (same store) may have rotated already: take its tokens instead of spending ours again.
    const stored = this.deps.store.load();
    if (stored && stored.refreshToken && stored.refreshToken !== before.refreshToken && stored.expiresAt > before.expiresAt) {
      this.session = stored;
      this.schedule();
      this.deps.onRenewed(stored);
      return true;
    }
    try {
      const pair = await this.deps.refresh(before.refreshToken);
      if (this.session !== before) return this.session !== null; // signed out or replaced meanwhile
      const now = this.now();
      const next: StoredSession = { ...before, accessToken: pair.access_token, refreshToken: pair.refresh_token, issuedAt: now, expiresAt: now + pair.expires_in * 1000 };
      this.session = next;
      this.deps.store.save(next);
      this.schedule();
      this.deps.onRenewed(next);
      return true;
    } catch (err) {
      if (err instanceof EaselError && err.code !== NETWORK && err.status !== 0 && err.status < 500 && err.status !== 429) {
        if (this.session === before) this.set(null, err.code);
        return false;
      }
      // Offline or the hub is restarting: try again soon; the token may still be valid for a while.
      if (this.session === before) {
        this.close();
        this.timer = setTimeout(() => void this.renew(), this.deps.retryMs ?? 3000);
        (this.timer as { unref?: () => void }).unref?.();
      }
      return false;
    }
  }
}
