import type { Server, Socket } from 'socket.io';
import { z } from 'zod';
import type { UserActor } from '../identity/actor.js';
import type { EntityManager, Orm } from '../../platform/db/orm.js';
import type { Logger } from '../../platform/logger.js';
import { socketEvent, type NamespaceSpec } from '../../transport/socket/namespace.js';
import type { JobsAdmin } from '../jobs/jobs.admin.js';
import type { WorkerConn } from '../jobs/jobs.dispatcher.js';
import { JOB_TYPES, WorkerEvents, type JobType } from '../jobs/jobs.events.js';
import type { JobsService } from '../jobs/jobs.service.js';
import type { JobPush } from '../jobs/jobs.store.js';

export const ADMIN_ROOM = 'admin';
const NSP = '/admin';

export interface DashboardDeps {
  io: Server;
  orm: Orm;
  admin: JobsAdmin;
  jobs: JobsService;
  /** This node's registered worker sockets (the dispatcher's map, by socket id). */
  workers: ReadonlyMap<string, WorkerConn>;
  logger: Logger;
  /** dashboard:stats period while an admin is connected on this node. */
  statsMs?: number;
  /** Least gap between two dashboard:job pushes of one job (terminal pushes are never held back). */
  jobGapMs?: number;
}

const TypeInput = z.strictObject({ type: z.enum(JOB_TYPES as [JobType, ...JobType[]]) });
const JobInput = z.strictObject({ jobId: z.uuid() });

type Throttle = { last: number; pending: unknown; timer: NodeJS.Timeout };

/**
 * The `/admin` namespace: a snapshot on connect, then `dashboard:stats` (one timer per node, running only
 * while an admin is connected here), `dashboard:job` for every job push (throttled per job on the node that
 * produced it, fanned out through the adapter), `dashboard:worker` on hello/disconnect, and acked actions.
 */
