import { createHmac } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { SignJWT, exportSPKI, generateKeyPair, type CryptoKey } from 'jose';
import { createExternalVerifier, type ExternalVerifier } from './external-issuer.js';
import { createTokenService, hashOpaqueToken, newOpaqueToken, type TokenServiceOptions } from './tokens.js';

const OPTS: TokenServiceOptions = {
  secret: 'test-secret-that-is-at-least-32-bytes-long',
  issuer: 'easel',
  audience: 'easel-api',
  accessTtlSeconds: 900,
  guestTtlSeconds: 3600,
  workerTtlSeconds: 600,
  clockToleranceSeconds: 0,
};
const EXT_ISSUER = 'https://auth.example';
const key = new TextEncoder().encode(OPTS.secret);
const now = () => Math.floor(Date.now() / 1000);
const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

function ownJwt(claims: Record<string, unknown>, header: Record<string, unknown> = {}) {
  return new SignJWT({ typ: 'access', role: 'user', sub: 'user:1', jti: 'j1', iss: OPTS.issuer, aud: OPTS.audience, iat: now(), exp: now() + 60, ...claims })
    .setProtectedHeader({ alg: 'HS256', ...header })
    .sign(key);
}

async function expectCode(promise: Promise<unknown>, code: string) {
  await expect(promise).rejects.toMatchObject({ name: 'UnauthorizedError', status: 401, code });
}

let rsaPrivate: CryptoKey;
let rsaPem: string;
let external: ExternalVerifier;

beforeAll(async () => {
  const pair = await generateKeyPair('RS256', { extractable: true });
  rsaPrivate = pair.privateKey;
  rsaPem = await exportSPKI(pair.publicKey);
  external = createExternalVerifier({ issuer: EXT_ISSUER, audience: 'easel', algorithms: ['RS256'], publicKeyPem: rsaPem, userIdClaim: 'user_id' });
});

