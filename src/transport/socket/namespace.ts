import type { Namespace, Server, Socket } from 'socket.io';
import { z } from 'zod';
import { actorKey, type Actor } from '../../modules/identity/actor.js';
import type { Orm, EntityManager } from '../../platform/db/orm.js';
import { AppError, RateLimitedError, toAckError } from '../../platform/errors.js';
import type { Logger } from '../../platform/logger.js';
import type { Metrics } from '../../platform/metrics.js';
import { createMemoryRateLimiter } from '../../platform/rate-limit.js';
import { parseWith } from '../../platform/validation.js';

export type Ack<T = unknown> = { ok: true; data: T } | { ok: false; error: { code: string; message: string } };

export interface SocketContext<A extends Actor = Actor> {
  socket: Socket;
  actor: A;
  em: EntityManager;
  log: Logger;
}

export interface SocketEventSpec<S extends z.ZodType = z.ZodType, A extends Actor = Actor> {
  event: string;
  summary: string;
  schema: S;
  /** Documented ack payload (AsyncAPI). */
  reply?: z.ZodType;
  handler: (payload: z.output<S>, ctx: SocketContext<A>) => Promise<unknown>;
}

/** Typed socket event definition. */
export function socketEvent<S extends z.ZodType, A extends Actor = Actor>(spec: SocketEventSpec<S, A>): SocketEventSpec {
  return spec as unknown as SocketEventSpec;
}

export interface PushSpec {
  event: string;
  summary: string;
  schema: z.ZodType;
}

export type NamespaceAccess = 'actor' | 'admin' | 'worker';

export interface NamespaceSpec {
  name: string;
  access: NamespaceAccess;
  summary: string;
  events: SocketEventSpec[];
  pushes: PushSpec[];
  onConnect?: (ctx: Omit<SocketContext, 'em'> & { em: EntityManager }) => Promise<void> | void;
}

export interface NamespaceDeps {
  io: Server;
  orm: Orm;
  authenticate: (token: string) => Promise<Actor>;
  metrics: Metrics;
  logger: Logger;
  eventLimit: () => { limit: number; windowSeconds: number };
}

export const AuthRefreshSchema = z.strictObject({ token: z.string().min(1) });

/** setTimeout cannot wait longer than ~24.8 days; longer expiries re-arm. */
const MAX_TIMER_MS = 2 ** 31 - 1;

function allowed(access: NamespaceAccess, actor: Actor): boolean {
  if (access === 'worker') return actor.kind === 'worker';
  if (access === 'admin') return actor.kind === 'user' && actor.role === 'admin';
  return actor.kind === 'user' || actor.kind === 'guest';
}

function handshakeError(err: unknown): Error {
  const ack = toAckError(err);
  return Object.assign(new Error(ack.message), { data: { code: ack.code } });
}

/**
 * Mounts one namespace: handshake auth, the actor's room, token expiry, `auth:refresh`, and every event
 * through one wrapper that validates, rate-limits, opens an EntityManager fork and maps errors to acks.
 */
export function mountNamespace(spec: NamespaceSpec, deps: NamespaceDeps): Namespace {
  const nsp = deps.io.of(spec.name);
  const limiter = createMemoryRateLimiter();
  const byName = new Map(spec.events.map((e) => [e.event, e]));
  const gauge = deps.metrics.socketsConnected.labels(spec.name);

  nsp.use((socket, next) => {
    const token = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
    if (typeof token !== 'string' || token === '') return next(handshakeError(new AppError(401, 'token_missing', 'handshake auth.token is required')));
    deps.authenticate(token).then(
      (actor) => {
        if (!allowed(spec.access, actor)) return next(handshakeError(new AppError(403, 'forbidden', `namespace ${spec.name} is not open to this token`)));
        socket.data.actor = actor;
        next();
      },
      (err: unknown) => next(handshakeError(err)),
    );
  });

  nsp.on('connection', (socket) => {
    const actor = socket.data.actor as Actor;
    const log = deps.logger.child({ nsp: spec.name, sid: socket.id, actor: actorKey(actor) });
    gauge.inc();
    void socket.join(actorKey(actor));
    const expiry = expiryTimer(socket);
    expiry.arm(actor);
    socket.on('disconnect', () => {
      gauge.dec();
      expiry.clear();
    });

    const refresh = socketEvent({
      event: 'auth:refresh',
      summary: 'Replace the token without reconnecting',
      schema: AuthRefreshSchema,
      handler: async ({ token }) => {
        const next = await deps.authenticate(token);
        if (actorKey(next) !== actorKey(socket.data.actor as Actor)) throw new AppError(403, 'identity_mismatch', 'the new token belongs to someone else');
        socket.data.actor = next;
        expiry.arm(next);
        return { expiresAt: next.expiresAt };
      },
    });

    socket.onAny((event: string, ...args: unknown[]) => {
      const spec = event === 'auth:refresh' ? refresh : byName.get(event);
      const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as (reply: Ack) => void) : null;
      void handle(spec, event, args[0], ack);
    });

    async function handle(ev: SocketEventSpec | undefined, event: string, payload: unknown, ack: ((reply: Ack) => void) | null) {
      let outcome = 'ok';
      try {
        const { limit, windowSeconds } = deps.eventLimit();
        const hit = await limiter.hit(socket.id, limit, windowSeconds);
        if (!hit.allowed) throw new RateLimitedError(hit.retryAfter);
        if (!ev) throw new AppError(404, 'unknown_event', `unknown event '${event}' on ${spec.name}`);
        const input = parseWith(ev.schema, payload ?? {}, 'payload');
        const data = await ev.handler(input, { socket, actor: socket.data.actor as Actor, em: deps.orm.em.fork(), log });
        ack?.({ ok: true, data: data ?? null });
      } catch (err) {
        const error = toAckError(err);
        outcome = error.code;
        if (!(err instanceof AppError)) log.error({ err, event }, 'socket handler failed');
        deps.metrics.errors.inc({ transport: 'socket', code: error.code });
        ack?.({ ok: false, error });
      }
      deps.metrics.socketEvents.inc({ namespace: spec.name, event: ev ? event : 'unknown', outcome });
    }

    if (spec.onConnect) {
      Promise.resolve(spec.onConnect({ socket, actor, em: deps.orm.em.fork(), log })).catch((err: unknown) => {
        log.error({ err }, 'namespace onConnect failed');
      });
    }
  });
  return nsp;
}

/**
 * One expiry timer per socket. Expiry disconnects only this namespace's socket: `disconnect(true)` would
 * close the whole connection and with it sibling namespaces that refreshed their own tokens.
 */
function expiryTimer(socket: Socket): { arm(actor: Actor): void; clear(): void } {
  let timer: NodeJS.Timeout | undefined;
  const clear = () => clearTimeout(timer);
  const arm = (actor: Actor) => {
    clear();
    // A refresh that resolves after the socket left must not leave a timer holding it.
    if (socket.disconnected) return;
    const wait = actor.expiresAt * 1000 - Date.now();
    // Long-lived (worker) tokens re-arm in steps; the handle is kept so `clear` always stops the live one.
    if (wait > MAX_TIMER_MS) {
      timer = setTimeout(() => arm(actor), MAX_TIMER_MS);
      return;
    }
    timer = setTimeout(() => {
      socket.emit('auth:expired', { reason: 'token_expired', message: 'token expired without auth:refresh' });
      socket.disconnect();
    }, Math.max(0, wait));
  };
  return { arm, clear };
}
