import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, type CryptoKey } from 'jose';
import { createExternalVerifier, type ExternalVerifierOptions } from './external-issuer.js';

const ISSUER = 'https://auth.example';
const AUDIENCE = 'easel';

interface Pair {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
}
let rsa: Pair;
let ec: Pair;
let server: Server;
let jwksUrl: string;
let jwksHits = 0;

function sign(key: CryptoKey, alg: 'RS256' | 'ES256', claims: Record<string, unknown>, kid?: string) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg, ...(kid ? { kid } : {}) })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(key);
}

async function expectCode(promise: Promise<unknown>, code: string, status = 401) {
  await expect(promise).rejects.toMatchObject({ status, code });
}

beforeAll(async () => {
  rsa = await generateKeyPair('RS256', { extractable: true });
  ec = await generateKeyPair('ES256', { extractable: true });
  const keys = [
    { ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' },
    { ...(await exportJWK(ec.publicKey)), kid: 'ec-1', alg: 'ES256', use: 'sig' },
  ];
  server = createServer((req, res) => {
    jwksHits += 1;
    if (req.url !== '/.well-known/jwks.json') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
});

afterAll(async () => {
  await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
});

const base = (extra: Partial<ExternalVerifierOptions>): ExternalVerifierOptions => ({
  issuer: ISSUER,
  audience: AUDIENCE,
  algorithms: ['RS256', 'ES256'],
  userIdClaim: 'user_id',
  clockToleranceSeconds: 0,
  ...extra,
});

describe('external verifier with a JWKS URL', () => {
  it('maps user_id to subject and picks up the username (RS256)', async () => {
    const verifier = createExternalVerifier(base({ jwksUrl }));
    const identity = await verifier.verify(await sign(rsa.privateKey, 'RS256', { user_id: 42, username: 'ada', token_type: 'access' }, 'rsa-1'));
    expect(identity).toEqual({ kind: 'external', issuer: ISSUER, subject: '42', username: 'ada', expiresAt: expect.any(Number) });
  });

  it('verifies ES256 from the same key set and falls back to sub', async () => {
    const verifier = createExternalVerifier(base({ jwksUrl }));
    const token = await sign(ec.privateKey, 'ES256', { sub: 'u-9', preferred_username: 'grace' }, 'ec-1');
    await expect(verifier.verify(token)).resolves.toMatchObject({ subject: 'u-9', username: 'grace' });
  });

  it('rejects an unknown kid', async () => {
    const stranger = await generateKeyPair('RS256');
    const verifier = createExternalVerifier(base({ jwksUrl, jwksCooldownMs: 0 }));
    await expectCode(verifier.verify(await sign(stranger.privateKey, 'RS256', { user_id: 1 }, 'rsa-rotated')), 'token_unknown_key');
  });

  it('rejects a token signed by a different key under a known kid', async () => {
    const stranger = await generateKeyPair('RS256');
    const verifier = createExternalVerifier(base({ jwksUrl }));
    await expectCode(verifier.verify(await sign(stranger.privateKey, 'RS256', { user_id: 1 }, 'rsa-1')), 'token_invalid_signature');
  });

  it('caches the key set instead of fetching per token', async () => {
    const verifier = createExternalVerifier(base({ jwksUrl }));
    const token = await sign(rsa.privateKey, 'RS256', { user_id: 5 }, 'rsa-1');
    const before = jwksHits;
    await verifier.verify(token);
    await verifier.verify(token);
    expect(jwksHits - before).toBe(1);
  });

  it('reports an unreachable key set as 503, not as a bad token', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/jwks.json`;
    await new Promise((resolve) => closed.close(resolve));
    const verifier = createExternalVerifier(base({ jwksUrl: url }));
    await expectCode(verifier.verify(await sign(rsa.privateKey, 'RS256', { user_id: 1 }, 'rsa-1')), 'token_issuer_unavailable', 503);
  });

  it('refuses a plain-http key set off loopback', () => {
    expect(() => createExternalVerifier(base({ jwksUrl: 'http://auth.example/jwks.json' }))).toThrow(/https/);
  });
});

describe('external verifier with a PEM key', () => {
  it('verifies ES256', async () => {
    const verifier = createExternalVerifier(base({ algorithms: ['ES256'], publicKeyPem: await exportSPKI(ec.publicKey) }));
    await expect(verifier.verify(await sign(ec.privateKey, 'ES256', { user_id: '17' }))).resolves.toMatchObject({ subject: '17' });
  });

  it('rejects bad claims, expiry, refresh tokens and disallowed algorithms', async () => {
    const pem = await exportSPKI(rsa.publicKey);
    const verifier = createExternalVerifier(base({ algorithms: ['RS256'], publicKeyPem: pem }));
    const forge = (claims: Record<string, unknown>) =>
      new SignJWT({ iss: ISSUER, aud: AUDIENCE, exp: Math.floor(Date.now() / 1000) + 60, ...claims }).setProtectedHeader({ alg: 'RS256' }).sign(rsa.privateKey);
    await expectCode(verifier.verify(await forge({ user_id: 1, iss: 'https://evil.example' })), 'token_bad_claims');
    await expectCode(verifier.verify(await forge({ user_id: 1, aud: 'other' })), 'token_bad_claims');
    await expectCode(verifier.verify(await forge({ user_id: 1, exp: Math.floor(Date.now() / 1000) - 10 })), 'token_expired');
    await expectCode(verifier.verify(await forge({ user_id: 1, nbf: Math.floor(Date.now() / 1000) + 600 })), 'token_not_yet_valid');
    await expectCode(verifier.verify(await forge({ user_id: 1, exp: undefined })), 'token_bad_claims');
    await expectCode(verifier.verify(await forge({ user_id: 1, token_type: 'refresh' })), 'token_bad_claims');
    await expectCode(verifier.verify(await forge({ username: 'no-id' })), 'token_bad_claims');
    await expectCode(verifier.verify(await sign(ec.privateKey, 'ES256', { user_id: 1 })), 'token_alg_not_allowed');
    const hs = await new SignJWT({ user_id: 1, iss: ISSUER, aud: AUDIENCE, exp: Math.floor(Date.now() / 1000) + 60 })
      .setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(pem));
    await expectCode(verifier.verify(hs), 'token_alg_not_allowed');
  });

  it('rejects a correctly signed token whose exp is Infinity', async () => {
    const verifier = createExternalVerifier(base({ algorithms: ['RS256'], publicKeyPem: await exportSPKI(rsa.publicKey) }));
    const enc = (text: string) => Buffer.from(text).toString('base64url');
    const input = `${enc('{"alg":"RS256"}')}.${enc(`{"user_id":1,"iss":"${ISSUER}","aud":"${AUDIENCE}","exp":1e400}`)}`;
    const signature = await crypto.subtle.sign('RSASSA-PKCS1-v1_5', rsa.privateKey, Buffer.from(input));
    await expectCode(verifier.verify(`${input}.${Buffer.from(signature).toString('base64url')}`), 'token_bad_claims');
  });

  it('refuses a key that fits none of the configured algorithms', async () => {
    const pem = await exportSPKI(rsa.publicKey);
    expect(() => createExternalVerifier(base({ algorithms: ['ES256'], publicKeyPem: pem }))).toThrow(/fits none/);
  });
});

describe('external claims that would not fit the database', () => {
  it('strips NUL from the user id and username instead of failing, and refuses an id over 255 characters', async () => {
    const verifier = createExternalVerifier(base({ algorithms: ['RS256'], publicKeyPem: await exportSPKI(rsa.publicKey) }));
    const token = await sign(rsa.privateKey, 'RS256', { user_id: 'u\u00007', username: 'ad\u0000a' });
    await expect(verifier.verify(token)).resolves.toMatchObject({ subject: 'u7', username: 'ada' });
    const onlyNul = await sign(rsa.privateKey, 'RS256', { user_id: 8, username: '\u0000\u0000' });
    expect(await verifier.verify(onlyNul)).not.toHaveProperty('username');
    await expectCode(verifier.verify(await sign(rsa.privateKey, 'RS256', { user_id: '\u0000' })), 'token_bad_claims');
    await expectCode(verifier.verify(await sign(rsa.privateKey, 'RS256', { user_id: 'x'.repeat(256) })), 'token_bad_claims');
  });
});
