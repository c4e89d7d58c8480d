import { createAdapter } from '@socket.io/redis-adapter';
import { Server as IoServer } from 'socket.io';
import { communityRootEvents, imageRoom } from './modules/community/community.namespace.js';
import { communityRoutes } from './modules/community/community.routes.js';
import { createLikesFeed } from './modules/community/community.likes-feed.js';
import { createCommunityService } from './modules/community/community.service.js';
import { identityRoutes } from './modules/identity/identity.routes.js';
import { createJobs } from './modules/jobs/jobs.factory.js';
import { adminPageRoutes } from './modules/admin/admin.routes.js';
import { createDashboard, type Dashboard } from './modules/admin/admin.namespace.js';
import { createIdentity, tokenServiceFromConfig } from './modules/identity/identity.factory.js';
import { rootNamespace } from './modules/identity/root.namespace.js';
import { mediaRoutes } from './modules/media/media.routes.js';
import { createMediaService, mediaPaths } from './modules/media/media.service.js';
import { storageFromConfig } from './modules/media/storage.factory.js';
import { photosRoutes } from './modules/photos/photos.routes.js';
import { createStudio, type Studio } from './modules/studio/studio.factory.js';
import { createTournaments } from './modules/tournaments/tournaments.factory.js';
import { tournamentNamespace } from './modules/tournaments/tournaments.namespace.js';
import { tournamentRoutes } from './modules/tournaments/tournaments.routes.js';
import { createEvents } from './modules/tournaments/events.factory.js';
import { docsRoutes } from './modules/ops/docs.routes.js';
import { webAppRoutes } from './modules/webapp/webapp.routes.js';
import { opsRoutes } from './modules/ops/ops.routes.js';
import type { Config } from './platform/config.js';
import type { Orm } from './platform/db/orm.js';
import type { Logger } from './platform/logger.js';
import { createMetrics } from './platform/metrics.js';
import { createMemoryRateLimiter, createRedisRateLimiter } from './platform/rate-limit.js';
import type { RedisClients } from './platform/redis.js';
import { TrustedProxies } from './transport/http/client-ip.js';
import { createDispatcher } from './transport/http/dispatch.js';
import { createEngine, type Engine } from './transport/http/engine.js';
import { Router } from './transport/http/router.js';
import { createAdmission } from './transport/socket/admission.js';
import { SocketDrain } from './transport/socket/drain.js';
import { mountNamespace, type NamespaceSpec } from './transport/socket/namespace.js';
import { guardSlowConsumers } from './transport/socket/slow-consumers.js';
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
  const identityParts = await createIdentity({
    config, orm, logger, rateLimiter, tokens, redis: redis?.cmd ?? null, subscribe: true,
    // Every node gets the change: each ends its own sockets (a deleted account or a changed password
    // ends them all; a role change only those in admin-only namespaces).
    onChange: ({ userId, change }) => {
      for (const spec of namespaces) {
        if (change !== 'role' || spec.access === 'admin') io.of(spec.name).local.in(`user:${userId}`).disconnectSockets();
      }
    },
  });
  const identity = identityParts.identity;
  const authenticate = (token: string) => identity.authenticate(() => orm.em.fork(), token);
  const mediaDir = mediaPaths(config);
  const media = createMediaService({ storage: storageFromConfig(config, logger), tmpDir: mediaDir.tmpDir, limits: config.uploads, memoryCache: config.media, logger });

  let draining = false;
  let inFlight = 0;
  const router = new Router();
  const trustedProxies = new TrustedProxies(config.server.trustedProxies);
  const dispatch = createDispatcher({ router, orm, authenticate, rateLimiter, metrics, logger, jsonLimitBytes: config.http.jsonLimitBytes, corsOrigins: config.server.corsOrigins });
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
    trustedProxies,
    socketPath: '/socket.io',
    socketMaxBackpressure: config.sockets.maxBufferedBytes,
  });

  const io = new IoServer({
    serveClient: false,
    cors: { origin: config.server.corsOrigins.includes('*') ? true : config.server.corsOrigins },
    maxHttpBufferSize: 1_000_000,
    ...(redis ? { adapter: createAdapter(redis.pub, redis.sub, { key: `${config.redis.keyPrefix}socket.io` }) } : {}),
  });
  engine.attachSockets(io);
  // Slow consumers (clients that stop reading) are disconnected past sockets.maxBufferedBytes, never buffered without bound.
  const slowConsumers = guardSlowConsumers(io, { maxBufferedBytes: () => config.sockets.maxBufferedBytes, logger });
  const socketDrain = new SocketDrain();
  const notifier = createNotifier(io);
  const likesFeed = createLikesFeed({
    windowMs: config.community.likesWindowMs,
    push: (change) => notifier.toRoom('/', imageRoom(change.imageId), 'image:likes', change),
  });
  const tournaments = createTournaments({ config, orm, logger, notifier, urlFor: (sha256, variant) => media.urlFor(sha256, variant) });
  const events = createEvents({ config, orm, logger, notifier, urlFor: (sha256, variant) => media.urlFor(sha256, variant), onRatingsChanged: (rows) => tournaments.feed.changed(rows) });
  // The dashboard needs the jobs service; the jobs module's push hook reaches it once it exists.
  let dashboard: Dashboard | null = null;
  // The studio mirrors ad jobs into chat sessions; it needs the jobs service, so its hooks reach it once it exists.
  let studio: Studio | null = null;
  const jobs = createJobs({
    config, orm, io, media, logger,
    onPush: (ownerId, p) => {
      dashboard?.onJobPush(ownerId, p);
      studio?.service.onJobPush(ownerId, p);
    },
    onDelta: (jobId, text) => studio?.service.onDelta(jobId, text),
  });
  studio = createStudio({ config, orm, io, redis, jobs: jobs.service, media, logger, authenticate });
  dashboard = createDashboard({ io, orm, admin: jobs.admin, jobs: jobs.service, workers: jobs.dispatcher.workers, logger });
  const community = createCommunityService({
    urlFor: (sha256, variant) => media.urlFor(sha256, variant),
    onLikesChanged: (change) => likesFeed.changed(change),
    tournamentStats: (em, imageId) => tournaments.service.imageStats(em, imageId),
  });

  router.add(
    ...opsRoutes({ orm, redis, metrics, engine: () => engine.kind, isDraining: () => draining }),
    ...identityRoutes(identity, config),
    ...mediaRoutes(media, config),
    ...photosRoutes(media, config, jobs.service),
    ...communityRoutes(community, media, config),
    ...tournamentRoutes(tournaments.service),
    ...events.routes,
    ...jobs.routes,
    ...studio.routes,
    ...adminPageRoutes(),
    ...webAppRoutes(),
  );

  const root = rootNamespace();
  const communityRoot = communityRootEvents(community);
  root.events.push(...communityRoot.events);
  root.pushes.push(...communityRoot.pushes);
  root.events.push(...jobs.rootEvents.events);
  root.pushes.push(...jobs.rootEvents.pushes);
  const tournament = tournamentNamespace({ service: tournaments.service });
  tournament.events.push(...events.socket.events);
  tournament.pushes.push(...events.socket.pushes);
  const namespaces: NamespaceSpec[] = [root, tournament, studio.namespace, jobs.workersNamespace, dashboard.spec];
  const admission = createAdmission({
    maxPerIdentity: config.sockets.maxPerIdentity,
    handshakeLimit: () => config.rateLimits.socketHandshake,
    rateLimiter,
    trustedProxies,
  });
  const nsDeps = { io, orm, authenticate, metrics, logger, eventLimit: () => config.rateLimits.socketEvents, admission, drain: socketDrain };
  // Workers report progress far more often than people click: their sockets get their own event limit.
  for (const spec of namespaces) mountNamespace(spec, spec === jobs.workersNamespace ? { ...nsDeps, eventLimit: jobs.workerEventLimit } : nsDeps);
  // Documents are generated from router.routes and namespaces on first request, so later additions show up.
  dashboard.watchWorkers();
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
    tournaments,
    events,
    jobs,
    studio,
    dashboard,
    tokens,
    notifier,
    metrics,
    rateLimiter,
    admission,
    get port() {
      return port;
    },
    async listen(): Promise<number> {
      port = await engine.listen(config.server.host, config.server.port);
      events.clock.start();
      await jobs.start();
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
        const deadline = Date.now() + config.server.shutdownGraceMs;
        // New events get a `shutting_down` ack; those already running finish and their acks go out first.
        socketDrain.refuse();
        await socketDrain.idle(deadline);
        slowConsumers.stop();
        // Closing the transports (not `disconnect()`) lets clients auto-reconnect to another node.
        setImmediate(() => io.engine.close());
        while (inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        await media.idle();
        // Counts still inside a window go out now; through the adapter they reach watchers on other nodes.
        likesFeed.close();
        // Leases go back before the sockets close, so another node's clock takes over at its next tick.
        await events.close();
        // Held jobs keep their leases: workers reconnect to another node and re-bind them.
        await jobs.close();
        // Studio replies for the last pushes, before the ORM goes.
        await studio?.service.idle();
        dashboard?.close();
        await tournaments.close();
        await new Promise<void>((resolve) => io.close(() => resolve()));
        await identityParts.close();
        engine.closeAll();
      })();
      return closing;
    },
  };
}
