import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { persistedJwtSecret } from './jwt-secret.js';

const ROOT = resolve(import.meta.dirname, '../..');
const scratch = mkdtempSync(join(tmpdir(), 'easel-jwt-secret-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** One process that asks for the secret of `dataDir` as soon as it is loaded. */
async function secretFromChild(dataDir: string, startAt: number): Promise<string> {
  const script = `
    const { persistedJwtSecret } = await import('./src/platform/jwt-secret.ts');
    while (Date.now() < ${startAt}) {} // line the processes up so they race for the file
    console.log(persistedJwtSecret(process.argv[1]));`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, dataDir], { cwd: ROOT });
  return stdout.trim();
}

describe('persistedJwtSecret', () => {
  it('creates the DATA_DIR and the secret, then keeps returning the same secret', () => {
    const dataDir = join(scratch, 'nested', 'data');
    const secret = persistedJwtSecret(dataDir);
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/); // 32 random bytes, base64url
    expect(readFileSync(join(dataDir, 'jwt-secret'), 'utf8')).toBe(`${secret}\n`);
    expect(statSync(join(dataDir, 'jwt-secret')).mode & 0o777).toBe(0o600);
    expect(persistedJwtSecret(dataDir)).toBe(secret);
    expect(readdirSync(dataDir)).toEqual(['jwt-secret']); // no temp file left behind
  });

  it('gives processes that start at once on one DATA_DIR the same secret', { timeout: 60_000 }, async () => {
    const dataDir = join(scratch, 'race');
    const startAt = Date.now() + 4000;
    const secrets = await Promise.all(Array.from({ length: 4 }, () => secretFromChild(dataDir, startAt)));
    expect(secrets[0]).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(new Set(secrets).size).toBe(1);
    expect(readFileSync(join(dataDir, 'jwt-secret'), 'utf8').trim()).toBe(secrets[0]);
    expect(readdirSync(dataDir)).toEqual(['jwt-secret']);
  });
});
