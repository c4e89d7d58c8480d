import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { Agent, createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, registerAndLogin, type ApiResponse } from '../helpers/clients.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';

const JSON_LIMIT = 1024;
const EXT_ISSUER = 'https://auth.example.test';
const EXT_AUDIENCE = 'easel-ext';
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsaPublicPem = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const otherRsa = generateKeyPairSync('rsa', { modulusLength: 2048 });

function expectProblem(res: ApiResponse, status: number, code: string): void {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.headers.get('content-type')).toContain('application/problem+json');
  expect(res.body).toMatchObject({ status, code, type: expect.any(String), title: expect.any(String), detail: expect.any(String) });
}

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** A raw node:http request, for bodies fetch will not send as-is (chunked, lying content-length). */
function rawRequest(base: string, method: string, path: string, headers: Record<string, string>, chunks: Buffer[], agent?: Agent): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(base + path, { method, headers, ...(agent ? { agent } : {}) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, reused: req.reusedSocket }));
    });
    req.on('error', reject);
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

describe.each(['uws', 'node'] as const)('bad HTTP input on %s', (engine) => {
  let db: TestDatabase;
  let hub: TestHub;
  let jwksHub: TestHub;
  let jwks: Server;
  let user: { token: string; userId: number };
  let secret: Uint8Array;

  /** An access token in the hub's own format; `claims` and `header` override the defaults. */
  function ownToken(claims: JWTPayload = {}, key: Uint8Array = secret, header: Record<string, unknown> = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ typ: 'access', role: 'user', sub: `user:${user.userId}`, jti: randomUUID(), iss: 'easel', aud: 'easel', iat: now, exp: now + 600, ...claims })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT', ...header })
      .sign(key);
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    hub = await startTestHub({
      dbUrl: db.url,
      engine,
      redis: true,
      overrides: {
        http: { jsonLimitBytes: JSON_LIMIT },
        rateLimits: { register: { limit: 1000, windowSeconds: 60 }, token: { limit: 1000, windowSeconds: 60 } },
        auth: { external: { issuer: EXT_ISSUER, audience: EXT_AUDIENCE, publicKeyPem: rsaPublicPem, algorithms: ['RS256'] } },
      },
    });
    expect(hub.config.auth.issuer).toBe('easel');
    expect(hub.config.auth.audience).toBe('easel');
    secret = new TextEncoder().encode(hub.config.auth.jwtSecret);
    user = await registerAndLogin(hub.url, 'bad_input_user');

    const jwk = { ...(await exportJWK(rsa.publicKey)), kid: 'known-key', alg: 'RS256', use: 'sig' };
    jwks = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    const jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`;
    jwksHub = await startTestHub({
      dbUrl: db.url,
      engine,
      overrides: { auth: { external: { issuer: EXT_ISSUER, audience: EXT_AUDIENCE, jwksUrl, algorithms: ['RS256'] } } },
    });
  });
  afterAll(async () => {
    await jwksHub?.stop();
    await hub?.stop();
    await new Promise((resolve) => (jwks ? jwks.close(resolve) : resolve(undefined)));
    await db?.drop();
  });

  describe('bodies', () => {
    it('malformed JSON is 400 malformed_json', async () => {
      const res = await api(hub.url, 'POST', '/api/v1/auth/register', { body: '{"username": "x",', headers: { 'content-type': 'application/json' } });
      expectProblem(res, 400, 'malformed_json');
      const empty = await api(hub.url, 'POST', '/api/v1/auth/register', { body: '', headers: { 'content-type': 'application/json' } });
      expectProblem(empty, 400, 'malformed_json');
    });

    it('unknown fields are 422 naming the field', async () => {
      const res = await api(hub.url, 'POST', '/api/v1/auth/register', { json: { username: 'unknown_f', password: 'long-enough-pw', extra_field: true } });
      expectProblem(res, 422, 'validation_failed');
      expect(res.body.errors).toEqual(expect.arrayContaining([{ path: 'body.extra_field', message: 'unknown field' }]));
      expect((await api(hub.url, 'POST', '/api/v1/auth/token', { form: { username: 'bad_input_user', password: 'x', is_admin: '1' } })).status).toBe(422);
    });

    it('wrong types are 422 listing each field', async () => {
      const res = await api(hub.url, 'POST', '/api/v1/auth/register', { json: { username: 12345, password: ['a'] } });
      expectProblem(res, 422, 'validation_failed');
      const paths = res.body.errors.map((e: { path: string }) => e.path);
      expect(paths).toEqual(expect.arrayContaining(['body.username', 'body.password']));
      for (const body of ['null', '[]', '"text"', '42']) {
        const odd = await api(hub.url, 'POST', '/api/v1/auth/register', { body, headers: { 'content-type': 'application/json' } });
        expectProblem(odd, 422, 'validation_failed');
      }
      expectProblem(await api(hub.url, 'PATCH', '/api/v1/auth/me', { token: user.token, json: { display_name: 7 } }), 422, 'validation_failed');
    });

    it('a body over http.jsonLimitBytes is 413, declared or streamed', async () => {
      expect(hub.config.http.jsonLimitBytes).toBe(JSON_LIMIT);
      const big = { username: 'big_body', password: 'x'.repeat(JSON_LIMIT) };
      expectProblem(await api(hub.url, 'POST', '/api/v1/auth/register', { json: big }), 413, 'payload_too_large');
      // Chunked, so no content-length to refuse up front: the streaming count has to catch it.
      const chunked = await rawRequest(hub.url, 'POST', '/api/v1/auth/register', { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, [Buffer.from('{"username":"big_body","password":"'), Buffer.alloc(JSON_LIMIT, 'x'), Buffer.from('"}')]);
      expect(chunked.status).toBe(413);
      expect(chunked.headers['content-type']).toContain('application/problem+json');
      expect(JSON.parse(chunked.body)).toMatchObject({ status: 413, code: 'payload_too_large' });
      // Just under the limit is parsed normally.
      const fits = await api(hub.url, 'POST', '/api/v1/auth/register', { json: { username: 'fits_body', password: 'x'.repeat(200) } });
      expect(fits.status).toBe(201);
    });

    it('a wrong content-type is 415', async () => {
      expectProblem(await api(hub.url, 'POST', '/api/v1/auth/register', { body: 'username=a', headers: { 'content-type': 'text/plain' } }), 415, 'unsupported_media_type');
      // register is JSON only; token also accepts forms.
      expectProblem(await api(hub.url, 'POST', '/api/v1/auth/register', { form: { username: 'form_user', password: 'long-enough-pw' } }), 415, 'unsupported_media_type');
      expectProblem(await api(hub.url, 'POST', '/api/v1/auth/token', { body: '{}', headers: { 'content-type': 'multipart/form-data; boundary=x' } }), 415, 'unsupported_media_type');
      expectProblem(await api(hub.url, 'POST', '/api/v1/auth/register', { body: '{}' }), 415, 'unsupported_media_type');
      // Parameters on the media type are fine.
      const charset = await api(hub.url, 'POST', '/api/v1/auth/register', { body: JSON.stringify({ username: 'charset_user', password: 'long-enough-pw' }), headers: { 'content-type': 'application/json; charset=utf-8' } });
      expect(charset.status).toBe(201);
    });
  });

  describe('tokens', () => {
    const me = (token: string | undefined, base = hub.url) => api(base, 'GET', '/api/v1/auth/me', token ? { token } : {});

    it('a well-formed own token works (control)', async () => {
      expect((await me(await ownToken())).status).toBe(200);
    });

    it('a missing token is 401 token_missing with WWW-Authenticate', async () => {
      const res = await me(undefined);
      expectProblem(res, 401, 'token_missing');
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
    });

    it('garbled tokens and headers are 401 token_malformed', async () => {
      for (const token of ['not-a-jwt', 'a.b.c', `${b64url({ alg: 'HS256' })}.%%%.sig`, 'x'.repeat(9000)]) {
        expectProblem(await me(token), 401, 'token_malformed');
      }
      for (const authorization of ['Basic dXNlcjpwYXNz', 'Bearer', 'Bearer a b']) {
        expectProblem(await api(hub.url, 'GET', '/api/v1/auth/me', { headers: { authorization } }), 401, 'token_malformed');
      }
    });

    it('an expired token is 401 token_expired', async () => {
      const now = Math.floor(Date.now() / 1000);
      expectProblem(await me(await ownToken({ iat: now - 3600, exp: now - 600 })), 401, 'token_expired');
    });

    it('a not-yet-valid token is 401 token_not_yet_valid', async () => {
      expectProblem(await me(await ownToken({ nbf: Math.floor(Date.now() / 1000) + 600 })), 401, 'token_not_yet_valid');
    });

    it('alg none is refused, whichever issuer it claims', async () => {
      const now = Math.floor(Date.now() / 1000);
      const claims = { typ: 'access', role: 'admin', sub: `user:${user.userId}`, jti: randomUUID(), iat: now, exp: now + 600 };
      const own = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ ...claims, iss: 'easel', aud: 'easel' })}.`;
      expectProblem(await me(own), 401, 'token_alg_not_allowed');
      const ext = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ ...claims, iss: EXT_ISSUER, aud: EXT_AUDIENCE, user_id: 1 })}.`;
      expectProblem(await me(ext), 401, 'token_alg_not_allowed');
    });

    it('HS256 MACed with the external RS256 public key PEM is refused', async () => {
      const forged = await ownToken({ iss: EXT_ISSUER, aud: EXT_AUDIENCE, user_id: user.userId }, new TextEncoder().encode(rsaPublicPem));
      expectProblem(await me(forged), 401, 'token_invalid_signature');
    });

    it('wrong iss and wrong aud are 401 token_bad_claims', async () => {
      expectProblem(await me(await ownToken({ iss: 'someone-else' })), 401, 'token_bad_claims');
      expectProblem(await me(await ownToken({ aud: 'another-api' })), 401, 'token_bad_claims');
      // Right signature and issuer, but not an access token shape.
      expectProblem(await me(await ownToken({ sub: 'admin' })), 401, 'token_bad_claims');
    });

    it('a tampered payload is 401 token_invalid_signature', async () => {
      const [head, , sig] = (await ownToken()).split('.');
      const now = Math.floor(Date.now() / 1000);
      const payload = b64url({ typ: 'access', role: 'admin', sub: `user:${user.userId}`, jti: randomUUID(), iss: 'easel', aud: 'easel', iat: now, exp: now + 600 });
      expectProblem(await me(`${head}.${payload}.${sig}`), 401, 'token_invalid_signature');
      // Signed with another secret of the right length.
      expectProblem(await me(await ownToken({}, new TextEncoder().encode('another-secret-that-is-long-enough-32b'))), 401, 'token_invalid_signature');
    });

    it('an external token signed by another key is refused; the right key works (control)', async () => {
      const now = Math.floor(Date.now() / 1000);
      const sign = (key: typeof rsa.privateKey) =>
        new SignJWT({ user_id: 777 }).setProtectedHeader({ alg: 'RS256' }).setIssuer(EXT_ISSUER).setAudience(EXT_AUDIENCE).setIssuedAt(now).setExpirationTime(now + 600).sign(key);
      expectProblem(await me(await sign(otherRsa.privateKey)), 401, 'token_invalid_signature');
      expect((await me(await sign(rsa.privateKey))).status).toBe(200);
    });

    it('an unknown kid against a JWKS is 401 token_unknown_key', async () => {
      const now = Math.floor(Date.now() / 1000);
      const sign = (kid: string) =>
        new SignJWT({ user_id: 9 }).setProtectedHeader({ alg: 'RS256', kid }).setIssuer(EXT_ISSUER).setAudience(EXT_AUDIENCE).setIssuedAt(now).setExpirationTime(now + 600).sign(rsa.privateKey);
      expect((await me(await sign('known-key'), jwksHub.url)).status).toBe(200);
      expectProblem(await me(await sign('unknown-key'), jwksHub.url), 401, 'token_unknown_key');
    });
  });

  describe('routing and headers', () => {
    it('an unknown route is a 404 problem', async () => {
      const res = await api(hub.url, 'GET', '/api/v1/does-not-exist');
      expectProblem(res, 404, 'route_not_found');
      expect(res.body.instance).toBe('/api/v1/does-not-exist');
    });

    it('a wrong method is 405 with an Allow header', async () => {
      const res = await api(hub.url, 'GET', '/api/v1/auth/register');
      expectProblem(res, 405, 'method_not_allowed');
      expect(res.headers.get('allow')).toBe('POST');
      const me = await api(hub.url, 'PUT', '/api/v1/auth/me', { json: {} });
      expectProblem(me, 405, 'method_not_allowed');
      expect(me.headers.get('allow')?.split(', ').sort()).toEqual(['DELETE', 'GET', 'HEAD', 'PATCH']);
      expect((await api(hub.url, 'DELETE', '/health')).headers.get('allow')?.split(', ').sort()).toEqual(['GET', 'HEAD']);
    });

    it('HEAD /health answers with headers and no body', async () => {
      const res = await fetch(`${hub.url}/health`, { method: 'HEAD' });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('application/json');
      expect(await res.text()).toBe('');
    });

    it('HEAD and 204 replies leave a keep-alive connection usable', async () => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      try {
        const steps: [string, string, number, string | undefined][] = [
          ['HEAD', '/health', 200, undefined],
          ['GET', '/health', 200, undefined],
          ['HEAD', '/api/v1/auth/register', 405, undefined],
          ['HEAD', '/nope', 404, undefined],
          ['POST', '/api/v1/auth/logout', 204, '{"refresh_token":"unknown"}'],
          ['GET', '/health', 200, undefined],
        ];
        for (const [i, [method, path, status, body]] of steps.entries()) {
          const res = await rawRequest(hub.url, method, path, body ? { 'content-type': 'application/json' } : {}, body ? [Buffer.from(body)] : [], agent);
          expect(res.status, `${method} ${path}`).toBe(status);
          expect(res.reused, `${method} ${path} on the same connection`).toBe(i > 0);
          if (method === 'HEAD') {
            expect(res.body).toBe('');
            expect(Number(res.headers['content-length'])).toBeGreaterThan(0);
          }
          if (status === 204) expect(res.headers['content-length']).toBeUndefined();
          if (status === 405) expect(res.headers.allow).toBe('POST');
        }
      } finally {
        agent.destroy();
      }
    });

    it('echoes a sent x-request-id and makes one up otherwise', async () => {
      const sent = await api(hub.url, 'GET', '/health', { headers: { 'x-request-id': 'trace-abc.123' } });
      expect(sent.headers.get('x-request-id')).toBe('trace-abc.123');
      const problem = await api(hub.url, 'GET', '/nope', { headers: { 'x-request-id': 'trace-404' } });
      expect(problem.headers.get('x-request-id')).toBe('trace-404');
      expect(problem.body.request_id).toBe('trace-404');
      const made = await api(hub.url, 'GET', '/health');
      expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      // A hostile id is replaced, not reflected.
      const hostile = await api(hub.url, 'GET', '/health', { headers: { 'x-request-id': 'a b<script>' } });
      expect(hostile.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    });
  });

  it('still serves /health and real requests after the whole batch', async () => {
    const health = await api(hub.url, 'GET', '/health');
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: 'ok', engine });
    expect((await api(hub.url, 'GET', '/api/v1/auth/me', { token: user.token })).status).toBe(200);
    expect((await api(jwksHub.url, 'GET', '/health')).status).toBe(200);
  });
});
