import type { Namespace, Server, Socket } from 'socket.io';
import { z } from 'zod';
import { actorKey, type Actor } from '../../modules/identity/actor.js';
import type { Orm, EntityManager } from '../../platform/db/orm.js';
import { AppError, RateLimitedError, toAckError } from '../../platform/errors.js';
import type { Logger } from '../../platform/logger.js';
import type { Metrics } from '../../platform/metrics.js';
import { outageError } from '../../platform/outage.js';
import { parseWith } from '../../platform/validation.js';
import { TooManySocketsError, type Admission } from './admission.js';
import type { SocketDrain } from './drain.js';
import { createExpiryWheel } from './expiry.js';
import { releaseUpgradeResponse } from './upgrade-response.js';

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
  /** Per-IP handshake limit and per-identity socket cap, shared by all namespaces; absent: no limits. */
  admission?: Admission;
  /** Counts handlers in flight for the graceful drain and refuses new events once it starts; absent: none. */
  drain?: SocketDrain;
}

export const AuthRefreshSchema = z.strictObject({ token: z.string().min(1) });

/**
 * Per-socket state. It replaces the empty `socket.data` object socket.io allocates, so its fields sit inside
 * the object (no separate property store) and every socket shares one shape. `fetchSockets()` shows it.
 */
class SocketState {
  /** Expiry wheel bucket (expiry.ts); 0 when unarmed. */
  due = 0;
  /** Fixed-window event counter: events seen in the window ending at `windowEnd` (see limitEvents). */
  events = 0;
  windowEnd = 0;
  constructor(
    public actor: Actor,
    /** actorKey(actor): the actor's room, and the identity whose admission slot this socket holds. */
    readonly key: string,
    /** Holds an admission slot (released once: on disconnect, or when socket.io drops the handshake). */
    public slotted: boolean,
  ) {}
}

const state = (socket: Socket) => socket.data as SocketState;

/** The field socket.io 4 keeps any-listeners in (see the connection handler). */
type WithAnyListeners = { _anyListeners?: readonly unknown[] };

const EXPIRED_PUSH = Object.freeze({ reason: 'token_expired', message: 'token expired without auth:refresh' });

function allowed(access: NamespaceAccess, actor: Actor): boolean {
  if (access === 'worker') return actor.kind === 'worker';
  if (access === 'admin') return actor.kind === 'user' && actor.role === 'admin';
  return actor.kind === 'user' || actor.kind === 'guest';
}

type HandshakeRefusal = Error & { data: { code: string; retryAfter?: number; limit?: number } };

/** The connect_error a client sees: `err.message`, `err.data.code`, and what to wait for when limited. */
function handshakeError(thrown: unknown): HandshakeRefusal {
  const err = outageError(thrown) ?? thrown;
  const ack = toAckError(err);
  const data: HandshakeRefusal['data'] = { code: ack.code };
  if (err instanceof RateLimitedError) data.retryAfter = Number(err.headers?.['retry-after']);
  if (err instanceof TooManySocketsError) data.limit = err.limit;
  return Object.assign(new Error(ack.message), { data });
}

/**
 * A handler's context, built per event (short-lived) rather than per socket. The logger child with the
 * socket's id and actor is made only when a handler asks for it: idle sockets must not each hold one.
 */
class EventContext implements SocketContext {
  private child: Logger | undefined;
  constructor(
    readonly socket: Socket,
    readonly em: EntityManager,
    private readonly nsLog: Logger,
  ) {}
  get actor(): Actor {
    return state(this.socket).actor;
  }
  get log(): Logger {
    return (this.child ??= this.nsLog.child({ sid: this.socket.id, actor: state(this.socket).key }));
  }
}

/**
 * Mounts one namespace: handshake admission and auth, the actor's room, token expiry, `auth:refresh`, and every
 * event through one wrapper that validates, rate-limits, opens an EntityManager fork and maps errors to acks.
 *
 * What a socket costs here is kept to what socket.io itself needs: no closures, timers, loggers or limiter
 * entries per socket. The listeners are shared functions that find their socket as `this`, the state sits in
 * `socket.data`, expiry is one wheel per namespace, and the event rate limit is a counter in that state.
 */
