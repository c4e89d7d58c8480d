import { hostname } from 'node:os';
import pg from 'pg';
import type { Server } from 'socket.io';
import type { Config } from '../../platform/config.js';
import type { Orm } from '../../platform/db/orm.js';
import type { Logger } from '../../platform/logger.js';
import type { MediaService } from '../media/media.service.js';
import { createJobsAdmin } from './jobs.admin.js';
import { createDispatcher } from './jobs.dispatcher.js';
import { WorkerEvents } from './jobs.events.js';
import { jobRoom, jobsRootEvents } from './jobs.namespace.js';
import { jobsRoutes } from './jobs.routes.js';
import { createJobsService } from './jobs.service.js';
import { NOTIFY_CHANNEL, type JobPush } from './jobs.store.js';
import { workersNamespace } from './workers.namespace.js';

export interface JobsDeps {
  config: Config;
  orm: Orm;
  io: Server;
  media: MediaService;
  logger: Logger;
  /** Sees every job push too (the admin dashboard fans them out to its room). */
  onPush?: (ownerId: number | null, push: JobPush) => void;
  /** Sees every streamed text piece a worker sends (the studio numbers and relays them per session). */
  onDelta?: (jobId: string, text: string) => void;
}

/**
 * Wires the jobs module: store, per-node dispatcher, the `/workers` namespace, `job:watch` on `/`, routes,
 * and three background loops started by `start()`: LISTEN on a dedicated PostgreSQL connection (new work
 * wakes dispatch at once on every node), the reaper, and a slow safety sweep for a lost notification.
 */
export function createJobs(deps: JobsDeps) {
  const { config, orm, io, logger } = deps;
  const log = logger.child({ module: 'jobs' });
  const settings = () => config.jobs;
  // Pushes go to the job's room and its owner's room in one emit (a socket in both gets it once), on every node.
  const push = (ownerId: number | null, p: JobPush) => {
    const to = io.of('/').to(jobRoom(p.payload.jobId));
    (ownerId === null ? to : to.to(`user:${ownerId}`)).emit(p.event, p.payload);
    deps.onPush?.(ownerId, p);
  };
  const cancelOnWorker = (owner: string, jobId: string, reason: string) => {
    io.of('/workers').to(`lease:${owner}`).emit(WorkerEvents.cancel, { jobId, reason });
  };
  // Names this process in job_workers.node (the dashboard's "which hub is it connected to").
  const nodeId = `${hostname()}:${process.pid}`;
  const dispatcher = createDispatcher({ orm, nodeId, logger: log, settings, push, cancelOnWorker });
  const service = createJobsService({ dispatcher, media: deps.media, settings, push, cancelOnWorker, maxOutputBytes: config.uploads.maxFileBytes });
  const admin = createJobsAdmin({ dispatcher, keep: () => settings().historySize, push });
  const root = jobsRootEvents(service);
  const workers = workersNamespace({
    dispatcher,
    jobs: service,
    relayDelta: (jobId, text) => {
      io.of('/').to(jobRoom(jobId)).emit('job:delta', { jobId, text });
      deps.onDelta?.(jobId, text);
    },
  });

  let listener: pg.Client | null = null;
  let stopped = false;
  const timers = new Set<NodeJS.Timeout>();
  const later = (fn: () => void, ms: number) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  // Re-opens LISTEN after its connection failed, every second until it works (a failed connect rejects without
  // an 'error' event, so the retry must come from here too). Meanwhile the slow sweep still finds new work.
  let relistening = false;
  function relisten(): void {
    if (stopped || relistening) return;
    relistening = true;
    later(() => {
      relistening = false;
      listen().catch((err: unknown) => {
        log.error({ err }, 'jobs LISTEN reconnect failed; retrying');
        relisten();
      });
    }, 1000);
  }

  async function listen(): Promise<void> {
    const client = new pg.Client({ connectionString: orm.config.get('clientUrl') as string });
    client.on('notification', (msg) => {
      let delayMs = 0;
      try {
        delayMs = Number((JSON.parse(msg.payload ?? '{}') as { delayMs?: number }).delayMs) || 0;
      } catch {
        // A foreign payload still means "look for work".
      }
      if (delayMs > 0) dispatcher.wakeAfter(delayMs);
      else dispatcher.dispatch();
    });
    client.on('error', (err) => {
      log.warn({ err }, 'jobs LISTEN connection failed; reconnecting');
      if (listener === client) listener = null;
      client.end().catch(() => {});
      relisten();
    });
    try {
      await client.connect();
      await client.query(`listen ${NOTIFY_CHANNEL}`);
    } catch (err) {
      client.end().catch(() => {});
      throw err;
    }
    // Closed while connecting: this connection must not outlive the module (it would hold the database open).
    if (stopped) {
      await client.end().catch(() => {});
      return;
    }
    listener = client;
    // Anything queued while we were not listening.
    dispatcher.dispatch();
  }

  function loop(everyMs: () => number, fn: () => Promise<unknown>, what: string): void {
    const tick = () => {
      if (stopped) return;
      fn()
        .catch((err: unknown) => log.error({ err }, `${what} failed`))
        .finally(() => {
          if (!stopped) later(tick, everyMs());
        });
    };
    later(tick, everyMs());
  }

  return {
    service,
    admin,
    dispatcher,
    routes: jobsRoutes(service, admin),
    rootEvents: root,
    workersNamespace: workers,
    workerEventLimit: () => settings().workerEvents,
    async start(): Promise<void> {
      await listen();
      loop(() => settings().reaperMs, () => dispatcher.reap(), 'job reaper');
      loop(
        () => settings().sweepMs,
        async () => {
          dispatcher.dispatch();
          await dispatcher.savePresence();
        },
        'job sweep',
      );
    },
    async close(): Promise<void> {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await dispatcher.close();
      const l = listener;
      listener = null;
      await l?.end().catch(() => {});
    },
  };
}

export type Jobs = ReturnType<typeof createJobs>;
