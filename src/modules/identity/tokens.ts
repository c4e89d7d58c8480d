import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { SignJWT, decodeJwt, decodeProtectedHeader, errors } from 'jose';
import { z } from 'zod';
import { AppError, UnauthorizedError } from '../../platform/errors.js';
import type { ExternalIdentity, ExternalVerifier } from './external-issuer.js';
import { createHs256Verifier } from './hs256.js';

/** Who a verified Easel-issued token speaks for. `expiresAt` is the token's `exp`, in Unix seconds. */
export type Principal =
  | { kind: 'user'; userId: number; role: 'user' | 'admin'; tokenId: string; expiresAt: number; tokenVersion: number }
  | { kind: 'guest'; guestId: string; tokenId: string; expiresAt: number }
  | { kind: 'worker'; workerId: string; tokenId: string; expiresAt: number };

export interface TokenServiceOptions {
  secret: string;
  issuer: string;
  audience: string;
  accessTtlSeconds: number;
  guestTtlSeconds: number;
  workerTtlSeconds: number;
  clockToleranceSeconds?: number;
}

export interface TokenService {
  /** `tokenVersion`: the user's version at issue; a password change bumps it and so revokes older tokens. */
  issueAccess(user: { id: number; role: 'user' | 'admin'; tokenVersion?: number }): Promise<{ token: string; expiresIn: number; tokenId: string }>;
  issueGuest(guestId: string): Promise<{ token: string; expiresIn: number }>;
  issueWorker(workerId: string, ttlSeconds?: number): Promise<{ token: string; expiresIn: number }>;
  /** Resolves to the principal or external identity; every failure is an UnauthorizedError with a `token_*` code. */
  verify(token: string): Promise<Principal | ExternalIdentity>;
}

// Real tokens are well under 1 KiB; refusing huge ones early bounds the work an anonymous caller can cause.
const MAX_TOKEN_LENGTH = 8192;
const MIN_SECRET_BYTES = 32;

const jti = z.string().min(1);
const exp = z.number().int();
const OwnClaims = z.discriminatedUnion('typ', [
  // `ver` is absent from tokens issued before versions existed: those count as version 0.
  z.object({ typ: z.literal('access'), sub: z.string().regex(/^user:[1-9][0-9]{0,15}$/), role: z.enum(['user', 'admin']), jti, exp, ver: z.int().min(0).max(2_147_483_647).optional() }),
  z.object({ typ: z.literal('guest'), sub: z.string().regex(/^guest:.+$/), role: z.literal('guest'), jti, exp }),
  z.object({ typ: z.literal('worker'), sub: z.string().regex(/^worker:.+$/), role: z.literal('worker'), jti, exp }),
]);

/**
 * Maps jose's error classes onto the stable `token_*` codes clients see. AppErrors pass through (a key
 * resolver may already have decided, e.g. that the issuer's key set is unreachable).
 */
export function toTokenError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const fail = (message: string, code: string) => new UnauthorizedError(message, code, { cause: err });
  if (err instanceof errors.JWTExpired) return fail('Token expired', 'token_expired');
  if (err instanceof errors.JWTClaimValidationFailed) {
    const early = (err.claim === 'nbf' || err.claim === 'iat') && err.reason === 'check_failed';
    if (early) return fail('Token not yet valid', 'token_not_yet_valid');
    return fail(`Token claim "${err.claim}" rejected`, 'token_bad_claims');
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return fail('Token signature invalid', 'token_invalid_signature');
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) {
    return fail('Token algorithm not allowed', 'token_alg_not_allowed');
  }
  if (err instanceof errors.JWKSNoMatchingKey) return fail('Token signing key unknown', 'token_unknown_key');
  if (err instanceof errors.JWKSMultipleMatchingKeys) return fail('Token signing key ambiguous', 'token_unknown_key');
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return fail('Token malformed', 'token_malformed');
  // jose reports some hostile inputs (non-finite numeric dates, bad key material in the token) as TypeError.
  if (err instanceof errors.JOSEError || err instanceof TypeError) return fail('Token malformed', 'token_malformed');
  return new AppError(500, 'internal', 'Token verification failed', { cause: err });
}

function checkTokenShape(token: string): void {
  if (typeof token !== 'string' || token.length === 0) throw new UnauthorizedError('Token missing', 'token_missing');
  if (token.length > MAX_TOKEN_LENGTH) throw new UnauthorizedError('Token too long', 'token_malformed');
}

/** Reads the unverified header and payload only to choose a verifier; nothing in them is trusted yet. */
export function peekToken(token: string): { alg: unknown; iss: unknown } {
  checkTokenShape(token);
  try {
    return { alg: decodeProtectedHeader(token).alg, iss: decodeJwt(token).iss };
  } catch (err) {
    throw new UnauthorizedError('Token malformed', 'token_malformed', { cause: err });
  }
}

