import type { Server } from 'socket.io';
import type { Config } from '../../platform/config.js';
import type { Orm } from '../../platform/db/orm.js';
import { BadRequestError } from '../../platform/errors.js';
import type { Logger } from '../../platform/logger.js';
import type { RedisClients } from '../../platform/redis.js';
import type { Actor } from '../identity/actor.js';
import type { JobsService } from '../jobs/jobs.service.js';
import type { MediaService } from '../media/media.service.js';
import { studioNamespace } from './studio.namespace.js';
import { studioRoutes } from './studio.routes.js';
import { createStudioService } from './studio.service.js';
import { createSessionStream } from './studio.stream.js';

export interface StudioFactoryDeps {
  config: Config;
  orm: Orm;
  io: Server;
  redis: RedisClients | null;
  jobs: JobsService;
  media: MediaService;
  logger: Logger;
  authenticate: (token: string) => Promise<Actor>;
}

/** Wires the studio: session stream (Redis or memory), service, routes and the `/studio` namespace. */
export function createStudio(deps: StudioFactoryDeps) {
  const { config, media } = deps;
  const urlFor = (sha256: string, variant?: 'original' | 'thumb' | 'webp') => media.urlFor(sha256, variant);
  const stream = createSessionStream({ redis: deps.redis?.cmd ?? null, prefix: config.redis.keyPrefix, keep: config.studio.historySize, ttlSeconds: config.studio.historyTtlSeconds });
  const service = createStudioService({
    config,
    orm: deps.orm,
    jobs: deps.jobs,
    stream,
    urlFor,
    logger: deps.logger,
    emit: (room, event, payload) => deps.io.of('/studio').to(room).emit(event, payload),
    verifyGuest: async (token) => {
      const actor = await deps.authenticate(token).catch(() => null);
      if (actor?.kind !== 'guest') throw new BadRequestError('guest_token is not a valid guest token', 'invalid_guest_token');
      return actor.guestId;
    },
  });
  return {
    service,
    routes: studioRoutes(service, media, config),
    namespace: studioNamespace({ studio: service, urlFor }),
  };
}

export type Studio = ReturnType<typeof createStudio>;
