import { describe, expect, it } from 'vitest';
import { EaselError, NETWORK } from './errors.js';
import { SessionKeeper, memoryStore, refreshDelay, type AuthState, type StoredSession } from './session.js';

const session = (over: Partial<StoredSession> = {}): StoredSession => ({ kind: 'user', accessToken: 'a1', refreshToken: 'r1', issuedAt: 0, expiresAt: 900_000, ...over });

describe('refreshDelay', () => {
  it('refreshes a minute early for long tokens, 20% + 1.5 s early for short ones, never past half', () => {
    expect(refreshDelay({ issuedAt: 0, expiresAt: 900_000 }, 0)).toBe(840_000);
    expect(refreshDelay({ issuedAt: 0, expiresAt: 10_000 }, 0)).toBe(6_500);
    expect(refreshDelay({ issuedAt: 0, expiresAt: 2_000 }, 0)).toBe(1_000);
    expect(refreshDelay({ issuedAt: 0, expiresAt: 10_000 }, 20_000)).toBe(0);
  });
});

describe('SessionKeeper', () => {
  it('rotates tokens, spends a refresh token once even when asked twice, and signs out when refused', async () => {
    const calls: string[] = [];
    const states: AuthState[] = [];
    const renewed: string[] = [];
    let refuse = false;
    const keeper = new SessionKeeper({
      store: memoryStore(session()),
      now: () => 0,
      refresh: async (rt) => {
        calls.push(rt);
        if (refuse) throw new EaselError('refresh_revoked', 'revoked', 401);
        return { access_token: `a-${calls.length + 1}`, refresh_token: `r-${calls.length + 1}`, expires_in: 900 };
      },
      onRenewed: (s) => renewed.push(s.accessToken),
      onChange: (s) => states.push(s),
    });
    const [x, y] = await Promise.all([keeper.renew(), keeper.renew()]);
    expect([x, y, calls]).toEqual([true, true, ['r1']]);
    expect(keeper.token).toBe('a-2');
    expect(renewed).toEqual(['a-2']);
    refuse = true;
    expect(await keeper.renew()).toBe(false);
    expect(keeper.state).toEqual({ state: 'signed-out', reason: 'refresh_revoked' });
    expect(states.at(-1)?.state).toBe('signed-out');
    keeper.close();
  });

  it('keeps the session on a network failure, and adopts tokens another tab already rotated', async () => {
    const store = memoryStore(session());
    let fail = true;
    const keeper = new SessionKeeper({
      store,
      now: () => 0,
      retryMs: 60_000,
      refresh: async () => {
        if (fail) throw new EaselError(NETWORK, 'offline');
        throw new Error('must not be called');
      },
      onRenewed: () => {},
      onChange: () => {},
    });
    expect(await keeper.renew()).toBe(false);
    expect(keeper.token).toBe('a1');
    fail = false;
    store.save(session({ accessToken: 'other-tab', refreshToken: 'r9', expiresAt: 1_800_000 }));
    expect(await keeper.renew()).toBe(true);
    expect(keeper.token).toBe('other-tab');
    keeper.close();
  });
});
