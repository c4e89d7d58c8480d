import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, connectSocket, registerAndLogin, type ApiResponse } from '../helpers/clients.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { newRedisPrefix, startTestHub, type TestHub } from '../helpers/hub.js';

const PASSWORD = 'correct-horse-battery';
// The flow tests make dozens of sign-ins from 127.0.0.1; the limit tests below use the real defaults.
const ROOMY_LIMITS = { rateLimits: { register: { limit: 1000, windowSeconds: 60 }, token: { limit: 1000, windowSeconds: 60 } } };

function expectProblem(res: ApiResponse, status: number, code: string): void {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.headers.get('content-type')).toContain('application/problem+json');
  expect(res.body).toMatchObject({ status, code, type: expect.any(String), title: expect.any(String), detail: expect.any(String) });
}

describe.each(['uws', 'node'] as const)('auth over HTTP on %s', (engine) => {
  let db: TestDatabase;
  let hub: TestHub;
  beforeAll(async () => {
    db = await createTestDatabase();
    hub = await startTestHub({ dbUrl: db.url, engine, redis: true, overrides: ROOMY_LIMITS });
  });
  afterAll(async () => {
    await hub?.stop();
    await db?.drop();
  });

  describe('register', () => {
    it('creates a user and returns its DTO with 201', async () => {
      const res = await api(hub.url, 'POST', '/api/v1/auth/register', { json: { username: 'Alice_1', password: PASSWORD, display_name: 'Alice' } });
      expect(res.status).toBe(201);
      expect(res.body).toEqual({ id: expect.any(Number), username: 'Alice_1', display_name: 'Alice', role: 'user', created_at: expect.any(String) });
      expect(Number.isNaN(Date.parse(res.body.created_at))).toBe(false);
      expect(res.body).not.toHaveProperty('password');
      expect(res.body).not.toHaveProperty('password_hash');
    });

    it('refuses a taken username, also in different case, with 409 username_taken', async () => {
      const first = await api(hub.url, 'POST', '/api/v1/auth/register', { json: { username: 'bob_dup', password: PASSWORD } });
      expect(first.status).toBe(201);
      expectProblem(await api(hub.url, 'POST', '/api/v1/auth/register', { json: { username: 'bob_dup', password: PASSWORD } }), 409, 'username_taken');
      expectProblem(await api(hub.url, 'POST', '/api/v1/auth/register', { json: { username: 'BOB_Dup', password: PASSWORD } }), 409, 'username_taken');
    });

    it('enforces username 3-50 characters and password of 8 or more', async () => {
      for (const username of ['ab', 'x'.repeat(51), 'has space', '']) {
        const res = await api(hub.url, 'POST', '/api/v1/auth/register', { json: { username, password: PASSWORD } });
        expectProblem(res, 422, 'validation_failed');
        expect(res.body.errors.map((e: { path: string }) => e.path)).toContain('body.username');
      }
      const short = await api(hub.url, 'POST', '/api/v1/auth/register', { json: { username: 'shortpw', password: '1234567' } });
      expectProblem(short, 422, 'validation_failed');
      expect(short.body.errors.map((e: { path: string }) => e.path)).toContain('body.password');
      expect((await api(hub.url, 'POST', '/api/v1/auth/register', { json: { username: 'abc', password: '12345678' } })).status).toBe(201);
      expect((await api(hub.url, 'POST', '/api/v1/auth/register', { json: { username: 'y'.repeat(50), password: PASSWORD } })).status).toBe(201);
    });
  });

  describe('token', () => {
    beforeAll(async () => {
      const res = await api(hub.url, 'POST', '/api/v1/auth/register', { json: { username: 'tok_user', password: PASSWORD } });
      expect(res.status).toBe(201);
    });

    it('signs in with an OAuth2 form (grant_type=password)', async () => {
      const res = await api(hub.url, 'POST', '/api/v1/auth/token', { form: { grant_type: 'password', username: 'tok_user', password: PASSWORD } });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ access_token: expect.any(String), token_type: 'bearer', expires_in: hub.config.auth.accessTtlSeconds, refresh_token: expect.any(String) });
      expect(res.headers.get('cache-control')).toBe('no-store');
      const me = await api(hub.url, 'GET', '/api/v1/auth/me', { token: res.body.access_token });
      expect(me.status).toBe(200);
      expect(me.body.username).toBe('tok_user');
    });

    it('signs in with JSON, username case-insensitively', async () => {
      const res = await api(hub.url, 'POST', '/api/v1/auth/token', { json: { username: 'TOK_USER', password: PASSWORD } });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ token_type: 'bearer', expires_in: expect.any(Number) });
      expect(typeof res.body.access_token).toBe('string');
      expect(typeof res.body.refresh_token).toBe('string');
    });

    it('answers a wrong password or unknown user with 401 problem', async () => {
      expectProblem(await api(hub.url, 'POST', '/api/v1/auth/token', { json: { username: 'tok_user', password: 'wrong-password' } }), 401, 'invalid_credentials');
      expectProblem(await api(hub.url, 'POST', '/api/v1/auth/token', { form: { grant_type: 'password', username: 'nobody_here', password: PASSWORD } }), 401, 'invalid_credentials');
    });

    it('refuses other grant types', async () => {
      const res = await api(hub.url, 'POST', '/api/v1/auth/token', { form: { grant_type: 'client_credentials', username: 'tok_user', password: PASSWORD } });
      expectProblem(res, 422, 'validation_failed');
    });
  });

  describe('me', () => {
    it('returns the signed-in user and updates display_name', async () => {
      const { token, userId } = await registerAndLogin(hub.url, 'me_user');
      const me = await api(hub.url, 'GET', '/api/v1/auth/me', { token });
      expect(me.status).toBe(200);
      expect(me.body).toMatchObject({ id: userId, username: 'me_user', display_name: null, role: 'user' });
      const patched = await api(hub.url, 'PATCH', '/api/v1/auth/me', { token, json: { display_name: 'Me Myself' } });
      expect(patched.status).toBe(200);
      expect(patched.body).toMatchObject({ id: userId, display_name: 'Me Myself' });
      expect((await api(hub.url, 'GET', '/api/v1/auth/me', { token })).body.display_name).toBe('Me Myself');
      const cleared = await api(hub.url, 'PATCH', '/api/v1/auth/me', { token, json: { display_name: null } });
      expect(cleared.body.display_name).toBeNull();
    });

    it('changes the password only with the right current_password, and revokes old sessions', async () => {
      const { token, refresh } = await registerAndLogin(hub.url, 'pw_user');
      const noCurrent = await api(hub.url, 'PATCH', '/api/v1/auth/me', { token, json: { new_password: 'new-password-123' } });
      expectProblem(noCurrent, 422, 'validation_failed');
      expect(noCurrent.body.errors.map((e: { path: string }) => e.path)).toContain('body.current_password');
      expectProblem(await api(hub.url, 'PATCH', '/api/v1/auth/me', { token, json: { new_password: 'new-password-123', current_password: 'not-my-password' } }), 403, 'wrong_password');
      // Still the old password after the refusals.
      expect((await api(hub.url, 'POST', '/api/v1/auth/token', { json: { username: 'pw_user', password: PASSWORD } })).status).toBe(200);

      const ok = await api(hub.url, 'PATCH', '/api/v1/auth/me', { token, json: { new_password: 'new-password-123', current_password: PASSWORD } });
      expect(ok.status).toBe(200);
      expectProblem(await api(hub.url, 'POST', '/api/v1/auth/token', { json: { username: 'pw_user', password: PASSWORD } }), 401, 'invalid_credentials');
      expect((await api(hub.url, 'POST', '/api/v1/auth/token', { json: { username: 'pw_user', password: 'new-password-123' } })).status).toBe(200);
      expectProblem(await api(hub.url, 'POST', '/api/v1/auth/refresh', { json: { refresh_token: refresh } }), 401, 'refresh_revoked');
    });

    it('deletes the account only with the right current_password', async () => {
      const { token, refresh } = await registerAndLogin(hub.url, 'del_user');
      expectProblem(await api(hub.url, 'DELETE', '/api/v1/auth/me', { token, json: {} }), 422, 'validation_failed');
      expectProblem(await api(hub.url, 'DELETE', '/api/v1/auth/me', { token, json: { current_password: 'not-my-password' } }), 403, 'wrong_password');
      expect((await api(hub.url, 'GET', '/api/v1/auth/me', { token })).status).toBe(200);
      const gone = await api(hub.url, 'DELETE', '/api/v1/auth/me', { token, json: { current_password: PASSWORD } });
      expect(gone.status).toBe(204);
      expect(gone.body).toBe('');
      expectProblem(await api(hub.url, 'GET', '/api/v1/auth/me', { token }), 401, 'user_not_found');
      expectProblem(await api(hub.url, 'POST', '/api/v1/auth/refresh', { json: { refresh_token: refresh } }), 401, 'refresh_invalid');
      expectProblem(await api(hub.url, 'POST', '/api/v1/auth/token', { json: { username: 'del_user', password: PASSWORD } }), 401, 'invalid_credentials');
      // The name is free again.
      expect((await api(hub.url, 'POST', '/api/v1/auth/register', { json: { username: 'del_user', password: PASSWORD } })).status).toBe(201);
    });
  });

  describe('refresh and logout', () => {
    it('rotates; reusing a spent token revokes the whole family', async () => {
      const { refresh: r1 } = await registerAndLogin(hub.url, 'rot_user');
      const second = await api(hub.url, 'POST', '/api/v1/auth/refresh', { json: { refresh_token: r1 } });
      expect(second.status).toBe(200);
      expect(second.body).toMatchObject({ token_type: 'bearer', access_token: expect.any(String), refresh_token: expect.any(String) });
      const r2 = second.body.refresh_token as string;
      expect(r2).not.toBe(r1);
      expect((await api(hub.url, 'GET', '/api/v1/auth/me', { token: second.body.access_token })).status).toBe(200);
      // Form bodies are accepted as well (OAuth2 clients).
      const third = await api(hub.url, 'POST', '/api/v1/auth/refresh', { form: { refresh_token: r2 } });
      expect(third.status).toBe(200);
      const r3 = third.body.refresh_token as string;

      expectProblem(await api(hub.url, 'POST', '/api/v1/auth/refresh', { json: { refresh_token: r1 } }), 401, 'refresh_reused');
      // The newest token of the same family died with the reuse.
      expectProblem(await api(hub.url, 'POST', '/api/v1/auth/refresh', { json: { refresh_token: r3 } }), 401, 'refresh_revoked');
      expectProblem(await api(hub.url, 'POST', '/api/v1/auth/refresh', { json: { refresh_token: 'never-issued-token' } }), 401, 'refresh_invalid');
    });

    it('racing refreshes of one token: at most one wins and the family dies', async () => {
      const { refresh } = await registerAndLogin(hub.url, 'race_user');
      const results = await Promise.all([0, 1, 2, 3, 4, 5].map(() => api(hub.url, 'POST', '/api/v1/auth/refresh', { json: { refresh_token: refresh } })));
      const winners = results.filter((r) => r.status === 200);
      // Depending on interleaving the winner may itself notice the reuse and refuse.
      expect(winners.length).toBeLessThanOrEqual(1);
      for (const loser of results.filter((r) => r.status !== 200)) expectProblem(loser, 401, loser.body.code);
      expect(results.filter((r) => r.body.code === 'refresh_reused').length).toBeGreaterThanOrEqual(1);
      // Whatever the winner got went down with its family.
      for (const winner of winners) {
        expectProblem(await api(hub.url, 'POST', '/api/v1/auth/refresh', { json: { refresh_token: winner.body.refresh_token } }), 401, 'refresh_revoked');
      }
    });

    it('a reuse revokes only its own family, not other sign-ins', async () => {
      const { refresh: a1 } = await registerAndLogin(hub.url, 'fam_user');
      const other = await api(hub.url, 'POST', '/api/v1/auth/token', { json: { username: 'fam_user', password: PASSWORD } });
      expect((await api(hub.url, 'POST', '/api/v1/auth/refresh', { json: { refresh_token: a1 } })).status).toBe(200);
      expectProblem(await api(hub.url, 'POST', '/api/v1/auth/refresh', { json: { refresh_token: a1 } }), 401, 'refresh_reused');
      expect((await api(hub.url, 'POST', '/api/v1/auth/refresh', { json: { refresh_token: other.body.refresh_token } })).status).toBe(200);
    });

    it('logout revokes the family; logging out twice is fine', async () => {
      const { token, refresh: r1 } = await registerAndLogin(hub.url, 'out_user');
      const rotated = await api(hub.url, 'POST', '/api/v1/auth/refresh', { json: { refresh_token: r1 } });
      const r2 = rotated.body.refresh_token as string;
      const out = await api(hub.url, 'POST', '/api/v1/auth/logout', { token, json: { refresh_token: r2 } });
      expect(out.status).toBe(204);
      expectProblem(await api(hub.url, 'POST', '/api/v1/auth/refresh', { json: { refresh_token: r2 } }), 401, 'refresh_revoked');
      expect((await api(hub.url, 'POST', '/api/v1/auth/logout', { json: { refresh_token: r2 } })).status).toBe(204);
    });

    it('logout with another user\'s refresh token is forbidden', async () => {
      const victim = await registerAndLogin(hub.url, 'victim_user');
      const attacker = await registerAndLogin(hub.url, 'attacker_user');
      expectProblem(await api(hub.url, 'POST', '/api/v1/auth/logout', { token: attacker.token, json: { refresh_token: victim.refresh } }), 403, 'forbidden');
      expect((await api(hub.url, 'POST', '/api/v1/auth/refresh', { json: { refresh_token: victim.refresh } })).status).toBe(200);
    });
  });

  describe('token kinds', () => {
    it('a guest token opens the root socket but not user routes', async () => {
      const guest = await api(hub.url, 'POST', '/api/v1/auth/guest');
      expect(guest.status).toBe(200);
      expect(guest.body).toEqual({ access_token: expect.any(String), token_type: 'bearer', expires_in: expect.any(Number), guest_id: expect.any(String) });
      const socket = await connectSocket(hub.url, '/', guest.body.access_token);
      expect(socket.connected).toBe(true);
      socket.close();
      expectProblem(await api(hub.url, 'GET', '/api/v1/auth/me', { token: guest.body.access_token }), 403, 'wrong_token_kind');
      expectProblem(await api(hub.url, 'PATCH', '/api/v1/auth/me', { token: guest.body.access_token, json: { display_name: 'x' } }), 403, 'wrong_token_kind');
    });

    it('a worker token is refused on user routes and on the root socket', async () => {
      const { token } = await hub.app.tokens.issueWorker('w1');
      expectProblem(await api(hub.url, 'GET', '/api/v1/auth/me', { token }), 403, 'wrong_token_kind');
      expectProblem(await api(hub.url, 'DELETE', '/api/v1/auth/me', { token, json: { current_password: PASSWORD } }), 403, 'wrong_token_kind');
      await expect(connectSocket(hub.url, '/', token)).rejects.toMatchObject({ data: { code: 'forbidden' } });
    });

    it('a user token opens the root socket; no token does not', async () => {
      const { token } = await registerAndLogin(hub.url, 'sock_user');
      const socket = await connectSocket(hub.url, '/', token);
      expect(socket.connected).toBe(true);
      socket.close();
      await expect(connectSocket(hub.url, '/', undefined)).rejects.toMatchObject({ data: { code: 'token_missing' } });
    });
  });
});

