import { createHmac, randomUUID } from 'node:crypto';
import { SignJWT, errors, jwtVerify } from 'jose';
import { z } from 'zod';
import { BadRequestError } from '../../platform/errors.js';

/** What a matchup token binds: the pair as shown, the viewer it was issued to, and when. */
export interface MatchupClaims {
  matchupId: string;
  leftId: number;
  rightId: number;
  /** actorKey of the viewer (`user:12`, `guest:…`). */
  viewer: string;
  /** Issue time in ms (the vote's time taken is measured from it). */
  issuedAtMs: number;
  /** Unix seconds. */
  expiresAt: number;
}

export interface MatchupTokens {
  issue(pair: { leftId: number; rightId: number; viewer: string }): Promise<{ token: string; claims: MatchupClaims }>;
  /** Every failure is a 400: `matchup_expired` or `matchup_token_invalid`. */
  verify(token: string): Promise<MatchupClaims>;
}

export interface MatchupTokenOptions {
  /** The hub's JWT secret; matchup tokens are signed with a key derived from it, never with it directly. */
  secret: string;
  issuer: string;
  ttlSeconds: number;
  /** Clock in ms; tests move it. */
  now?: () => number;
}

// A distinct key, header type and audience: an access token cannot pass as a matchup token or the reverse,
// even though both are HS256 from the same secret.
const KEY_LABEL = 'easel matchup token v1';
const HEADER_TYP = 'easel-matchup+jwt';
const AUDIENCE = 'easel:matchup';
const int4 = z.int().positive().max(2_147_483_647);
const Claims = z.object({ jti: z.uuid(), l: int4, r: int4, v: z.string().min(1).max(200), t: z.int().min(0), exp: z.int() });

const invalid = (cause?: unknown) => new BadRequestError('matchup token is not one this server issued for you', 'matchup_token_invalid', { cause });

/**
 * Server-signed matchups, so a client can vote only on a pair the server showed it, before the expiry.
 *
 * @example
 * const tokens = createMatchupTokens({ secret: config.auth.jwtSecret, issuer: 'easel', ttlSeconds: 600 });
 * const { token } = await tokens.issue({ leftId: 3, rightId: 9, viewer: 'user:12' });
 * (await tokens.verify(token)).rightId; // 9
 */
export function createMatchupTokens(opts: MatchupTokenOptions): MatchupTokens {
  const now = opts.now ?? Date.now;
  const derived = createHmac('sha256', opts.secret).update(KEY_LABEL).digest();
  const key = crypto.subtle.importKey('raw', derived, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
  return {
    async issue({ leftId, rightId, viewer }) {
      const issuedAtMs = now();
      const iat = Math.floor(issuedAtMs / 1000);
      const claims: MatchupClaims = { matchupId: randomUUID(), leftId, rightId, viewer, issuedAtMs, expiresAt: iat + opts.ttlSeconds };
      const token = await new SignJWT({ l: leftId, r: rightId, v: viewer, t: issuedAtMs })
        .setProtectedHeader({ alg: 'HS256', typ: HEADER_TYP })
        .setIssuer(opts.issuer)
        .setAudience(AUDIENCE)
        .setIssuedAt(iat)
        .setExpirationTime(claims.expiresAt)
        .setJti(claims.matchupId)
        .sign(await key);
      return { token, claims };
    },
    async verify(token) {
      let payload: unknown;
      try {
        ({ payload } = await jwtVerify(token, await key, {
          algorithms: ['HS256'],
          typ: HEADER_TYP,
          issuer: opts.issuer,
          audience: AUDIENCE,
          currentDate: new Date(now()),
          clockTolerance: 0,
          requiredClaims: ['exp', 'jti'],
        }));
      } catch (err) {
        if (err instanceof errors.JWTExpired) throw new BadRequestError('matchup expired; fetch a new one', 'matchup_expired', { cause: err });
        throw invalid(err);
      }
      const parsed = Claims.safeParse(payload);
      if (!parsed.success || parsed.data.l === parsed.data.r) throw invalid();
      const c = parsed.data;
      return { matchupId: c.jti, leftId: c.l, rightId: c.r, viewer: c.v, issuedAtMs: c.t, expiresAt: c.exp };
    },
  };
}
