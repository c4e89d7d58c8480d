import type { Redis } from 'ioredis';
import type { Config } from '../../platform/config.js';
import type { Orm } from '../../platform/db/orm.js';
import type { Logger } from '../../platform/logger.js';
import type { RateLimiter } from '../../platform/rate-limit.js';
import { createExternalVerifier } from './external-issuer.js';
import { createIdentityQueries } from './identity.queries.js';
import { createIdentityService, type IdentityService } from './identity.service.js';
import { createScryptGate } from './scrypt-gate.js';
import { createTokenService, type TokenService } from './tokens.js';
import { createUserCache, type UserCache } from './user-cache.js';
import { createUserEvents, type UserChangeEvent } from './user-events.js';

/** The token service the configuration describes, with the external issuer when one is configured. */
export function tokenServiceFromConfig(config: Config): TokenService {
  const { auth } = config;
  const ext = auth.external;
  const external = ext.issuer
    ? createExternalVerifier({
        issuer: ext.issuer,
        audience: ext.audience!,
        algorithms: ext.algorithms,
        userIdClaim: ext.userIdClaim,
        clockToleranceSeconds: auth.clockToleranceSeconds,
        ...(ext.publicKeyPem ? { publicKeyPem: ext.publicKeyPem } : { jwksUrl: ext.jwksUrl! }),
      })
    : undefined;
  return createTokenService(
    {
      secret: auth.jwtSecret,
      issuer: auth.issuer,
      audience: auth.audience,
      accessTtlSeconds: auth.accessTtlSeconds,
      guestTtlSeconds: auth.guestTtlSeconds,
      workerTtlSeconds: auth.workerTtlSeconds,
      clockToleranceSeconds: auth.clockToleranceSeconds,
    },
    external,
  );
}

export interface IdentityWiring {
  config: Config;
  orm: Orm;
  logger: Logger;
  rateLimiter: RateLimiter;
  tokens?: TokenService;
  /** Commands client: publishes invalidations, and is duplicated for a subscriber when `subscribe`. */
  redis: Redis | null;
  /** false for one-shot scripts, which only publish. */
  subscribe: boolean;
  /** A user's auth state changed (on any node): the app ends the sockets that no longer hold. */
  onChange?: (event: UserChangeEvent) => void;
}

export interface Identity {
  identity: IdentityService;
  cache: UserCache;
  close(): Promise<void>;
}

/** Identity with its user cache and cross-node invalidation, as the hub and the admin script use it. */
export async function createIdentity(w: IdentityWiring): Promise<Identity> {
  const settings = w.config.identity;
  const queries = createIdentityQueries(w.orm);
  const cache = createUserCache({ ...settings.userCache, load: (id) => queries.authState(id) });
  // A dedicated connection: the socket.io adapter's subscriber dispatches its own channels by name, and
  // sharing it would tie identity's delivery to the adapter's lifecycle.
  const subscriber = w.redis && w.subscribe ? w.redis.duplicate() : null;
  const events = await createUserEvents({
    publisher: w.redis,
    subscriber,
    channel: `${w.config.redis.keyPrefix}identity:user-changed`,
    logger: w.logger,
    onChange: (event) => {
      cache.invalidate(event.userId);
      w.onChange?.(event);
    },
  });
  const identity = createIdentityService({
    tokens: w.tokens ?? tokenServiceFromConfig(w.config),
    refreshTtlSeconds: w.config.auth.refreshTtlSeconds,
    logger: w.logger,
    rateLimiter: w.rateLimiter,
    limits: settings,
    gate: createScryptGate(settings.scrypt),
    cache,
    events,
    queries,
  });
  return { identity, cache, close: () => events.close() };
}
