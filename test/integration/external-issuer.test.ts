import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, connectSocket, emitAck, registerAndLogin, type ApiResponse } from '../helpers/clients.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';

const ISSUER = 'https://auth.example.test';
const AUDIENCE = 'easel-ext';
const KID = 'rsa-1';
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ecPublicPem = ec.publicKey.export({ type: 'spki', format: 'pem' }).toString();

function expectProblem(res: ApiResponse, status: number, code: string): void {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.headers.get('content-type')).toContain('application/problem+json');
  expect(res.body).toMatchObject({ status, code, type: expect.any(String), title: expect.any(String), detail: expect.any(String) });
}

/** A token as the external (Django simplejwt-style) auth server would sign it. */
function externalToken(claims: JWTPayload, opts: { alg?: 'RS256' | 'ES256'; key?: KeyObject; kid?: string; ttl?: number } = {}): Promise<string> {
  const alg = opts.alg ?? 'RS256';
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ token_type: 'access', ...claims })
    .setProtectedHeader({ alg, ...(alg === 'RS256' ? { kid: opts.kid ?? KID } : {}) })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt(now)
    .setExpirationTime(now + (opts.ttl ?? 600))
    .sign(opts.key ?? (alg === 'RS256' ? rsa.privateKey : ec.privateKey));
}

const externalConfig = (source: { jwksUrl: string } | { publicKeyPem: string }) => ({
  auth: { external: { issuer: ISSUER, audience: AUDIENCE, userIdClaim: 'user_id', algorithms: ['RS256', 'ES256'], jwksUrl: null, publicKeyPem: null, ...source } },
});