describe('own tokens', () => {
  const tokens = createTokenService(OPTS);

  it('round-trips a user access token', async () => {
    const issued = await tokens.issueAccess({ id: 12, role: 'admin' });
    expect(issued.expiresIn).toBe(900);
    const principal = await tokens.verify(issued.token);
    expect(principal).toEqual({ kind: 'user', userId: 12, role: 'admin', tokenId: issued.tokenId, expiresAt: expect.any(Number), tokenVersion: 0 });
    expect((principal as { expiresAt: number }).expiresAt - now()).toBeGreaterThan(890);
  });

  it('carries the token version, and reads a token without one as version 0', async () => {
    const issued = await tokens.issueAccess({ id: 12, role: 'user', tokenVersion: 7 });
    await expect(tokens.verify(issued.token)).resolves.toMatchObject({ kind: 'user', tokenVersion: 7 });
    const key = new TextEncoder().encode(OPTS.secret);
    const legacy = await new SignJWT({ typ: 'access', role: 'user' })
      .setProtectedHeader({ alg: 'HS256' }).setSubject('user:12').setIssuer(OPTS.issuer).setAudience(OPTS.audience)
      .setIssuedAt().setExpirationTime('5m').setJti('legacy').sign(key);
    await expect(tokens.verify(legacy)).resolves.toMatchObject({ kind: 'user', tokenVersion: 0 });
    await expect(tokens.issueAccess({ id: 12, role: 'user', tokenVersion: -1 })).rejects.toThrow(TypeError);
  });

  it('round-trips guest and worker tokens', async () => {
    const guest = await tokens.issueGuest('3f0e0c1e-9a57-4a55-8b6f-2d2b0c8f9a11');
    await expect(tokens.verify(guest.token)).resolves.toMatchObject({ kind: 'guest', guestId: '3f0e0c1e-9a57-4a55-8b6f-2d2b0c8f9a11' });
    const worker = await tokens.issueWorker('gpu-1', 120);
    expect(worker.expiresIn).toBe(120);
    await expect(tokens.verify(worker.token)).resolves.toMatchObject({ kind: 'worker', workerId: 'gpu-1' });
  });

  it('gives every token its own jti', async () => {
    const [a, b] = await Promise.all([tokens.issueAccess({ id: 1, role: 'user' }), tokens.issueAccess({ id: 1, role: 'user' })]);
    expect(a.tokenId).not.toBe(b.tokenId);
  });

  it('rejects expired and not-yet-valid tokens', async () => {
    await expectCode(tokens.verify(await ownJwt({ iat: now() - 120, exp: now() - 60 })), 'token_expired');
    await expectCode(tokens.verify(await ownJwt({ nbf: now() + 300 })), 'token_not_yet_valid');
  });

  it('rejects alg none', async () => {
    const payload = { typ: 'access', role: 'admin', sub: 'user:1', jti: 'x', iss: OPTS.issuer, aud: OPTS.audience, iat: now(), exp: now() + 60 };
    await expectCode(tokens.verify(`${b64({ alg: 'none', typ: 'JWT' })}.${b64(payload)}.`), 'token_alg_not_allowed');
    await expectCode(tokens.verify(`${b64({ alg: 'none' })}.${b64({ ...payload, iss: EXT_ISSUER })}.`), 'token_alg_not_allowed');
  });

  it('rejects other algorithms claiming our issuer', async () => {
    const rs = await new SignJWT({ typ: 'access', role: 'admin', sub: 'user:1', jti: 'x' })
      .setProtectedHeader({ alg: 'RS256' }).setIssuer(OPTS.issuer).setAudience(OPTS.audience).setIssuedAt().setExpirationTime('1m')
      .sign(rsaPrivate);
    await expectCode(createTokenService(OPTS, external).verify(rs), 'token_alg_not_allowed');
  });

  it('rejects wrong issuer, wrong audience, unknown typ and missing exp', async () => {
    await expectCode(tokens.verify(await ownJwt({ iss: 'someone-else' })), 'token_bad_claims');
    await expectCode(tokens.verify(await ownJwt({ aud: 'other-api' })), 'token_bad_claims');
    await expectCode(tokens.verify(await ownJwt({ typ: 'refresh' })), 'token_bad_claims');
    await expectCode(tokens.verify(await ownJwt({ typ: 'guest', sub: 'user:1', role: 'guest' })), 'token_bad_claims');
    await expectCode(tokens.verify(await ownJwt({ exp: undefined })), 'token_bad_claims');
  });

  it('rejects a tampered payload', async () => {
    const { token } = await tokens.issueAccess({ id: 7, role: 'user' });
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const forged = `${header}.${b64({ ...claims, role: 'admin' })}.${signature}`;
    await expectCode(tokens.verify(forged), 'token_invalid_signature');
  });

  it('rejects a token signed with another secret', async () => {
    const other = createTokenService({ ...OPTS, secret: 'another-secret-that-is-32-bytes-long!!' });
    await expectCode(tokens.verify((await other.issueAccess({ id: 1, role: 'admin' })).token), 'token_invalid_signature');
  });

  it('rejects garbage and missing tokens', async () => {
    await expectCode(tokens.verify(''), 'token_missing');
    await expectCode(tokens.verify('not a token'), 'token_malformed');
    await expectCode(tokens.verify('a.b.c'), 'token_malformed');
    await expectCode(tokens.verify(`${b64({ alg: 'HS256' })}.${b64({ exp: 1 })}.AAAA`), 'token_invalid_signature');
    await expectCode(tokens.verify('x'.repeat(10_000)), 'token_malformed');
  });

  it('rejects a correctly signed token whose exp is not a finite number', async () => {
    // JSON.parse turns 1e400 into Infinity, which would otherwise read as "never expires".
    const claims = `{"typ":"access","role":"user","sub":"user:1","jti":"j","iss":"easel","aud":"easel-api","iat":${now()},"exp":1e400}`;
    const input = `${b64({ alg: 'HS256' })}.${Buffer.from(claims).toString('base64url')}`;
    const mac = createHmac('sha256', OPTS.secret).update(input).digest('base64url');
    await expectCode(tokens.verify(`${input}.${mac}`), 'token_bad_claims');
  });

  it('refuses a short secret', () => {
    expect(() => createTokenService({ ...OPTS, secret: 'short' })).toThrow(/at least 32 bytes/);
  });
});

describe('key confusion and external tokens', () => {
  it('rejects an HS256 token MACed with the external RS256 public key PEM', async () => {
    const forged = await new SignJWT({ user_id: 1, typ: 'access', role: 'admin', sub: 'user:1', jti: 'x' })
      .setProtectedHeader({ alg: 'HS256' }).setIssuer(EXT_ISSUER).setAudience('easel').setIssuedAt().setExpirationTime('1m')
      .sign(new TextEncoder().encode(rsaPem));
    await expectCode(createTokenService(OPTS, external).verify(forged), 'token_invalid_signature');
    await expectCode(external.verify(forged), 'token_alg_not_allowed');
  });

  it('hands RS256 tokens from the external issuer to the external verifier', async () => {
    const token = await new SignJWT({ user_id: 42, username: 'ada' })
      .setProtectedHeader({ alg: 'RS256' }).setIssuer(EXT_ISSUER).setAudience('easel').setIssuedAt().setExpirationTime('5m')
      .sign(rsaPrivate);
    await expect(createTokenService(OPTS, external).verify(token)).resolves.toMatchObject({ kind: 'external', subject: '42', username: 'ada' });
    await expectCode(createTokenService(OPTS).verify(token), 'token_alg_not_allowed');
  });
});

describe('opaque refresh tokens', () => {
  it('are 32 random bytes in base64url and hash to stable sha256 hex', () => {
    const a = newOpaqueToken();
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a).not.toBe(newOpaqueToken());
    expect(hashOpaqueToken(a)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashOpaqueToken(a)).toBe(hashOpaqueToken(a));
    expect(hashOpaqueToken('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});
