import { generateKeyPairSync } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makePng } from '../../src/modules/media/test-fixtures.js';
import { api, connectSocket, emitAck, registerAndLogin, type ApiResponse } from '../helpers/clients.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { upload } from '../helpers/multipart.js';

const NUL_MESSAGE = 'must not contain NUL (U+0000)';
const ISSUER = 'https://auth.nul.test';
const AUDIENCE = 'easel-ext';
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const b64 = (text: string) => Buffer.from(text).toString('base64url');

function externalToken(claims: Record<string, unknown>): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ token_type: 'access', ...claims })
    .setProtectedHeader({ alg: 'RS256' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt(now)
    .setExpirationTime(now + 600)
    .sign(rsa.privateKey);
}

function expectNul(res: ApiResponse, path: string): void {
  expect(res.status, JSON.stringify(res.body)).toBe(422);
  expect(res.headers.get('content-type')).toContain('application/problem+json');
  expect(res.body.errors).toContainEqual({ path, message: NUL_MESSAGE });
}

// Inputs PostgreSQL cannot store (NUL in text, oversized issuer names, dates out of its range) used to be 500s.
describe.each(['uws', 'node'] as const)('inputs the database would refuse, on %s', (engine) => {
  let db: TestDatabase;
  let hub: TestHub;
  let user: { token: string; userId: number };

  beforeAll(async () => {
    db = await createTestDatabase();
    const publicKeyPem = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    hub = await startTestHub({
      dbUrl: db.url,
      engine,
      overrides: { auth: { external: { issuer: ISSUER, audience: AUDIENCE, publicKeyPem, jwksUrl: null, userIdClaim: 'user_id', algorithms: ['RS256'] } } },
    });
    user = await registerAndLogin(hub.url, `nul_${engine}`);
  });
  afterAll(async () => {
    await hub?.stop();
    await db?.drop();
  });

  it('refuses NUL in the login username (JSON and form) with 422 naming the field', async () => {
    expectNul(await api(hub.url, 'POST', '/api/v1/auth/token', { json: { username: 'a\u0000b', password: 'whatever-pass' } }), 'body.username');
    expectNul(await api(hub.url, 'POST', '/api/v1/auth/token', { form: { username: 'a\u0000b', password: 'whatever-pass' } }), 'body.username');
  });

  it('refuses NUL in display_name on register and on PATCH /auth/me', async () => {
    expectNul(await api(hub.url, 'POST', '/api/v1/auth/register', { json: { username: `nulreg_${engine}`, password: 'correct-horse-battery', display_name: 'x\u0000' } }), 'body.display_name');
    expectNul(await api(hub.url, 'PATCH', '/api/v1/auth/me', { token: user.token, json: { display_name: 'Ada\u0000Lovelace' } }), 'body.display_name');
    const me = await api(hub.url, 'GET', '/api/v1/auth/me', { token: user.token });
    expect(me.body.display_name).toBeNull();
  });

  it.each(['prompt', 'model_name'])('refuses NUL in the image %s', async (field) => {
    const fields = { prompt: 'a lighthouse', model_name: 'sdxl', [field]: `bad\u0000${field}` };
    const res = await upload(hub.url, '/api/v1/images', user.token, [
      ...Object.entries(fields).map(([name, value]) => ({ name, value })),
      { name: 'file', filename: 'p.png', type: 'image/png', data: await makePng(20, 16) },
    ]);
    expect(res.status, JSON.stringify(res.body)).toBe(422);
    expect(res.body.errors).toContainEqual({ path: `body.${field}`, message: NUL_MESSAGE });
  });

  it('refuses NUL in a socket payload with the same field error', async () => {
    const socket = await connectSocket(hub.url, '/', user.token);
    try {
      const ack = await emitAck(socket, 'auth:refresh', { token: `x\u0000` });
      expect(ack).toMatchObject({ ok: false, error: { code: 'validation_failed', errors: [{ path: 'payload.token', message: NUL_MESSAGE }] } });
    } finally {
      socket.close();
    }
  });

  it('strips NUL from an external token username and fits a 150-character one', async () => {
    const withNul = await api(hub.url, 'GET', '/api/v1/auth/me', { token: await externalToken({ user_id: `nul-${engine}`, username: 'gr\u0000ace' }) });
    expect(withNul.status, JSON.stringify(withNul.body)).toBe(200);
    expect(withNul.body).toMatchObject({ username: 'grace', display_name: 'grace' });

    const long = 'é'.repeat(75) + 'L'.repeat(75);
    const token = await externalToken({ user_id: `long-${engine}`, username: long });
    for (let i = 0; i < 2; i++) {
      const res = await api(hub.url, 'GET', '/api/v1/auth/me', { token });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect([...res.body.display_name]).toHaveLength(100);
      expect(res.body.display_name).toBe(long.slice(0, 100));
      expect(res.body.username.length).toBeLessThanOrEqual(50);
    }
  });

  it('answers a forged cursor dated year 0000 with 400 invalid_cursor', async () => {
    const cursor = b64(JSON.stringify({ v: 1, t: '0000-01-01T00:00:00.000Z', id: 1 }));
    const res = await api(hub.url, 'GET', `/api/v1/images?cursor=${cursor}`);
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body).toMatchObject({ code: 'invalid_cursor' });
    expect((await api(hub.url, 'GET', '/api/v1/images')).status).toBe(200);
  });
});
