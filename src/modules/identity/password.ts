import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Password hashing with node's scrypt. Encoded as `scrypt$N$r$p$saltB64$hashB64` so the cost can be
 * raised later: verification reads the parameters from the stored value, and `needsRehash` tells the
 * login path when to re-hash with the current ones.
 */
const CURRENT = { N: 16384, r: 8, p: 1, saltBytes: 16, keyBytes: 64 } as const;

// Bounds keep a corrupted or hostile stored value from making one verification eat gigabytes or minutes.
const LIMITS = { maxN: 2 ** 20, maxR: 32, maxP: 16, minSalt: 8, minKey: 16, maxKey: 128 } as const;

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const INTEGER = /^[1-9][0-9]{0,9}$/;

interface Decoded {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

function derive(plain: string, salt: Buffer, keyBytes: number, N: number, r: number, p: number): Promise<Buffer> {
  // Node refuses scrypt above `maxmem` (32 MiB by default); size it to the parameters, with headroom.
  const options: ScryptOptions = { N, r, p, maxmem: 256 * N * r + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scrypt(plain.normalize('NFKC'), salt, keyBytes, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

function decode(encoded: string): Decoded | null {
  const parts = encoded.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return null;
  const [, nText, rText, pText, saltText, hashText] = parts as [string, string, string, string, string, string];
  if (![nText, rText, pText].every((x) => INTEGER.test(x))) return null;
  if (!BASE64.test(saltText) || !BASE64.test(hashText)) return null;
  const N = Number(nText);
  const r = Number(rText);
  const p = Number(pText);
  const powerOfTwo = N > 1 && (N & (N - 1)) === 0;
  if (!powerOfTwo || N > LIMITS.maxN || r > LIMITS.maxR || p > LIMITS.maxP) return null;
  const salt = Buffer.from(saltText, 'base64');
  const hash = Buffer.from(hashText, 'base64');
  if (salt.length < LIMITS.minSalt || hash.length < LIMITS.minKey || hash.length > LIMITS.maxKey) return null;
  return { N, r, p, salt, hash };
}

export async function hashPassword(plain: string): Promise<string> {
  const { N, r, p } = CURRENT;
  const salt = randomBytes(CURRENT.saltBytes);
  const hash = await derive(plain, salt, CURRENT.keyBytes, N, r, p);
  return ['scrypt', N, r, p, salt.toString('base64'), hash.toString('base64')].join('$');
}

/** False for a wrong password and for a stored value that is not a valid encoding; never throws for those. */
export async function verifyPassword(plain: string, encoded: string): Promise<boolean> {
  const decoded = decode(encoded);
  if (!decoded) return false;
  const { N, r, p, salt, hash } = decoded;
  const candidate = await derive(plain, salt, hash.length, N, r, p);
  return timingSafeEqual(candidate, hash);
}

/** True when the stored value was made with other parameters than the current ones (or is unreadable). */
export function needsRehash(encoded: string): boolean {
  const decoded = decode(encoded);
  if (!decoded) return true;
  return (
    decoded.N !== CURRENT.N ||
    decoded.r !== CURRENT.r ||
    decoded.p !== CURRENT.p ||
    decoded.salt.length !== CURRENT.saltBytes ||
    decoded.hash.length !== CURRENT.keyBytes
  );
}