export function createDashboard(deps: DashboardDeps) {
  const { io, orm, admin, jobs } = deps;
  const log = deps.logger.child({ module: 'admin-dashboard' });
  const statsMs = deps.statsMs ?? 1000;
  const gapMs = deps.jobGapMs ?? 250;
  const toAdmins = () => io.of(NSP).to(ADMIN_ROOM);

  async function snapshot(em: EntityManager) {
    const [stats, active] = await Promise.all([
      admin.stats(em),
      em.execute<{ id: string; type: string; status: string; stage: string | null; progress: number | null; owner_id: number | null }[]>(
        `select id, type, status, stage, progress, owner_id from jobs where status in ('queued', 'active') order by created_at limit 200`,
      ),
    ]);
    return { stats, jobs: active.map((j) => ({ jobId: j.id, type: j.type, status: j.status, stage: j.stage, progress: j.progress === null ? null : Number(j.progress), ownerId: j.owner_id })) };
  }

  // One stats timer per node, armed by the first local admin socket and stopped with the last.
  let timer: NodeJS.Timeout | null = null;
  let busy = false;
  function tick(): void {
    if (busy) return;
    busy = true;
    admin
      .stats(orm.em.fork())
      .then((stats) => io.of(NSP).local.to(ADMIN_ROOM).emit('dashboard:stats', stats))
      .catch((err: unknown) => log.warn({ err }, 'dashboard stats failed'))
      .finally(() => (busy = false));
  }
  function syncTimer(): void {
    const anyone = io.of(NSP).sockets.size > 0;
    if (anyone && !timer) timer = setInterval(tick, statsMs);
    else if (!anyone && timer) {
      clearInterval(timer);
      timer = null;
    }
  }

  const throttles = new Map<string, Throttle>();
  function expire(jobId: string): void {
    const t = throttles.get(jobId);
    if (!t) return;
    if (t.pending === null) {
      throttles.delete(jobId);
      return;
    }
    toAdmins().emit('dashboard:job', t.pending);
    t.pending = null;
    t.last = Date.now();
    t.timer = setTimeout(expire, gapMs, jobId);
  }

  /** Called for every job push (jobs.factory's hook). */
  function onJobPush(ownerId: number | null, p: JobPush): void {
    const msg = { event: p.event, ownerId, ...p.payload };
    const jobId = p.payload.jobId;
    const t = throttles.get(jobId);
    if (p.event !== 'job:progress' || p.payload.status !== 'active') {
      // State changes (queued, done, failed, cancelled) go out at once, after anything held back.
      if (t) {
        clearTimeout(t.timer);
        throttles.delete(jobId);
        if (t.pending !== null) toAdmins().emit('dashboard:job', t.pending);
      }
      toAdmins().emit('dashboard:job', msg);
      return;
    }
    if (t) {
      t.pending = msg;
      return;
    }
    toAdmins().emit('dashboard:job', msg);
    throttles.set(jobId, { last: Date.now(), pending: null, timer: setTimeout(expire, gapMs, jobId) });
  }

  // Workers: the /workers namespace answers the hello; this listener reports the worker once the dispatcher
  // has registered it (a refused hello is never announced), with what the dispatcher recorded.
  function watchWorkers(): void {
    io.of('/workers').on('connection', (socket: Socket) => {
      let owner: string | null = null;
      socket.on(WorkerEvents.hello, () => {
        const until = Date.now() + 2000;
        const look = () => {
          const conn = deps.workers.get(socket.id);
          if (!conn) {
            if (socket.connected && Date.now() < until) setTimeout(look, 20);
            return;
          }
          owner = conn.owner;
          const c = conn.caps;
          toAdmins().emit('dashboard:worker', { event: 'hello', owner, types: c.types, models: c.models, provider: c.provider, concurrency: c.concurrency, version: c.version, at: new Date().toISOString() });
        };
        setTimeout(look, 0);
      });
      socket.on('disconnect', () => {
        if (owner !== null) toAdmins().emit('dashboard:worker', { event: 'disconnect', owner, at: new Date().toISOString() });
      });
    });
  }

  const spec: NamespaceSpec = {
    name: NSP,
    access: 'admin',
    summary: 'Admin dashboard: job queues, workers and failures, live; pause/resume queues, retry or cancel jobs',
    onConnect: async ({ socket, em }) => {
      // Registered before any await: a socket that leaves meanwhile must still stop the timer.
      socket.on('disconnect', syncTimer);
      syncTimer();
      await socket.join(ADMIN_ROOM);
      socket.emit('dashboard:snapshot', await snapshot(em));
    },
    events: [
      socketEvent({ event: 'dashboard:refresh', summary: 'The snapshot again (stats and queued/active jobs)', schema: z.strictObject({}), handler: async (_p, { em }) => snapshot(em) }),
      socketEvent({ event: 'queue:pause', summary: 'Pause a job type: nothing more of it is started', schema: TypeInput, handler: async ({ type }, { em }) => admin.setPaused(em, type, true) }),
      socketEvent({ event: 'queue:resume', summary: 'Resume a paused job type', schema: TypeInput, handler: async ({ type }, { em }) => admin.setPaused(em, type, false) }),
      socketEvent({ event: 'job:retry', summary: 'Queue a failed or cancelled job again', schema: JobInput, handler: async ({ jobId }, { em }) => admin.retry(em, jobId) }),
      socketEvent({
        event: 'job:cancel',
        summary: 'Cancel a queued or running job (its worker is told to stop)',
        schema: JobInput,
        handler: async ({ jobId }, { em, actor }) => jobs.cancel(em, actor as UserActor, jobId, 'cancelled by an admin'),
      }),
    ],
    pushes: [
      { event: 'dashboard:snapshot', summary: 'On connect: stats (as GET /api/v1/admin/jobs/stats) and queued/active jobs', schema: z.object({ stats: z.unknown(), jobs: z.array(z.unknown()) }) },
      { event: 'dashboard:stats', summary: 'The stats again, about once a second', schema: z.unknown() },
      { event: 'dashboard:job', summary: 'A job changed state or progressed (≤ 4 a second per job)', schema: z.object({ event: z.string(), jobId: z.string() }).loose() },
      { event: 'dashboard:worker', summary: 'A worker said hello or disconnected', schema: z.object({ event: z.enum(['hello', 'disconnect']), owner: z.string().nullable() }).loose() },
    ],
  };

  return {
    spec,
    /** Whether this node's stats timer runs (tests: one per node, only while an admin is connected here). */
    get statsRunning(): boolean {
      return timer !== null;
    },
    onJobPush,
    watchWorkers,
    close(): void {
      if (timer) clearInterval(timer);
      timer = null;
      for (const t of throttles.values()) clearTimeout(t.timer);
      throttles.clear();
    },
  };
}

export type Dashboard = ReturnType<typeof createDashboard>;
