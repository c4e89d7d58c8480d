import { readFile, stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { AnyRoute, Reply } from '../../transport/http/types.js';
import { route } from '../../transport/http/types.js';

/** Where `npm run build:web` (scripts/build-web.ts) puts the app. */
export const WEB_DIST = fileURLToPath(new URL('../../../web/dist/', import.meta.url));

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
  '.ico': 'image/x-icon',
};

/**
 * The app's scripts and styles come from the hub alone: no inline script or style, nothing off-site. Images
 * may be `blob:` (a photo fetched with the owner's token) or `data:`; sockets and fetches go to the hub.
 */
export const WEB_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const COMMON = { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' };
const ASSET = /^[A-Za-z0-9_.-]{1,200}$/;

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>Easel</title><h1>The web app is not built</h1><p>Run <code>npm run build:web</code> (or <code>npm start</code>, which builds it) and reload. The API is up: see <a href="/docs">/docs</a>.</p>`;

/** `GET /` (the web app's page) and `GET /assets/{file}` (its hashed, immutable bundles) from web/dist. */
export function webAppRoutes(dir = WEB_DIST): AnyRoute[] {
  let page: { mtimeMs: number; html: Buffer } | null = null;
  const assets = new Map<string, Buffer>();

  async function index(): Promise<Reply> {
    try {
      const s = await stat(`${dir}index.html`);
      if (!page || page.mtimeMs !== s.mtimeMs) page = { mtimeMs: s.mtimeMs, html: await readFile(`${dir}index.html`) };
    } catch {
      // A page that says what to do rather than an error status: the hub itself is fine, only the app is missing.
      return { status: 200, headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'content-security-policy': WEB_CSP, ...COMMON }, body: NOT_BUILT };
    }
    return { status: 200, headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache', 'content-security-policy': WEB_CSP, ...COMMON }, body: page.html };
  }

  async function asset(name: string): Promise<Reply> {
    const type = TYPES[extname(name)];
    if (!ASSET.test(name) || name.startsWith('.') || !type) return notFound();
    let body = assets.get(name);
    if (!body) {
      try {
        body = await readFile(`${dir}assets/${name}`);
      } catch {
        return notFound();
      }
      // Names carry a content hash, so an entry never goes stale; a rebuild only adds names.
      assets.set(name, body);
    }
    return { status: 200, headers: { 'content-type': type, 'cache-control': 'public, max-age=31536000, immutable', ...COMMON }, body };
  }

  return [
    route({ method: 'GET', path: '/', summary: 'The Easel web app (built from web/ into web/dist)', tags: ['web'], auth: 'none', handler: index }),
    route({
      method: 'GET',
      path: '/assets/:file',
      summary: "The web app's scripts and styles (content-hashed, cached for a year)",
      tags: ['web'],
      auth: 'none',
      params: z.strictObject({ file: z.string() }),
      handler: async ({ params }) => asset(params.file),
    }),
  ];
}

function notFound(): Reply {
  return { status: 404, headers: { 'content-type': 'application/problem+json', 'cache-control': 'no-store', ...COMMON }, body: JSON.stringify({ type: 'about:blank', title: 'Not Found', status: 404, detail: 'No such asset', code: 'not_found' }) };
}
