import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, registerAndLogin, type ApiResponse } from '../helpers/clients.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { newRedisPrefix, startTestHub, type TestHub } from '../helpers/hub.js';

const PASSWORD = 'correct-horse-battery';
const LIMITS = {
  // Long windows so a fixed-window rollover cannot reset a counter mid-test.
  loginPerAccount: { limit: 3, windowSeconds: 600 },
  passwordCheckPerAccount: { limit: 3, windowSeconds: 600 },
  passwordCheckPerIp: { limit: 5, windowSeconds: 600 },
  scrypt: { concurrency: 0, queue: 64 },
  userCache: { ttlMs: 30_000, maxEntries: 1000 },
};

function expect429(res: ApiResponse): void {
  expect(res.status, JSON.stringify(res.body)).toBe(429);
  expect(res.body).toMatchObject({ status: 429, code: 'rate_limited' });
  const retryAfter = Number(res.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThan(0);
  expect(retryAfter).toBeLessThanOrEqual(600);
}

const login = (base: string, username: string, password: string) => api(base, 'POST', '/api/v1/auth/token', { json: { username, password } });

describe('password guessing limits (Redis, two nodes sharing a prefix)', () => {
  let db: TestDatabase;
  let a: TestHub;
  let b: TestHub;

  beforeAll(async () => {
    db = await createTestDatabase();
    const prefix = newRedisPrefix();
    const overrides = { identity: LIMITS, rateLimits: { token: { limit: 1000, windowSeconds: 600 }, register: { limit: 1000, windowSeconds: 600 } } };
    // Both on node:http in one process (two uWS apps cannot share one); the limits live in Redis.
    a = await startTestHub({ dbUrl: db.url, engine: 'node', redis: prefix, overrides });
    b = await startTestHub({ dbUrl: db.url, engine: 'node', redis: prefix, overrides });
  });
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
    await db?.drop();
  });

  it('stops sign-in to one account after the per-account limit, whatever the case, on every node, even with the right password', async () => {
    await registerAndLogin(a.url, 'LimitLogin'); // one attempt used
    expect((await login(a.url, 'limitlogin', 'wrong-password-1')).status).toBe(401);
    expect((await login(b.url, 'LIMITLOGIN', 'wrong-password-2')).status).toBe(401);
    expect429(await login(b.url, 'LimitLogin', PASSWORD));
    expect429(await login(a.url, 'limitlogin', PASSWORD));
    // Same IP, another account: not limited, so the limit above is per account.
    await registerAndLogin(a.url, 'limit_other');
    expect((await login(a.url, 'limit_other', PASSWORD)).status).toBe(200);
  });

  it('counts attempts on an account that does not exist the same way', async () => {
    for (let i = 0; i < 3; i++) expect((await login(a.url, 'ghost_user', `guess-${i}-xxxx`)).status).toBe(401);
    expect429(await login(b.url, 'Ghost_User', 'guess-3-xxxx'));
  });

  it('limits current-password checks on PATCH and DELETE /auth/me per account, across nodes', async () => {
    const user = await registerAndLogin(a.url, 'pw_guess');
    const patch = (base: string, current: string) => api(base, 'PATCH', '/api/v1/auth/me', { token: user.token, json: { new_password: 'another-password-1', current_password: current } });
    const del = (base: string, current: string) => api(base, 'DELETE', '/api/v1/auth/me', { token: user.token, json: { current_password: current } });
    expect((await patch(a.url, 'wrong-1')).status).toBe(403);
    expect((await del(b.url, 'wrong-2')).status).toBe(403);
    expect((await patch(b.url, 'wrong-3')).status).toBe(403);
    expect429(await patch(a.url, 'wrong-4'));
    // The right password is refused too while the window lasts: a guesser learns nothing from it.
    expect429(await del(b.url, PASSWORD));
    expect((await api(a.url, 'GET', '/api/v1/auth/me', { token: user.token })).status).toBe(200);
    // Display-name changes need no password and are not limited.
    expect((await api(b.url, 'PATCH', '/api/v1/auth/me', { token: user.token, json: { display_name: 'Still Here' } })).status).toBe(200);
  });

  it('limits current-password checks per IP across accounts', async () => {
    // pw_guess above already spent 5 checks from this IP (3 counted + 2 refused); use fresh accounts on a fresh pair of hubs.
    const prefix = newRedisPrefix();
    const overrides = { identity: LIMITS, rateLimits: { token: { limit: 1000, windowSeconds: 600 }, register: { limit: 1000, windowSeconds: 600 } } };
    const c = await startTestHub({ dbUrl: db.url, engine: 'node', redis: prefix, overrides });
    try {
      const users = [await registerAndLogin(c.url, 'ip_one'), await registerAndLogin(c.url, 'ip_two')];
      const check = (i: number) => api(c.url, 'DELETE', '/api/v1/auth/me', { token: users[i]!.token, json: { current_password: 'nope-nope' } });
      const statuses = [];
      for (const i of [0, 0, 0, 1, 1]) statuses.push((await check(i)).status);
      expect(statuses).toEqual([403, 403, 403, 403, 403]);
      // Account two has used 2 of its 3, but this IP has used 5 of 5.
      expect429(await check(1));
    } finally {
      await c.stop();
    }
  });
});

describe('bounded scrypt work', () => {
  let db: TestDatabase;
  let hub: TestHub;

  beforeAll(async () => {
    db = await createTestDatabase();
    hub = await startTestHub({
      dbUrl: db.url,
      engine: 'uws',
      overrides: { identity: { ...LIMITS, loginPerAccount: { limit: 1000, windowSeconds: 600 }, scrypt: { concurrency: 1, queue: 2 } }, rateLimits: { token: { limit: 1000, windowSeconds: 600 } } },
    });
  });
  afterAll(async () => {
    await hub?.stop();
    await db?.drop();
  });

  it('refuses password checks beyond the queue with 503 at once instead of queueing them all', async () => {
    const started = Date.now();
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => login(hub.url, `flood_${i}`, 'wrong-password-x')));
    const statuses = results.map((r) => r.status);
    const busy = results.filter((r) => r.status === 503);
    expect(statuses.filter((s) => s !== 401 && s !== 503)).toEqual([]);
    expect(busy.length).toBeGreaterThan(0);
    expect(statuses.filter((s) => s === 401).length).toBeGreaterThanOrEqual(3);
    expect(busy[0]!.body).toMatchObject({ code: 'auth_busy' });
    expect(busy[0]!.headers.get('retry-after')).toBe('1');
    expect(Date.now() - started).toBeLessThan(10_000);
    // Once the burst is over, sign-in works normally.
    await registerAndLogin(hub.url, 'after_flood');
  });
});
