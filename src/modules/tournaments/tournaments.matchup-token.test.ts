import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../platform/errors.js';
import { createTokenService } from '../identity/tokens.js';
import { createMatchupTokens } from './tournaments.matchup-token.js';

const SECRET = 'x'.repeat(48);
const pair = { leftId: 3, rightId: 9, viewer: 'user:12' };

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    return err instanceof AppError ? `${err.status} ${err.code}` : `not an AppError: ${String(err)}`;
  }
  return 'accepted';
}

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

describe('matchup tokens', () => {
  it('round-trip the pair, the viewer, the matchup id and the issue time', async () => {
    let clock = 1_700_000_000_123;
    const tokens = createMatchupTokens({ secret: SECRET, issuer: 'easel', ttlSeconds: 60, now: () => clock });
    const { token, claims } = await tokens.issue(pair);
    expect(claims).toMatchObject({ ...pair, issuedAtMs: 1_700_000_000_123, expiresAt: 1_700_000_060 });
    clock += 59_000;
    expect(await tokens.verify(token)).toEqual(claims);
  });

  it('each matchup gets its own id', async () => {
    const tokens = createMatchupTokens({ secret: SECRET, issuer: 'easel', ttlSeconds: 60 });
    const a = await tokens.issue(pair);
    const b = await tokens.issue(pair);
    expect(a.claims.matchupId).not.toBe(b.claims.matchupId);
  });

  it('expire after the ttl (400 matchup_expired)', async () => {
    let clock = 1_700_000_000_000;
    const tokens = createMatchupTokens({ secret: SECRET, issuer: 'easel', ttlSeconds: 60, now: () => clock });
    const { token } = await tokens.issue(pair);
    clock += 61_000;
    expect(await codeOf(tokens.verify(token))).toBe('400 matchup_expired');
  });

  it('refuse a token whose payload was changed (another pair) without the key', async () => {
    const tokens = createMatchupTokens({ secret: SECRET, issuer: 'easel', ttlSeconds: 60 });
    const { token } = await tokens.issue(pair);
    const [header, payload, signature] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
    const forged = [header, b64({ ...claims, r: 10 }), signature].join('.');
    expect(await codeOf(tokens.verify(forged))).toBe('400 matchup_token_invalid');
    const otherViewer = [header, b64({ ...claims, v: 'user:13' }), signature].join('.');
    expect(await codeOf(tokens.verify(otherViewer))).toBe('400 matchup_token_invalid');
  });

  it('refuse tokens signed with another secret, alg none, garbage and an empty string', async () => {
    const tokens = createMatchupTokens({ secret: SECRET, issuer: 'easel', ttlSeconds: 60 });
    const other = createMatchupTokens({ secret: 'y'.repeat(48), issuer: 'easel', ttlSeconds: 60 });
    expect(await codeOf(tokens.verify((await other.issue(pair)).token))).toBe('400 matchup_token_invalid');
    const { token } = await tokens.issue(pair);
    const [, payload] = token.split('.');
    const none = `${b64({ alg: 'none', typ: 'easel-matchup+jwt' })}.${payload}.`;
    expect(await codeOf(tokens.verify(none))).toBe('400 matchup_token_invalid');
    expect(await codeOf(tokens.verify('not.a.token'))).toBe('400 matchup_token_invalid');
    expect(await codeOf(tokens.verify(''))).toBe('400 matchup_token_invalid');
  });

  it('an access token from the same secret is not a matchup token, and a matchup token is not an access token', async () => {
    const access = createTokenService({ secret: SECRET, issuer: 'easel', audience: 'easel', accessTtlSeconds: 60, guestTtlSeconds: 60, workerTtlSeconds: 60 });
    const tokens = createMatchupTokens({ secret: SECRET, issuer: 'easel', ttlSeconds: 60 });
    const { token: accessToken } = await access.issueAccess({ id: 12, role: 'user' });
    expect(await codeOf(tokens.verify(accessToken))).toBe('400 matchup_token_invalid');
    const { token } = await tokens.issue(pair);
    expect(await codeOf(access.verify(token))).toMatch(/^401 token_/);
  });

  it('refuse a correctly signed token with the wrong shape (same image twice)', async () => {
    // Signed with the derived key the way the module does it, to reach the claim checks past the signature.
    const { createHmac } = await import('node:crypto');
    const key = createHmac('sha256', SECRET).update('easel matchup token v1').digest();
    const now = Math.floor(Date.now() / 1000);
    const sign = (claims: Record<string, unknown>) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'easel-matchup+jwt' }).setIssuer('easel').setAudience('easel:matchup').setExpirationTime(now + 60).setJti(crypto.randomUUID()).sign(key);
    const tokens = createMatchupTokens({ secret: SECRET, issuer: 'easel', ttlSeconds: 60 });
    expect(await codeOf(tokens.verify(await sign({ l: 3, r: 9, v: 'user:1', t: Date.now() })))).toBe('accepted');
    expect(await codeOf(tokens.verify(await sign({ l: 3, r: 3, v: 'user:1', t: Date.now() })))).toBe('400 matchup_token_invalid');
    expect(await codeOf(tokens.verify(await sign({ l: 3, r: -1, v: 'user:1', t: Date.now() })))).toBe('400 matchup_token_invalid');
    expect(await codeOf(tokens.verify(await sign({ l: 3, r: 9, t: Date.now() })))).toBe('400 matchup_token_invalid');
  });
});
