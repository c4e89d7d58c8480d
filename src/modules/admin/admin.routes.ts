import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { AnyRoute } from '../../transport/http/types.js';
import { route } from '../../transport/http/types.js';
import { inlinePage } from '../../transport/http/inline-page.js';

const tags = ['ops'];

/** The socket.io browser client from the installed package: the page loads it from the hub, never a CDN. */
function socketIoClient(): string {
  const pkg = createRequire(import.meta.url).resolve('socket.io-client/package.json');
  return readFileSync(join(dirname(pkg), 'dist', 'socket.io.min.js'), 'utf8');
}

const HEADERS = { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'cache-control': 'no-cache' };

/**
 * `GET /admin`: the dashboard page. Its own script and style are inlined and pinned by hash; the only other
 * script is the socket.io client served here, so the CSP allows 'self' for scripts and nothing off-site.
 */
export function adminPageRoutes(): AnyRoute[] {
  const { html, csp } = inlinePage(import.meta.url, 'admin', { scriptSelf: true });
  const client = socketIoClient();
  return [
    route({
      method: 'GET',
      path: '/admin',
      summary: 'Admin dashboard page (log in with an admin account; live over the /admin namespace)',
      tags,
      auth: 'none',
      handler: async () => ({ status: 200, headers: { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': csp, ...HEADERS }, body: html }),
    }),
    route({
      method: 'GET',
      path: '/admin/socket.io.min.js',
      summary: 'The socket.io browser client the admin page uses',
      tags,
      auth: 'none',
      handler: async () => ({ status: 200, headers: { 'content-type': 'text/javascript; charset=utf-8', ...HEADERS }, body: client }),
    }),
  ];
}
