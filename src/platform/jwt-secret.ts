import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** File under DATA_DIR that keeps the generated secret. */
export const JWT_SECRET_FILE = 'jwt-secret';
const MIN_LENGTH = 32;
/** Errors that mean "this filesystem has no hard links", not "something is wrong". */
const NO_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV']);

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** The secret in `file`, or null when there is no file yet. */
function readSecret(file: string): string | null {
  // A writer on a filesystem without hard links creates the file before it writes it: give it a moment.
  for (let attempt = 0; ; attempt++) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8').trim();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    if (text.length >= MIN_LENGTH) return text;
    if (attempt >= 20) {
      throw new Error(`${file} holds ${text.length} characters, not a generated secret; delete it to generate a new one (every token issued so far stops working), or set JWT_SECRET`);
    }
    sleepSync(50);
  }
}

/**
 * The hub's HS256 secret when JWT_SECRET is unset (development and test only): generated at the first
 * start and kept in `<dataDir>/jwt-secret` (mode 0600), so tokens survive restarts, every process on that
 * DATA_DIR (a second hub, `npm run token:worker`, `npm run admin:create`) uses the same key, and no secret
 * published in the repository ever signs a token.
 *
 * Creation is atomic: the secret goes into a private temp file that is then hard-linked into place. link()
 * never replaces an existing file, so when two processes start at once exactly one secret wins, both read
 * it, and nobody reads a half-written file.
 * Throws an Error with the file in its message when the file cannot be read or written.
 */
export function persistedJwtSecret(dataDir: string): string {
  const file = resolve(join(dataDir, JWT_SECRET_FILE));
  mkdirSync(dataDir, { recursive: true });
  const existing = readSecret(file);
  if (existing !== null) return existing;
  const secret = `${randomBytes(32).toString('base64url')}\n`;
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, secret, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(tmp, file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (NO_LINKS.has(code)) createExclusive(file, secret);
    else if (code !== 'EEXIST') throw err; // EEXIST: another process won the race; read its secret below
  } finally {
    unlinkSync(tmp);
  }
  return readSecret(file)!;
}

/** Fallback without hard links: O_EXCL creation, still one winner (readers wait out the write). */
function createExclusive(file: string, secret: string): void {
  try {
    writeFileSync(file, secret, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}
