import { randomUUID } from 'node:crypto';
import type { Actor } from '../../modules/identity/actor.js';
import type { EntityManager, Orm } from '../../platform/db/orm.js';
import { AppError, ForbiddenError, RateLimitedError, UnauthorizedError, statusTitle, toProblem } from '../../platform/errors.js';
import type { Logger } from '../../platform/logger.js';
import type { Metrics } from '../../platform/metrics.js';
import { outageError } from '../../platform/outage.js';
import type { RateLimiter } from '../../platform/rate-limit.js';
import { parseWith } from '../../platform/validation.js';
import { parseBody, parseQuery } from './body.js';
import { createCors } from './cors.js';
import type { Router } from './router.js';
import type { AnyRoute, AuthMode, IncomingRequest, Reply, ResponseSink } from './types.js';

export interface DispatchDeps {
  router: Router;
  orm: Orm;
  authenticate: (token: string) => Promise<Actor>;
  rateLimiter: RateLimiter;
  metrics: Metrics;
  logger: Logger;
  jsonLimitBytes: number;
  /** `server.corsOrigins`: `*` or exact origins allowed to call the API from a browser. */
  corsOrigins: string[];
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

export type Dispatch = (req: IncomingRequest, sink: ResponseSink) => Promise<void>;

/** The engine-neutral request pipeline: match, authenticate, limit, parse, handle, map errors, log. */
export function createDispatcher(deps: DispatchDeps): Dispatch {
  const { router, logger, metrics } = deps;
  const cors = createCors(deps.corsOrigins);

  return async function dispatch(req, sink) {
    const started = process.hrtime.bigint();
    const incomingId = req.headers['x-request-id'];
    const requestId = incomingId && REQUEST_ID.test(incomingId) ? incomingId : randomUUID();
    // A child logger costs an allocation per request; most requests never log, so it is made on first use.
    let child: Logger | undefined;
    const log = () => (child ??= logger.child({ reqId: requestId }));
    let routeLabel = 'unmatched';
    let reply: Reply;
    try {
      if (req.rejected) throw req.rejected;
      const found = router.match(req.method, req.path);
      if (found === null) throw new AppError(404, 'route_not_found', `No route for ${req.method} ${req.path}`);
      if (found === 'method') {
        const methods = router.allowedMethods(req.path);
        // No route takes OPTIONS: it is always the CORS preflight (or a plain Allow query).
        if (req.method !== 'OPTIONS') throw new AppError(405, 'method_not_allowed', `${req.method} is not allowed here`, { headers: { allow: methods.join(', ') } });
        reply = cors.options(req, methods);
      } else {
        routeLabel = found.route.path;
        reply = await runRoute(found.route, found.params, req, requestId, log);
      }
    } catch (thrown) {
      // A dependency outage (database or Redis down) is a 503 with Retry-After, not an opaque 500.
      const err = outageError(thrown) ?? thrown;
      reply = problemReply(err, requestId, req.path, log());
      metrics.errors.inc({ transport: 'http', code: err instanceof AppError ? err.code : 'internal' });
    }
    reply.headers = { ...reply.headers, ...cors.headersFor(req.headers.origin), 'x-request-id': requestId };
    if (!reply.body || typeof reply.body === 'string' || Buffer.isBuffer(reply.body)) req.body.resume();
    if (!sink.aborted) await sink.send(reply, req.method === 'HEAD');
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    // Every label is bounded: a client picks the method and path, so neither goes in as sent.
    // 499 (nginx's "client closed request") marks requests whose client left before the answer.
    const status = sink.aborted ? '499' : String(reply.status);
    metrics.httpDuration.observe({ method: methodLabel(req.method), route: routeLabel, status }, seconds);
    if (logger.isLevelEnabled('info')) {
      log().info({ method: req.method, path: req.path, status: reply.status, ms: Math.round(seconds * 1e4) / 10, aborted: sink.aborted }, 'request');
    }
  };

  async function runRoute(route: AnyRoute, rawParams: Record<string, string>, req: IncomingRequest, requestId: string, log: () => Logger): Promise<Reply> {
    if (route.rateLimit) {
      const { limit, windowSeconds } = route.rateLimit.limit();
      const hit = await deps.rateLimiter.hit(`http:${route.rateLimit.name}:${req.ip}`, limit, windowSeconds);
      if (!hit.allowed) throw new RateLimitedError(hit.retryAfter);
    }
    const actor = await authenticate(route.auth, req.headers.authorization);
    const params = route.params ? parseWith(route.params, rawParams, 'path') : rawParams;
    const query = route.query ? parseWith(route.query, parseQuery(req.rawQuery), 'query') : undefined;
    const kind = route.bodyKind ?? (route.body ? 'json' : 'none');
    let body: unknown;
    if (kind === 'json' || kind === 'form-or-json') {
      const raw = await parseBody(req, kind, route.maxBodyBytes ?? deps.jsonLimitBytes);
      body = route.body ? parseWith(route.body, raw, 'body') : raw;
    }
    // The EntityManager fork and the logger are made only for handlers that touch them (getters):
    // hot read paths such as /auth/me use neither, and each costs an allocation per request.
    let em: EntityManager | undefined;
    const orm = deps.orm;
    return route.handler({
      body,
      query,
      params,
      actor,
      request: req,
      requestId,
      get em() {
        return (em ??= orm.em.fork());
      },
      get log() {
        return log();
      },
    });
  }

  async function authenticate(mode: AuthMode, header: string | undefined): Promise<Actor | null> {
    if (mode === 'none') return null;
    const token = bearer(header);
    if (!token) {
      if (mode === 'optional') return null;
      throw new UnauthorizedError('Missing bearer token', 'token_missing');
    }
    const actor = await deps.authenticate(token);
    if (mode === 'optional') return actor;
    if (mode === 'actor' && (actor.kind === 'user' || actor.kind === 'guest')) return actor;
    if (mode === 'user' && actor.kind === 'user') return actor;
    if (mode === 'admin' && actor.kind === 'user' && actor.role === 'admin') return actor;
    if (mode === 'worker' && actor.kind === 'worker') return actor;
    throw new ForbiddenError(mode === 'admin' ? 'Admin role required' : `This route needs a ${mode} token`, 'wrong_token_kind');
  }
}

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** The metrics label for a request method: one of the standard seven, else `other`. */
export function methodLabel(method: string): string {
  return KNOWN_METHODS.has(method) ? method : 'other';
}

function bearer(header: string | undefined): string | null {
  if (!header) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw new UnauthorizedError('Authorization header must be "Bearer <token>"', 'token_malformed');
  return match[1]!;
}

export function problemReply(err: unknown, requestId: string, instance: string, log: Logger): Reply {
  if (!(err instanceof AppError) || err.status >= 500) log.error({ err }, 'request failed');
  const problem = toProblem(err, requestId, instance);
  const headers = { 'content-type': 'application/problem+json', ...(err instanceof AppError ? err.headers : {}) };
  return { status: problem.status, headers, body: JSON.stringify(problem) };
}

export { statusTitle };
