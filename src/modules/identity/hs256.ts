import { createHmac, createSecretKey, timingSafeEqual } from 'node:crypto';
import { UnauthorizedError } from '../../platform/errors.js';

export interface Hs256Options {
  secret: string;
  issuer: string;
  audience: string;
  clockToleranceSeconds: number;
  requiredClaims: readonly string[];
}

const B64URL = /^[A-Za-z0-9_-]*$/;

const fail = (message: string, code: string, cause?: unknown) => new UnauthorizedError(message, code, cause === undefined ? {} : { cause });

function decodeJsonObject(part: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch (err) {
    throw fail('Token malformed', 'token_malformed', err);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw fail(`Token ${what} must be a JSON object`, 'token_malformed');
  return value as Record<string, unknown>;
}

/**
 * Verifies the HS256 tokens Easel issues, synchronously, with node:crypto's HMAC.
 *
 * jose's `jwtVerify` goes through WebCrypto, whose HMAC verify is an async job: a promise, a hop to
 * the thread pool and back for every authenticated request and handshake, a tenth of the CPU on the
 * `/auth/me` hot path. This does the same checks in the same order jose does, and maps failures onto
 * the same `token_*` codes (tokens.ts `toTokenError`): header JSON, `alg` pinned to HS256 (so `none`
 * and every asymmetric algorithm are refused before the key is used), `crit` refused, a constant-time
 * MAC comparison, then the claims: `iss`, `aud`, required claims, `iat`/`nbf`/`exp` types and times
 * with the clock tolerance. Tokens from an external issuer never come here (they are not HS256).
 */
export function createHs256Verifier(opts: Hs256Options): (token: string) => Record<string, unknown> {
  const key = createSecretKey(Buffer.from(opts.secret, 'utf8'));
  const tolerance = opts.clockToleranceSeconds;

  return function verify(token) {
    const parts = token.split('.');
    if (parts.length !== 3 || !parts.every((p) => B64URL.test(p))) throw fail('Token malformed', 'token_malformed');
    const [head, body, signature] = parts as [string, string, string];
    const header = decodeJsonObject(head, 'header');
    if (header.alg !== 'HS256') throw fail('Token algorithm not allowed', 'token_alg_not_allowed');
    // No extension is understood, so none may be marked critical (RFC 7515 §4.1.11).
    if (header.crit !== undefined) throw fail('Token header has unsupported critical parameters', 'token_malformed');
    const expected = createHmac('sha256', key).update(`${head}.${body}`).digest();
    const given = Buffer.from(signature, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw fail('Token signature invalid', 'token_invalid_signature');

    const claims = decodeJsonObject(body, 'claims');
    if (claims.iss !== opts.issuer) throw fail('Token claim "iss" rejected', 'token_bad_claims');
    const aud = claims.aud;
    if (!(aud === opts.audience || (Array.isArray(aud) && aud.includes(opts.audience)))) throw fail('Token claim "aud" rejected', 'token_bad_claims');
    for (const name of opts.requiredClaims) {
      if (!(name in claims)) throw fail(`Token claim "${name}" missing`, 'token_bad_claims');
    }
    const now = Math.floor(Date.now() / 1000);
    for (const name of ['iat', 'nbf', 'exp'] as const) {
      const v = claims[name];
      if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v))) throw fail(`Token claim "${name}" must be a number`, 'token_bad_claims');
    }
    if (typeof claims.nbf === 'number' && claims.nbf > now + tolerance) throw fail('Token not yet valid', 'token_not_yet_valid');
    if (typeof claims.exp === 'number' && claims.exp <= now - tolerance) throw fail('Token expired', 'token_expired');
    return claims;
  };
}