describe.each(['uws', 'node'] as const)('auth rate limits on %s', (engine) => {
  let db: TestDatabase;
  const hubs: TestHub[] = [];
  const start = async (options: Partial<Parameters<typeof startTestHub>[0]>) => {
    const hub = await startTestHub({ dbUrl: db.url, redis: true, ...options });
    hubs.push(hub);
    return hub;
  };
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    for (const hub of hubs) await hub.stop();
    await db?.drop();
  });

  it('register allows 5 per minute per IP with the real defaults, then 429 with retry-after', async () => {
    const hub = await start({ engine });
    expect(hub.config.rateLimits.register).toEqual({ limit: 5, windowSeconds: 60 });
    for (let i = 0; i < 5; i++) {
      const res = await api(hub.url, 'POST', '/api/v1/auth/register', { json: { username: `rl_${engine}_${i}`, password: PASSWORD } });
      expect(res.status).toBe(201);
    }
    const sixth = await api(hub.url, 'POST', '/api/v1/auth/register', { json: { username: `rl_${engine}_5`, password: PASSWORD } });
    expectProblem(sixth, 429, 'rate_limited');
    const retryAfter = Number(sixth.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    // The refused request created nothing, and other routes are unaffected.
    expect((await api(hub.url, 'POST', '/api/v1/auth/token', { json: { username: `rl_${engine}_5`, password: PASSWORD } })).status).toBe(401);
    expect((await api(hub.url, 'GET', '/health')).status).toBe(200);
  });

  it('token allows 10 per minute per IP, failed attempts included', async () => {
    const hub = await start({ engine });
    expect(hub.config.rateLimits.token).toEqual({ limit: 10, windowSeconds: 60 });
    for (let i = 0; i < 10; i++) {
      // Without trustProxy a forged X-Forwarded-For must not give each attempt a fresh budget.
      const headers = { 'x-forwarded-for': `10.0.0.${i}` };
      const res = await api(hub.url, 'POST', '/api/v1/auth/token', { headers, form: { grant_type: 'password', username: 'nobody', password: 'wrong-password' } });
      expect(res.status).toBe(401);
    }
    const eleventh = await api(hub.url, 'POST', '/api/v1/auth/token', { form: { grant_type: 'password', username: 'nobody', password: 'wrong-password' } });
    expectProblem(eleventh, 429, 'rate_limited');
    expect(Number(eleventh.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });

  it('a limit counted on hub A applies on hub B when they share a Redis prefix', async () => {
    const prefix = newRedisPrefix();
    const other = engine === 'uws' ? 'node' : 'uws';
    const a = await start({ engine, redis: prefix });
    const b = await start({ engine: other, redis: prefix });
    for (let i = 0; i < 10; i++) {
      expect((await api(a.url, 'POST', '/api/v1/auth/token', { json: { username: 'nobody', password: 'wrong-password' } })).status).toBe(401);
    }
    expectProblem(await api(b.url, 'POST', '/api/v1/auth/token', { json: { username: 'nobody', password: 'wrong-password' } }), 429, 'rate_limited');
    // A hub with its own prefix keeps its own count.
    const c = await start({ engine });
    expect((await api(c.url, 'POST', '/api/v1/auth/token', { json: { username: 'nobody', password: 'wrong-password' } })).status).toBe(401);
  });
});
