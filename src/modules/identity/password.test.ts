import { describe, expect, it } from 'vitest';
import { hashPassword, needsRehash, verifyPassword } from './password.js';

describe('password hashing', () => {
  it('round-trips and encodes its parameters', async () => {
    const encoded = await hashPassword('correct horse battery staple');
    expect(encoded).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9+/]+=*\$[A-Za-z0-9+/]+=*$/);
    const [, , , , salt, hash] = encoded.split('$');
    expect(Buffer.from(salt!, 'base64')).toHaveLength(16);
    expect(Buffer.from(hash!, 'base64')).toHaveLength(64);
    await expect(verifyPassword('correct horse battery staple', encoded)).resolves.toBe(true);
    expect(needsRehash(encoded)).toBe(false);
  });

  it('rejects a wrong password', async () => {
    const encoded = await hashPassword('hunter22');
    await expect(verifyPassword('hunter23', encoded)).resolves.toBe(false);
    await expect(verifyPassword('', encoded)).resolves.toBe(false);
  });

  it('salts: two hashes of the same password differ and both verify', async () => {
    const [a, b] = await Promise.all([hashPassword('same'), hashPassword('same')]);
    expect(a).not.toBe(b);
    await expect(verifyPassword('same', a)).resolves.toBe(true);
    await expect(verifyPassword('same', b)).resolves.toBe(true);
  });

  it.each([
    ['empty', ''],
    ['bcrypt', '$2b$12$abcdefghijklmnopqrstuuJ3xq7yqXqY1fDkOQ6wXg5V9o1y1mG2'],
    ['too few parts', 'scrypt$16384$8$1$c2FsdA=='],
    ['N not a power of two', 'scrypt$1000$8$1$c2FsdHNhbHRzYWx0$' + 'A'.repeat(88)],
    ['N absurdly large', `scrypt$${2 ** 30}$8$1$c2FsdHNhbHRzYWx0$${'A'.repeat(88)}`],
    ['non-numeric r', 'scrypt$16384$x$1$c2FsdHNhbHRzYWx0$' + 'A'.repeat(88)],
    ['bad base64', 'scrypt$16384$8$1$!!!!$' + 'A'.repeat(88)],
    ['hash too short', 'scrypt$16384$8$1$c2FsdHNhbHRzYWx0$AAAA'],
  ])('returns false for a malformed encoding (%s)', async (_name, encoded) => {
    await expect(verifyPassword('anything', encoded)).resolves.toBe(false);
    expect(needsRehash(encoded)).toBe(true);
  });

  it('verifies hashes made with other parameters and flags them for rehash', async () => {
    const { scryptSync } = await import('node:crypto');
    const salt = Buffer.from('0123456789abcdef');
    const hash = scryptSync('old', salt, 32, { N: 1024, r: 8, p: 1 });
    const encoded = `scrypt$1024$8$1$${salt.toString('base64')}$${hash.toString('base64')}`;
    await expect(verifyPassword('old', encoded)).resolves.toBe(true);
    expect(needsRehash(encoded)).toBe(true);
  });
});
