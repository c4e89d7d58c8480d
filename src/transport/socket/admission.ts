import type { Socket } from 'socket.io';
import { AppError, RateLimitedError } from '../../platform/errors.js';
import type { RateLimiter } from '../../platform/rate-limit.js';
import { clientIp, type TrustedProxies } from '../http/client-ip.js';

export interface AdmissionOptions {
  /** Namespace sockets one identity may hold open on this node, all namespaces together. */
  maxPerIdentity: number;
  /** Handshake attempts per client IP and window; read on every handshake so tests and operators can change it. */
  handshakeLimit: () => { limit: number; windowSeconds: number };
  /** The app's shared limiter: Redis when configured, so the per-IP limit holds across nodes. */
  rateLimiter: RateLimiter;
  /** Peers whose X-Forwarded-For is believed (server.trustedProxies). */
  trustedProxies: TrustedProxies;
}

/**
 * Who may open a socket, shared by every namespace of one hub.
 *
 * The per-identity cap counts namespace sockets, not engine.io connections: one engine.io connection can
 * carry any number of namespace sockets (socket.io accepts a repeated CONNECT for the same namespace), and each
 * namespace socket is what costs memory, so counting connections would let one connection hold thousands.
 * A client that multiplexes `/`, `/tournament` and `/studio` over one connection uses three slots.
 *
 * The cap is per node: a cluster-wide counter in Redis would leak the counts of a node that dies without
 * cleaning up (a crash, a kill -9) until some expiry, and would add a Redis round trip to every handshake.
 * Per node, a load balancer spreading one identity over N nodes allows at most N × maxPerIdentity sockets,
 * which still bounds memory per node, the resource the cap protects. The per-IP handshake limit is
 * cluster-wide (the shared RateLimiter).
 */
export interface Admission {
  readonly maxPerIdentity: number;
  /** Counts one handshake attempt for the socket's client IP; throws `rate_limited` past the limit. */
  checkHandshakeRate(socket: Socket): Promise<void>;
  /** Takes a slot for the identity; throws `too_many_sockets` when none is left. */
  reserve(key: string): void;
  release(key: string): void;
  /** Open (or reserved) sockets of one identity on this node. */
  count(key: string): number;
}

export class TooManySocketsError extends AppError {
  constructor(readonly limit: number) {
    super(429, 'too_many_sockets', `this identity already holds ${limit} sockets on this node (the limit); close one before opening another`);
  }
}

export function createAdmission(options: AdmissionOptions): Admission {
  const open = new Map<string, number>();
  return {
    maxPerIdentity: options.maxPerIdentity,
    async checkHandshakeRate(socket) {
      const { limit, windowSeconds } = options.handshakeLimit();
      const ip = clientIp(socket.handshake.headers as Record<string, string>, socket.handshake.address ?? '', options.trustedProxies);
      const hit = await options.rateLimiter.hit(`socket-handshake:${ip}`, limit, windowSeconds);
      if (!hit.allowed) throw new RateLimitedError(hit.retryAfter);
    },
    reserve(key) {
      const n = open.get(key) ?? 0;
      if (n >= options.maxPerIdentity) throw new TooManySocketsError(options.maxPerIdentity);
      open.set(key, n + 1);
    },
    release(key) {
      const n = open.get(key) ?? 0;
      // Deleting at zero keeps the map as small as the set of identities online.
      if (n <= 1) open.delete(key);
      else open.set(key, n - 1);
    },
    count(key) {
      return open.get(key) ?? 0;
    },
  };
}
