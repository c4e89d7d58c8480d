import type { IncomingRequest, Reply } from './types.js';

/** How long a browser may cache a preflight answer (Chromium caps this at 2 hours anyway). */
const MAX_AGE_SECONDS = 600;
/** Request headers a browser app needs for this API when its preflight names none. */
const DEFAULT_ALLOW_HEADERS = 'authorization, content-type, x-request-id';
/** Response headers a cross-origin script may read besides the CORS-safelisted ones. */
const EXPOSE_HEADERS = 'x-request-id, retry-after, www-authenticate, location, content-range, etag';
const HEADER_LIST = /^[\w-]+(\s*,\s*[\w-]+)*$/;

/**
 * CORS for browser apps on other origins, from `server.corsOrigins` (`*` allows every origin;
 * otherwise exact origins such as `https://app.example`). Bearer tokens travel in a header, never
 * in cookies, so credentials are not enabled and `*` is safe to answer as-is. Disallowed origins
 * get no CORS headers at all, which is what makes the browser refuse.
 */
export function createCors(origins: string[]) {
  const any = origins.includes('*');
  const allowed = new Set(origins);

  /** CORS headers for a response to `origin`, or none. */
  function headersFor(origin: string | undefined): Record<string, string> {
    if (!origin) return {};
    if (any) return { 'access-control-allow-origin': '*', 'access-control-expose-headers': EXPOSE_HEADERS };
    if (!allowed.has(origin)) return {};
    return { 'access-control-allow-origin': origin, vary: 'Origin', 'access-control-expose-headers': EXPOSE_HEADERS };
  }

  /** The answer to OPTIONS on a path that exists: a preflight answer, or just the Allow list. */
  function options(req: IncomingRequest, methods: string[]): Reply {
    const allow = [...methods, 'OPTIONS'].join(', ');
    const headers: Record<string, string> = { allow };
    const cors = headersFor(req.headers.origin);
    if (req.headers['access-control-request-method'] && cors['access-control-allow-origin']) {
      const requested = req.headers['access-control-request-headers']?.trim();
      Object.assign(headers, {
        'access-control-allow-methods': allow,
        'access-control-allow-headers': requested && HEADER_LIST.test(requested) ? requested : DEFAULT_ALLOW_HEADERS,
        'access-control-max-age': String(MAX_AGE_SECONDS),
      });
      // A preflight answer varies with what was asked even under `*`.
      headers.vary = cors.vary ? 'Origin, Access-Control-Request-Headers' : 'Access-Control-Request-Headers';
    }
    return { status: 204, headers };
  }

  return { headersFor, options };
}

export type Cors = ReturnType<typeof createCors>;