describe.each(['uws', 'node'] as const)('external issuer on %s', (engine) => {
  let db: TestDatabase;
  let jwks: Server;
  let jwksHits = 0;
  let hub: TestHub;
  let pemHub: TestHub;

  beforeAll(async () => {
    db = await createTestDatabase();
    const jwk = { ...(await exportJWK(rsa.publicKey)), kid: KID, alg: 'RS256', use: 'sig' };
    jwks = createServer((_req, res) => {
      jwksHits++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    const jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`;
    hub = await startTestHub({ dbUrl: db.url, engine, redis: true, overrides: externalConfig({ jwksUrl }) });
    pemHub = await startTestHub({ dbUrl: db.url, engine, redis: true, overrides: externalConfig({ publicKeyPem: ecPublicPem }) });
  });
  afterAll(async () => {
    await pemHub?.stop();
    await hub?.stop();
    await new Promise((resolve) => (jwks ? jwks.close(resolve) : resolve(undefined)));
    await db?.drop();
  });

  describe('RS256 via JWKS', () => {
    it('auto-provisions a local user from user_id, and finds the same one again', async () => {
      const first = await api(hub.url, 'GET', '/api/v1/auth/me', { token: await externalToken({ user_id: 42 }) });
      expect(first.status, JSON.stringify(first.body)).toBe(200);
      expect(first.body).toMatchObject({ id: expect.any(Number), username: 'ext_42', role: 'user' });
      expect(jwksHits).toBeGreaterThanOrEqual(1);
      // A fresh token for the same external user maps to the same local row.
      const again = await api(hub.url, 'GET', '/api/v1/auth/me', { token: await externalToken({ user_id: 42 }) });
      expect(again.status).toBe(200);
      expect(again.body.id).toBe(first.body.id);
      const patched = await api(hub.url, 'PATCH', '/api/v1/auth/me', { token: await externalToken({ user_id: 42 }), json: { display_name: 'Forty Two' } });
      expect(patched.body).toMatchObject({ id: first.body.id, display_name: 'Forty Two' });
    });

    it('uses the username claim, and sub when user_id is absent', async () => {
      const named = await api(hub.url, 'GET', '/api/v1/auth/me', { token: await externalToken({ user_id: 43, username: 'painter jane' }) });
      expect(named.status).toBe(200);
      expect(named.body).toMatchObject({ username: 'painter_jane', display_name: 'painter jane' });
      const bySub = await api(hub.url, 'GET', '/api/v1/auth/me', { token: await externalToken({ sub: 'abc-77' }) });
      expect(bySub.status).toBe(200);
      expect(bySub.body.username).toBe('ext_abc-77');
    });

    it('gives a clashing username a suffix instead of merging accounts', async () => {
      const local = await registerAndLogin(hub.url, 'clash_name');
      const ext = await api(hub.url, 'GET', '/api/v1/auth/me', { token: await externalToken({ user_id: 44, username: 'clash_name' }) });
      expect(ext.status).toBe(200);
      expect(ext.body.id).not.toBe(local.userId);
      expect(ext.body.username).toMatch(/^clash_name_[0-9a-f]{6}$/);
    });

    it('provisions one user when the first requests race', async () => {
      const token = await externalToken({ user_id: 4545 });
      const results = await Promise.all(Array.from({ length: 6 }, () => api(hub.url, 'GET', '/api/v1/auth/me', { token })));
      for (const res of results) expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(new Set(results.map((r) => r.body.id)).size).toBe(1);
    });

    it('opens the root socket with an external token', async () => {
      const token = await externalToken({ user_id: 42 });
      const socket = await connectSocket(hub.url, '/', token);
      expect(socket.connected).toBe(true);
      const ack = await emitAck(socket, 'auth:refresh', { token: await externalToken({ user_id: 42 }) });
      expect(ack).toMatchObject({ ok: true });
      // Another external user's token is not a refresh for this socket.
      const other = await emitAck(socket, 'auth:refresh', { token: await externalToken({ user_id: 43 }) });
      expect(other).toMatchObject({ ok: false, error: { code: 'identity_mismatch' } });
      socket.close();
      await expect(connectSocket(hub.url, '/', await externalToken({ user_id: 42 }, { kid: 'nope' }))).rejects.toMatchObject({ data: { code: 'token_unknown_key' } });
    });

    it('refuses refresh-type, expired, wrong-audience and foreign-key tokens', async () => {
      const me = async (token: string) => api(hub.url, 'GET', '/api/v1/auth/me', { token });
      expectProblem(await me(await externalToken({ user_id: 42, token_type: 'refresh' })), 401, 'token_bad_claims');
      expectProblem(await me(await externalToken({ user_id: 42 }, { ttl: -600 })), 401, 'token_expired');
      const wrongAud = await new SignJWT({ user_id: 42 }).setProtectedHeader({ alg: 'RS256', kid: KID }).setIssuer(ISSUER).setAudience('other').setExpirationTime('10m').sign(rsa.privateKey);
      expectProblem(await me(wrongAud), 401, 'token_bad_claims');
      const foreign = generateKeyPairSync('rsa', { modulusLength: 2048 });
      expectProblem(await me(await externalToken({ user_id: 42 }, { key: foreign.privateKey })), 401, 'token_invalid_signature');
      expectProblem(await me(await externalToken({ token_type: 'access' })), 401, 'token_bad_claims');
    });

    it('still accepts Easel’s own tokens next to the external ones', async () => {
      const { token } = await registerAndLogin(hub.url, 'own_on_ext');
      expect((await api(hub.url, 'GET', '/api/v1/auth/me', { token })).body.username).toBe('own_on_ext');
    });
  });

  describe('ES256 via PEM', () => {
    it('auto-provisions from an ES256 token', async () => {
      const token = await externalToken({ user_id: 900 }, { alg: 'ES256' });
      const first = await api(pemHub.url, 'GET', '/api/v1/auth/me', { token });
      expect(first.status, JSON.stringify(first.body)).toBe(200);
      expect(first.body.username).toBe('ext_900');
      const again = await api(pemHub.url, 'GET', '/api/v1/auth/me', { token: await externalToken({ user_id: 900 }, { alg: 'ES256' }) });
      expect(again.body.id).toBe(first.body.id);
      const socket = await connectSocket(pemHub.url, '/', token);
      expect(socket.connected).toBe(true);
      socket.close();
    });

    it('refuses RS256 when the PEM is an EC key', async () => {
      const res = await api(pemHub.url, 'GET', '/api/v1/auth/me', { token: await externalToken({ user_id: 901 }) });
      expectProblem(res, 401, 'token_alg_not_allowed');
    });
  });

  it('answers 503 when the JWKS cannot be fetched, and keeps serving', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const downHub = await startTestHub({ dbUrl: db.url, engine, overrides: externalConfig({ jwksUrl: `http://127.0.0.1:${port}/jwks.json` }) });
    try {
      const res = await api(downHub.url, 'GET', '/api/v1/auth/me', { token: await externalToken({ user_id: 42 }) });
      expectProblem(res, 503, 'token_issuer_unavailable');
      expect((await api(downHub.url, 'GET', '/health')).status).toBe(200);
    } finally {
      await downHub.stop();
    }
  });
});
