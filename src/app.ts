import { createAdapter } from '@socket.io/redis-adapter';
import { Server as IoServer } from 'socket.io';
import { communityRootEvents, imageRoom } from './modules/community/community.namespace.js';
import { communityRoutes } from './modules/community/community.routes.js';
import { createCommunityService } from './modules/community/community.service.js';
import { identityRoutes } from './modules/identity/identity.routes.js';
import { createIdentityService } from './modules/identity/identity.service.js';
import { tokenServiceFromConfig } from './modules/identity/identity.factory.js';
import { rootNamespace } from './modules/identity/root.namespace.js';
import { mediaRoutes } from './modules/media/media.routes.js';
import { createMediaService, mediaPaths } from './modules/media/media.service.js';
import { LocalStorage } from './modules/media/storage.js';
import { photosRoutes } from './modules/photos/photos.routes.js';
import { docsRoutes } from './modules/ops/docs.routes.js';
import { opsRoutes } from './modules/ops/ops.routes.js';
import type { Config } from './platform/config.js';
import type { Orm } from './platform/db/orm.js';
import type { Logger } from './platform/logger.js';
import { createMetrics } from './platform/metrics.js';
import { createMemoryRateLimiter, createRedisRateLimiter } from './platform/rate-limit.js';
import type { RedisClients } from './platform/redis.js';
import { createDispatcher } from './transport/http/dispatch.js';
import { createEngine, type Engine } from './transport/http/engine.js';
import { Router } from './transport/http/router.js';
import { mountNamespace, type NamespaceSpec } from './transport/socket/namespace.js';
import { createNotifier } from './transport/socket/notifier.js';

export interface AppDeps {
  config: Config;
  logger: Logger;
  orm: Orm;
  redis: RedisClients | null;
}

export type HubApp = Awaited<ReturnType<typeof createApp>>;

/** Builds one hub: HTTP routes and socket namespaces over one engine. This file is the table of contents. */
export async function createApp(deps: AppDeps) {
  const { config, logger, orm, redis } = deps;
  const metrics = createMetrics();
  const rateLimiter = redis ? createRedisRateLimiter(redis.cmd, config.redis.keyPrefix) : createMemoryRateLimiter();
  const tokens = tokenServiceFromConfig(config);
  const identity = createIdentityService({ tokens, refreshTtlSeconds: config.auth.refreshTtlSeconds, logger });
  const authenticate = (token: string) => identity.authenticate(orm.em.fork(), token);
  const mediaDir = mediaPaths(config);
  const media = createMediaService({ storage: new LocalStorage(mediaDir.root), tmpDir: mediaDir.tmpDir, limits: config.uploads, logger });

  let draining = false;
  let inFlight = 0;
  const router = new Router();
  const dispatch = createDispatcher({ router, orm, authenticate, rateLimiter, metrics, logger, jsonLimitBytes: config.http.jsonLimitBytes });
  const engine: Engine = await createEngine(config.server.engine, {
    dispatch: async (req, sink) => {
      inFlight++;
      try {
        await dispatch(req, sink);
      } finally {
        inFlight--;
      }
    },
    logger,
    trustProxy: config.server.trustProxy,
    socketPath: '/socket.io',
  });

  const io = new IoServer({
    serveClient: false,
    cors: { origin: config.server.corsOrigins.includes('*') ? true : config.server.corsOrigins },
    maxHttpBufferSize: 1_000_000,
    ...(redis ? { adapter: createAdapter(redis.pub, redis.sub, { key: `${config.redis.keyPrefix}socket.io` }) } : {}),
  });
  engine.attachSockets(io);
  const notifier = createNotifier(io);
  const community = createCommunityService({
    urlFor: (sha256, variant) => media.urlFor(sha256, variant),
    onLikesChanged: (imageId, likeCount) => notifier.toRoom('/', imageRoom(imageId), 'image:likes', { imageId, like_count: likeCount }),
  });

  router.add(
    ...opsRoutes({ orm, redis, metrics, engine: () => engine.kind, isDraining: () => draining }),
    ...identityRoutes(identity, config),
    ...mediaRoutes(media, config),
    ...photosRoutes(media),
    ...communityRoutes(community, media, config),
  );

  const root = rootNamespace();
  const communityRoot = communityRootEvents(community);
  root.events.push(...communityRoot.events);
  root.pushes.push(...communityRoot.pushes);
  const namespaces: NamespaceSpec[] = [root];
  const nsDeps = { io, orm, authenticate, metrics, logger, eventLimit: () => config.rateLimits.socketEvents };
  for (const spec of namespaces) mountNamespace(spec, nsDeps);
  // Documents are generated from router.routes and namespaces on first request, so later additions show up.
  router.add(...docsRoutes({ router, namespaces }));

  let port = 0;
  let closing: Promise<void> | null = null;
  return {
    config,
    engine,
    io,
    router,
    namespaces,
    identity,
    media,
    community,
    tokens,
    notifier,
    metrics,
    rateLimiter,
    get port() {
      return port;
    },
    async listen(): Promise<number> {
      port = await engine.listen(config.server.host, config.server.port);
      logger.info({ port, engine: engine.kind, redis: Boolean(redis) }, 'hub listening');
      return port;
    },
    /** Graceful stop: refuse new work, ask sockets to reconnect elsewhere, drain requests, close. */
    close(): Promise<void> {
      // Later callers (a second signal, bootstrap's stop) wait for the same drain instead of returning early.
      closing ??= (async () => {
        draining = true;
        engine.stopListening();
        for (const spec of namespaces) io.of(spec.name).local.emit('server:shutdown', { reconnect: true, reason: 'node shutting down' });
        // Closing the transports (not `disconnect()`) lets clients auto-reconnect to another node.
        setImmediate(() => io.engine.close());
        const deadline = Date.now() + config.server.shutdownGraceMs;
        while (inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        await media.idle();
        await new Promise<void>((resolve) => io.close(() => resolve()));
        engine.closeAll();
      })();
      return closing;
    },
  };
}
