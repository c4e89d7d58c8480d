import { readFileSync } from 'node:fs';
import { buildOpenApi } from '../../transport/http/openapi.js';
import type { AnyRoute, Reply } from '../../transport/http/types.js';
import { route } from '../../transport/http/types.js';
import { inlinePage } from '../../transport/http/inline-page.js';
import { buildAsyncApi } from '../../transport/socket/asyncapi.js';
import type { NamespaceSpec } from '../../transport/socket/namespace.js';

export interface DocsDeps {
  /** Read on the first request, so routes added after this factory runs are documented too. */
  router: { readonly routes: readonly AnyRoute[] };
  namespaces: readonly NamespaceSpec[];
}

const tags = ['ops'];

function asset(name: string): string {
  return readFileSync(new URL(name, import.meta.url), 'utf8');
}

function packageVersion(): string {
  try {
    return (JSON.parse(asset('../../../package.json')) as { version?: string }).version ?? '0.0.0';
  } catch (err) {
    // The documents still render without a version; say why in the version string rather than fail.
    return `unknown (${(err as Error).message.slice(0, 60)})`;
  }
}

function jsonDocument(build: () => unknown): () => Reply {
  let cached: string | null = null;
  return () => {
    // Built once: every route and namespace is registered before the hub listens.
    cached ??= JSON.stringify(build());
    return { status: 200, headers: { 'content-type': 'application/json', 'cache-control': 'no-cache', 'access-control-allow-origin': '*' }, body: cached };
  };
}

/** `/openapi.json`, `/asyncapi.json` and the `/docs` page that renders both. */
export function docsRoutes(deps: DocsDeps): AnyRoute[] {
  const info = {
    title: 'Easel',
    version: packageVersion(),
    description: 'Realtime hub for AI-image communities. Errors are RFC 9457 problem details (application/problem+json).',
  };
  const openapi = jsonDocument(() => buildOpenApi(deps.router.routes, info));
  const asyncapi = jsonDocument(() => buildAsyncApi(deps.namespaces, info));
  const page = inlinePage(import.meta.url, 'docs');
  return [
    route({
      method: 'GET',
      path: '/openapi.json',
      summary: 'OpenAPI 3.1 document of every HTTP route',
      tags,
      auth: 'none',
      handler: async () => openapi(),
    }),
    route({
      method: 'GET',
      path: '/asyncapi.json',
      summary: 'AsyncAPI 3.0 document of every socket.io namespace and event',
      tags,
      auth: 'none',
      handler: async () => asyncapi(),
    }),
    route({
      method: 'GET',
      path: '/docs',
      summary: 'Human-readable API reference (renders /openapi.json and /asyncapi.json)',
      tags,
      auth: 'none',
      handler: async () => ({
        status: 200,
        headers: {
          'content-type': 'text/html; charset=utf-8',
          'content-security-policy': page.csp,
          'x-content-type-options': 'nosniff',
          'referrer-policy': 'no-referrer',
          'cache-control': 'no-cache',
        },
        body: page.html,
      }),
    }),
  ];
}
