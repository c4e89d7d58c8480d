/**
 * Builds the web app (web/ → web/dist) with Vite when its inputs changed since the last build.
 * `npm run build:web` builds if stale; `--force` always builds. `npm start` runs it first (prestart), and the
 * web browser tests call ensureWebBuild(). A lock keeps two processes from building at once.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const WEB_DIR = join(ROOT, 'web');
export const DIST_DIR = join(WEB_DIR, 'dist');
const STAMP = join(DIST_DIR, '.inputs-sha256');
const LOCK = join(ROOT, 'node_modules', '.cache', 'easel-web-build.lock');

function files(dir: string, keep: (path: string) => boolean): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => join(dir, f))
    .filter((f) => keep(f) && statSync(f).isFile());
}

/** Hash of everything the bundle is made from: the app, the SDK's runtime code, the lockfile, this script. */
export function inputsHash(): string {
  const list = [
    ...files(WEB_DIR, (f) => !f.startsWith(DIST_DIR)),
    ...files(join(ROOT, 'src', 'client'), (f) => !f.endsWith('.test.ts')),
    join(ROOT, 'package-lock.json'),
    fileURLToPath(import.meta.url),
  ].sort();
  const h = createHash('sha256');
  for (const f of list) {
    h.update(relative(ROOT, f));
    h.update('\0');
    h.update(readFileSync(f));
    h.update('\0');
  }
  return h.digest('hex');
}

export function isFresh(): boolean {
  try {
    return existsSync(join(DIST_DIR, 'index.html')) && readFileSync(STAMP, 'utf8') === inputsHash();
  } catch {
    return false;
  }
}

async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  mkdirSync(dirname(LOCK), { recursive: true });
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch {
      // A lock older than two minutes belongs to a build that died.
      if (existsSync(LOCK) && Date.now() - statSync(LOCK).mtimeMs > 120_000) rmSync(LOCK, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`web build lock ${LOCK} held for too long`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

/** Builds when stale (or forced). Resolves to whether a build ran. */
export async function ensureWebBuild(opts: { force?: boolean; quiet?: boolean } = {}): Promise<boolean> {
  if (!opts.force && isFresh()) return false;
  return withLock(async () => {
    if (!opts.force && isFresh()) return false; // built by whoever held the lock
    const hash = inputsHash();
    const { build } = await import('vite');
    const { default: preact } = await import('@preact/preset-vite');
    const started = Date.now();
    await build({
      root: WEB_DIR,
      configFile: false,
      base: '/',
      logLevel: opts.quiet ? 'error' : 'warn',
      plugins: [preact({ devToolsEnabled: false, prefreshEnabled: false })],
      build: { outDir: DIST_DIR, emptyOutDir: true, assetsDir: 'assets', sourcemap: false, target: 'es2020', reportCompressedSize: false },
    });
    writeFileSync(STAMP, hash);
    if (!opts.quiet) console.error(`web app built into ${relative(ROOT, DIST_DIR)} in ${Date.now() - started} ms`);
    return true;
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const force = process.argv.includes('--force');
  ensureWebBuild({ force }).then(
    (built) => {
      if (!built) console.error('web app is up to date (web/dist)');
      // Before `npm start`: say where the app will be (PORT as the hub reads it; 8000 by default).
      if (process.env.npm_lifecycle_event === 'prestart') console.error(`web app: open http://localhost:${process.env.PORT || 8000}/ once the hub logs "hub listening"`);
    },
    (err: Error & { code?: string }) => {
      // Without Vite (an install that omitted it) an existing build is still served; say so and go on.
      if (err.code === 'ERR_MODULE_NOT_FOUND' && existsSync(join(DIST_DIR, 'index.html'))) {
        console.error(`web app: cannot rebuild (${err.message}); serving the existing web/dist`);
        return;
      }
      console.error(`web app build failed: ${err.stack ?? err.message}`);
      process.exitCode = 1;
    },
  );
}