function toPrincipal(claims: z.infer<typeof OwnClaims>): Principal {
  const id = claims.sub.slice(claims.sub.indexOf(':') + 1);
  switch (claims.typ) {
    case 'access':
      return { kind: 'user', userId: Number(id), role: claims.role, tokenId: claims.jti, expiresAt: claims.exp, tokenVersion: claims.ver ?? 0 };
    case 'guest':
      return { kind: 'guest', guestId: id, tokenId: claims.jti, expiresAt: claims.exp };
    case 'worker':
      return { kind: 'worker', workerId: id, tokenId: claims.jti, expiresAt: claims.exp };
  }
}

function assertTtl(name: string, seconds: number): void {
  if (!Number.isInteger(seconds) || seconds <= 0) throw new TypeError(`${name} must be a positive integer`);
}

/**
 * Issues and verifies the HS256 tokens Easel signs itself, and hands tokens from the external issuer
 * to `external` when one is configured.
 *
 * @example
 * const tokens = createTokenService({ secret, issuer: 'easel', audience: 'easel-api', accessTtlSeconds: 900, guestTtlSeconds: 86400, workerTtlSeconds: 3600 });
 * const { token } = await tokens.issueAccess({ id: 12, role: 'user' });
 * const principal = await tokens.verify(token); // { kind: 'user', userId: 12, ... }
 */
export function createTokenService(opts: TokenServiceOptions, external?: ExternalVerifier): TokenService {
  if (Buffer.byteLength(opts.secret, 'utf8') < MIN_SECRET_BYTES) {
    throw new TypeError(`Token secret must be at least ${MIN_SECRET_BYTES} bytes`);
  }
  assertTtl('accessTtlSeconds', opts.accessTtlSeconds);
  assertTtl('guestTtlSeconds', opts.guestTtlSeconds);
  assertTtl('workerTtlSeconds', opts.workerTtlSeconds);
  // Imported once: handed raw bytes, jose imports a WebCrypto key on every sign and verify, which
  // doubled the cost of verifying a token on the authenticated hot path.
  const key = crypto.subtle.importKey('raw', new TextEncoder().encode(opts.secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
  const clockTolerance = opts.clockToleranceSeconds ?? 5;

  async function sign(typ: 'access' | 'guest' | 'worker', sub: string, role: string, ttl: number, extra: Record<string, number> = {}) {
    const now = Math.floor(Date.now() / 1000);
    const tokenId = randomUUID();
    const token = await new SignJWT({ typ, role, ...extra })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(sub)
      .setIssuer(opts.issuer)
      .setAudience(opts.audience)
      .setIssuedAt(now)
      .setExpirationTime(now + ttl)
      .setJti(tokenId)
      .sign(await key);
    return { token, expiresIn: ttl, tokenId };
  }

  const verifyHs256 = createHs256Verifier({
    secret: opts.secret,
    issuer: opts.issuer,
    audience: opts.audience,
    clockToleranceSeconds: clockTolerance,
    requiredClaims: ['exp', 'iat', 'jti', 'sub'],
  });

  async function verifyOwn(token: string): Promise<Principal> {
    const claims = OwnClaims.safeParse(verifyHs256(token));
    if (!claims.success) throw new UnauthorizedError('Token claims rejected', 'token_bad_claims', { cause: claims.error });
    return toPrincipal(claims.data);
  }

  return {
    async issueAccess(user) {
      if (!Number.isSafeInteger(user.id) || user.id <= 0) throw new TypeError('user id must be a positive integer');
      const ver = user.tokenVersion ?? 0;
      if (!Number.isSafeInteger(ver) || ver < 0) throw new TypeError('tokenVersion must be a non-negative integer');
      return sign('access', `user:${user.id}`, user.role, opts.accessTtlSeconds, { ver });
    },
    async issueGuest(guestId) {
      if (!guestId) throw new TypeError('guestId must not be empty');
      const { token, expiresIn } = await sign('guest', `guest:${guestId}`, 'guest', opts.guestTtlSeconds);
      return { token, expiresIn };
    },
    async issueWorker(workerId, ttlSeconds = opts.workerTtlSeconds) {
      if (!workerId) throw new TypeError('workerId must not be empty');
      assertTtl('ttlSeconds', ttlSeconds);
      const { token, expiresIn } = await sign('worker', `worker:${workerId}`, 'worker', ttlSeconds);
      return { token, expiresIn };
    },
    async verify(token) {
      // With no external issuer there is nothing to choose between: skip decoding the token twice.
      if (!external) {
        checkTokenShape(token);
        return verifyOwn(token);
      }
      const { alg, iss } = peekToken(token);
      // Anything claiming HS256 or our issuer goes to our own pinned check, never to the external verifier,
      // so a token MACed with the external public key cannot pass as the external issuer's.
      if (alg === 'HS256' || iss === opts.issuer || !external) return verifyOwn(token);
      return external.verify(token);
    },
  };
}

/** An opaque refresh token: 32 random bytes, base64url. Only its hash is stored. */
export function newOpaqueToken(): string {
  return randomBytes(32).toString('base64url');
}

/** SHA-256 hex of an opaque token; the lookup key for stored refresh tokens. */
export function hashOpaqueToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
