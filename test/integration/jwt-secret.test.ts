import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { api, registerAndLogin } from '../helpers/clients.js';

/** The secret config/default.json shipped before it was removed: public, so it must sign nothing. */
const PUBLISHED_SECRET = 'dev-only-insecure-jwt-secret-change-me';

function forge(hub: TestHub, userId: number, secret: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ typ: 'access', role: 'admin' })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(`user:${userId}`)
    .setIssuer(hub.config.auth.issuer)
    .setAudience(hub.config.auth.audience)
    .setIssuedAt(now)
    .setExpirationTime(now + 300)
    .setJti(randomUUID())
    .sign(new TextEncoder().encode(secret));
}

describe('a hub started without JWT_SECRET', () => {
  let db: TestDatabase;
  let hub: TestHub;
  let userId: number;

  beforeAll(async () => {
    db = await createTestDatabase();
    hub = await startTestHub({ dbUrl: db.url });
    ({ userId } = await registerAndLogin(hub.url, 'secret_owner'));
  });
  afterAll(async () => {
    await hub?.stop();
    await db?.drop();
  });

  it('signs with its generated secret, never the one the repository published', async () => {
    expect(hub.config.auth.jwtSecret).not.toBe(PUBLISHED_SECRET);
    expect(hub.config.auth.jwtSecret.length).toBeGreaterThanOrEqual(32);
    const forged = await api(hub.url, 'GET', '/api/v1/auth/me', { token: await forge(hub, userId, PUBLISHED_SECRET) });
    expect(forged.status).toBe(401);
    // The same claims under the hub's own secret pass, so the 401 above is the secret and nothing else.
    const genuine = await api(hub.url, 'GET', '/api/v1/auth/me', { token: await forge(hub, userId, hub.config.auth.jwtSecret) });
    expect(genuine.status).toBe(200);
  });
});
