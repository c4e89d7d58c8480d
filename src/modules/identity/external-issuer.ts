import { createPublicKey } from 'node:crypto';
import { createRemoteJWKSet, errors, importSPKI, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { AppError, UnauthorizedError } from '../../platform/errors.js';
import { peekToken, toTokenError } from './tokens.js';

export type ExternalAlgorithm = 'RS256' | 'ES256';

/** Identity asserted by the external auth server; mapping it to a local user is the identity service's job. */
export interface ExternalIdentity {
  kind: 'external';
  issuer: string;
  subject: string;
  username?: string;
  /** The token's `exp`, in Unix seconds. */
  expiresAt: number;
}

export interface ExternalVerifier {
  verify(token: string): Promise<ExternalIdentity>;
}

export interface ExternalVerifierOptions {
  issuer: string;
  audience: string;
  algorithms: ExternalAlgorithm[];
  /** SPKI PEM of the issuer's signing key. Exactly one of `publicKeyPem` and `jwksUrl`. */
  publicKeyPem?: string;
  jwksUrl?: string;
  /** Claim holding the user id: seed 000's Django server uses `user_id`; `sub` is the fallback. */
  userIdClaim: string;
  clockToleranceSeconds?: number;
  jwksTimeoutMs?: number;
  /** Minimum gap between refetches triggered by an unknown `kid`, so garbage tokens cannot hammer the issuer. */
  jwksCooldownMs?: number;
  jwksCacheMaxAgeMs?: number;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Which of the configured algorithms the PEM key can actually verify; fails at startup on a bad key. */
function algorithmsForPem(pem: string, configured: ExternalAlgorithm[]): ExternalAlgorithm[] {
  const key = createPublicKey(pem);
  const fits = (alg: ExternalAlgorithm) =>
    alg === 'RS256'
      ? key.asymmetricKeyType === 'rsa'
      : key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
  const usable = configured.filter(fits);
  if (usable.length === 0) throw new TypeError(`External public key fits none of ${configured.join(', ')}`);
  return usable;
}

function pemKeyResolver(pem: string, algorithms: ExternalAlgorithm[]): JWTVerifyGetKey {
  const imported = new Map(algorithms.map((alg) => [alg, importSPKI(pem, alg)] as const));
  for (const pending of imported.values()) {
    // The import is awaited per verification; this only keeps an early rejection from going unhandled.
    pending.catch(() => undefined);
  }
  return async (header) => {
    const key = imported.get(header.alg as ExternalAlgorithm);
    // jose has already refused algorithms outside the pinned list, so this is only a guard.
    if (!key) throw new errors.JOSEAlgNotAllowed('"alg" (Algorithm) Header Parameter value not allowed');
    return key;
  };
}

function jwksKeyResolver(url: URL, opts: ExternalVerifierOptions): JWTVerifyGetKey {
  const remote = createRemoteJWKSet(url, {
    timeoutDuration: opts.jwksTimeoutMs ?? 5_000,
    cooldownDuration: opts.jwksCooldownMs ?? 30_000,
    cacheMaxAge: opts.jwksCacheMaxAgeMs ?? 600_000,
  });
  return async (header, token) => {
    try {
      return await remote(header, token);
    } catch (err) {
      if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) throw err;
      // An unreachable or broken key set is the issuer's outage, not the caller's bad token: 503, not 401.
      throw new AppError(503, 'token_issuer_unavailable', 'External token issuer keys unavailable', { cause: err });
    }
  };
}

function parseJwksUrl(raw: string): URL {
  const url = new URL(raw);
  // Keys fetched over plain HTTP could be swapped in transit; only loopback (tests, sidecars) is exempt.
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(url.hostname))) {
    throw new TypeError('jwksUrl must use https');
  }
  return url;
}

// PostgreSQL refuses NUL in text; a claim is the issuer's data, not the caller's input, so it is cleaned, not refused.
const stripNul = (value: string) => value.replaceAll('\u0000', '');
// users.external_subject is varchar(255); an id cannot be cut without risking two people sharing a row.
const MAX_SUBJECT = 255;

function claimAsId(value: unknown): string | undefined {
  if (typeof value === 'string' && stripNul(value).length > 0) return stripNul(value);
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  return undefined;
}

/**
 * Verifies tokens from the external auth server (RS256/ES256 only, key from a PEM or a JWKS URL).
 *
 * @example
 * const external = createExternalVerifier({ issuer: 'https://auth.example', audience: 'easel', algorithms: ['RS256'], publicKeyPem, userIdClaim: 'user_id' });
 * const { subject } = await external.verify(token); // '42'
 */
export function createExternalVerifier(opts: ExternalVerifierOptions): ExternalVerifier {
  if (Boolean(opts.publicKeyPem) === Boolean(opts.jwksUrl)) {
    throw new TypeError('Configure exactly one of publicKeyPem and jwksUrl');
  }
  if (opts.algorithms.length === 0) throw new TypeError('At least one external algorithm is required');
  const algorithms = opts.publicKeyPem ? algorithmsForPem(opts.publicKeyPem, opts.algorithms) : [...opts.algorithms];
  const getKey = opts.publicKeyPem
    ? pemKeyResolver(opts.publicKeyPem, algorithms)
    : jwksKeyResolver(parseJwksUrl(opts.jwksUrl as string), opts);

  return {
    async verify(token) {
      peekToken(token);
      let payload: Record<string, unknown>;
      try {
        ({ payload } = await jwtVerify(token, getKey, {
          algorithms,
          issuer: opts.issuer,
          audience: opts.audience,
          clockTolerance: opts.clockToleranceSeconds ?? 5,
          requiredClaims: ['exp'],
        }));
      } catch (err) {
        throw toTokenError(err);
      }
      // JSON.parse reads 1e400 as Infinity, which jose's exp check would treat as "never expires".
      if (!Number.isFinite(payload.exp)) throw new UnauthorizedError('Token expiry invalid', 'token_bad_claims');
      // Django simplejwt signs refresh tokens with the same key; only access tokens may authenticate.
      if (payload.token_type !== undefined && payload.token_type !== 'access') {
        throw new UnauthorizedError('Token is not an access token', 'token_bad_claims');
      }
      const subject = claimAsId(payload[opts.userIdClaim]) ?? claimAsId(payload.sub);
      if (subject === undefined) throw new UnauthorizedError('Token has no user id', 'token_bad_claims');
      if (subject.length > MAX_SUBJECT) throw new UnauthorizedError('Token user id too long', 'token_bad_claims');
      const claimed = [payload.username, payload.preferred_username].find((v) => typeof v === 'string');
      const username = typeof claimed === 'string' && stripNul(claimed).trim() !== '' ? stripNul(claimed) : undefined;
      return {
        kind: 'external',
        issuer: opts.issuer,
        subject,
        ...(typeof username === 'string' ? { username } : {}),
        expiresAt: payload.exp as number,
      };
    },
  };
}