export function mountNamespace(spec: NamespaceSpec, deps: NamespaceDeps): Namespace {
  const nsp = deps.io.of(spec.name);
  const nsLog = deps.logger.child({ nsp: spec.name });
  const byName = new Map(spec.events.map((e) => [e.event, e]));
  const gauge = deps.metrics.socketsConnected.labels(spec.name);
  const admission = deps.admission;
  const mountedAt = Date.now();

  // Expiry disconnects only this namespace's socket: `disconnect(true)` would close the whole connection and
  // with it sibling namespaces that refreshed their own tokens.
  const expiry = createExpiryWheel({
    onExpire(socket) {
      socket.emit('auth:expired', EXPIRED_PUSH);
      socket.disconnect();
    },
  });

  const refresh = socketEvent({
    event: 'auth:refresh',
    summary: 'Replace the token without reconnecting',
    schema: AuthRefreshSchema,
    handler: async ({ token }, { socket }) => {
      const next = await deps.authenticate(token);
      const s = state(socket);
      if (actorKey(next) !== s.key) throw new AppError(403, 'identity_mismatch', 'the new token belongs to someone else');
      s.actor = next;
      // A refresh that resolves after the socket left must not put it back on the wheel.
      if (socket.connected) expiry.arm(socket, next.expiresAt);
      return { expiresAt: next.expiresAt };
    },
  });

  // The rate check runs before the token is even looked at: refused attempts must cost nothing else.
  async function admit(socket: Socket): Promise<void> {
    if (admission) await admission.checkHandshakeRate(socket);
    const token = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
    if (typeof token !== 'string' || token === '') throw new AppError(401, 'token_missing', 'handshake auth.token is required');
    const actor = await deps.authenticate(token);
    if (!allowed(spec.access, actor)) throw new AppError(403, 'forbidden', `namespace ${spec.name} is not open to this token`);
    const key = actorKey(actor);
    admission?.reserve(key);
    socket.data = new SocketState(actor, key, admission !== undefined);
  }

  function releaseSlot(socket: Socket): void {
    const s = state(socket);
    if (!s.slotted) return;
    s.slotted = false;
    admission?.release(s.key);
  }

  // socket.io connects an admitted socket in the tick after the last middleware's next(), or drops it there
  // if its client left meanwhile (no 'connection', no 'disconnect'); this tick runs after that one and
  // frees the slot of a dropped socket. It relies on this being the namespace's only middleware.
  function releaseIfDropped(socket: Socket): void {
    if (!socket.connected) releaseSlot(socket);
  }

  nsp.use((socket, next) => {
    admit(socket).then(
      () => {
        next();
        if (admission) process.nextTick(releaseIfDropped, socket);
      },
      (err: unknown) => {
        const refusal = handshakeError(err);
        deps.metrics.errors.inc({ transport: 'socket', code: refusal.data.code });
        next(refusal);
      },
    );
  });

  function onDisconnect(this: Socket): void {
    gauge.dec();
    expiry.disarm(this);
    releaseSlot(this);
  }

  function onEvent(this: Socket, event: string, ...args: unknown[]): void {
    const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as (reply: Ack) => void) : null;
    void handle(this, event, args[0], ack);
  }

  async function handle(socket: Socket, event: string, payload: unknown, ack: ((reply: Ack) => void) | null): Promise<void> {
    const ev = event === 'auth:refresh' ? refresh : byName.get(event);
    let outcome = 'ok';
    let entered = false;
    try {
      limitEvents(socket);
      if (!ev) throw new AppError(404, 'unknown_event', `unknown event '${event}' on ${spec.name}`);
      deps.drain?.enter();
      entered = deps.drain !== undefined;
      const input = parseWith(ev.schema, payload ?? {}, 'payload');
      const data = await ev.handler(input, new EventContext(socket, deps.orm.em.fork(), nsLog));
      ack?.({ ok: true, data: data ?? null });
    } catch (thrown) {
      const err = outageError(thrown) ?? thrown;
      const error = toAckError(err);
      outcome = error.code;
      if (!(err instanceof AppError)) nsLog.error({ err, event, sid: socket.id, actor: state(socket).key }, 'socket handler failed');
      deps.metrics.errors.inc({ transport: 'socket', code: error.code });
      ack?.({ ok: false, error });
    } finally {
      // After the ack went out: the drain closes transports only once every answer is written.
      if (entered) deps.drain!.leave();
    }
    deps.metrics.socketEvents.inc({ namespace: spec.name, event: ev ? event : 'unknown', outcome });
  }

  /**
   * Fixed window per socket, like the memory RateLimiter but without a Map entry per socket. Times are
   * tenths of a second since the namespace was mounted: small integers (V8 Smis, good for 6 years) keep the
   * field unboxed, where epoch milliseconds would make V8 box it in a 16-byte heap number on every socket.
   */
  function limitEvents(socket: Socket): void {
    const { limit, windowSeconds } = deps.eventLimit();
    const s = state(socket);
    const now = Math.floor((Date.now() - mountedAt) / 100);
    if (now >= s.windowEnd) {
      s.windowEnd = now + windowSeconds * 10;
      s.events = 0;
    }
    if (++s.events > limit) throw new RateLimitedError(Math.max(1, Math.ceil((s.windowEnd - now) / 10)));
  }

  // socket.io keeps any-listeners in a per-socket array that its first push grows to 17 slots (~180 bytes a
  // socket). Every socket here has the same single listener, so they share one frozen array: socket.io only
  // reads and copies it per event, and a later onAny() on such a socket throws instead of adding to all.
  const anyListeners = Object.freeze([onEvent]);

  nsp.on('connection', (socket) => {
    const s = state(socket);
    gauge.inc();
    releaseUpgradeResponse(socket);
    void socket.join(s.key);
    expiry.arm(socket, s.actor.expiresAt);
    socket.on('disconnect', onDisconnect);
    (socket as unknown as WithAnyListeners)._anyListeners = anyListeners;
    // Should a socket.io version keep them elsewhere, fall back to the public API.
    if (socket.listenersAny() !== anyListeners) socket.onAny(onEvent);
    if (spec.onConnect) {
      Promise.resolve(spec.onConnect(new EventContext(socket, deps.orm.em.fork(), nsLog))).catch((err: unknown) => {
        nsLog.error({ err, sid: socket.id, actor: s.key }, 'namespace onConnect failed');
      });
    }
  });
  return nsp;
}
