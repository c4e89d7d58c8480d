import { createHmac } from 'node:crypto';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../platform/errors.js';
import { createHs256Verifier } from './hs256.js';

const SECRET = 'a-test-secret-that-is-at-least-32-bytes';
const verify = createHs256Verifier({ secret: SECRET, issuer: 'easel', audience: 'easel', clockToleranceSeconds: 5, requiredClaims: ['exp', 'iat', 'jti', 'sub'] });
const now = () => Math.floor(Date.now() / 1000);
const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const claims = () => ({ sub: 'user:1', jti: 'j', iss: 'easel', aud: 'easel', iat: now(), exp: now() + 60 });

/** Signs any header and payload text as-is, so the tests can build tokens jose would refuse to make. */
function signRaw(header: unknown, payload: unknown): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac('sha256', SECRET).update(input).digest('base64url')}`;
}

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return (err as AppError).code;
  }
  return 'accepted';
}

describe('HS256 verifier', () => {
  it('accepts what jose signs, with a string or an array audience', async () => {
    const key = new TextEncoder().encode(SECRET);
    const token = await new SignJWT({ jti: 'j' }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setSubject('user:1').setIssuer('easel').setAudience(['other', 'easel']).setIssuedAt().setExpirationTime('1m').sign(key);
    expect(verify(token)).toMatchObject({ sub: 'user:1', aud: ['other', 'easel'] });
    expect(code(() => verify(signRaw({ alg: 'HS256' }, claims())))).toBe('accepted');
  });

  it('refuses critical header parameters, and any algorithm but HS256 before looking at the signature', () => {
    expect(code(() => verify(signRaw({ alg: 'HS256', crit: ['b64'], b64: false }, claims())))).toBe('token_malformed');
    expect(code(() => verify(`${b64({ alg: 'HS512' })}.${b64(claims())}.`))).toBe('token_alg_not_allowed');
    expect(code(() => verify(`${b64({ alg: 'none' })}.${b64(claims())}.`))).toBe('token_alg_not_allowed');
  });

  it('refuses non-object headers and claims, and characters outside base64url', () => {
    expect(code(() => verify(signRaw({ alg: 'HS256' }, [1, 2])))).toBe('token_malformed');
    expect(code(() => verify(`${b64('"HS256"')}.${b64(claims())}.x`))).toBe('token_malformed');
    expect(code(() => verify(`${b64({ alg: 'HS256' })}.${b64(claims())}.ab+c`))).toBe('token_malformed');
    expect(code(() => verify(`${b64({ alg: 'HS256' })}.${b64(claims())}`))).toBe('token_malformed');
  });

  it('checks claim types, presence and times with the tolerance', () => {
    expect(code(() => verify(signRaw({ alg: 'HS256' }, { ...claims(), iat: 'yesterday' })))).toBe('token_bad_claims');
    expect(code(() => verify(signRaw({ alg: 'HS256' }, { ...claims(), jti: undefined })))).toBe('token_bad_claims');
    expect(code(() => verify(signRaw({ alg: 'HS256' }, { ...claims(), aud: ['other'] })))).toBe('token_bad_claims');
    expect(code(() => verify(signRaw({ alg: 'HS256' }, { ...claims(), exp: now() - 3 })))).toBe('accepted');
    expect(code(() => verify(signRaw({ alg: 'HS256' }, { ...claims(), exp: now() - 6 })))).toBe('token_expired');
    expect(code(() => verify(signRaw({ alg: 'HS256' }, { ...claims(), nbf: now() + 3 })))).toBe('accepted');
    expect(code(() => verify(signRaw({ alg: 'HS256' }, { ...claims(), nbf: now() + 30 })))).toBe('token_not_yet_valid');
  });

  it('refuses a MAC of the right length made with another key, and a truncated MAC', () => {
    const good = signRaw({ alg: 'HS256' }, claims());
    const [h, p] = good.split('.') as [string, string];
    const other = createHmac('sha256', 'another-secret-of-at-least-32-bytes!').update(`${h}.${p}`).digest('base64url');
    expect(code(() => verify(`${h}.${p}.${other}`))).toBe('token_invalid_signature');
    expect(code(() => verify(good.slice(0, -4)))).toBe('token_invalid_signature');
  });
});
