import type { Config } from '../../platform/config.js';
import type { Orm } from '../../platform/db/orm.js';
import type { Logger } from '../../platform/logger.js';
import type { Notifier } from '../../transport/socket/notifier.js';
import { createEventClock } from './events.clock.js';
import { eventRoom, eventSocketEvents } from './events.namespace.js';
import { eventsRoutes } from './events.routes.js';
import { createEventsService } from './events.service.js';
import type { UrlFor } from './events.sql.js';
import { createVoteBatcher } from './events.votes.js';
import type { LiveRatingDto } from './tournaments.schemas.js';

export interface EventsDeps {
  config: Pick<Config, 'events'>;
  orm: Orm;
  logger: Logger;
  notifier: Notifier;
  urlFor: UrlFor;
  onRatingsChanged?: (rows: LiveRatingDto[]) => void;
  /** The clock's identity in leases (tests name their clocks); default host:pid:random. */
  nodeId?: string;
}

export type Events = ReturnType<typeof createEvents>;

/** Live events wired for one hub: service, vote batcher, clock, HTTP routes and `/tournament` socket events. */
export function createEvents(deps: EventsDeps) {
  const c = deps.config.events;
  const log = deps.logger.child({ module: 'events' });
  const clock = createEventClock({
    orm: deps.orm,
    settings: { tickMs: c.tickMs, leaseMs: c.leaseMs, tallyMs: c.tallyMs, breakMs: c.breakMs, historySize: c.historySize },
    urlFor: deps.urlFor,
    push: (eventId, type, payload) => deps.notifier.toRoom('/tournament', eventRoom(eventId), type, payload),
    logger: log,
    ...(deps.onRatingsChanged ? { onRatingsChanged: deps.onRatingsChanged } : {}),
    ...(deps.nodeId ? { nodeId: deps.nodeId } : {}),
  });
  const service = createEventsService({ urlFor: deps.urlFor, defaults: { windowMs: c.windowMs, graceMs: c.graceMs }, onStarted: () => clock.nudge() });
  const votes = createVoteBatcher({ orm: deps.orm, batchMs: c.voteBatchMs });
  return {
    service,
    votes,
    clock,
    routes: eventsRoutes(service),
    socket: eventSocketEvents({ events: service, votes }),
    /** Writes votes still gathering, then stops the clock and hands its leases to the other nodes. */
    async close(): Promise<void> {
      await votes.flushAll();
      await clock.stop();
    },
  };
}
