import type { EntityManager } from '../../platform/db/orm.js';
import { ConflictError, NotFoundError } from '../../platform/errors.js';
import type { Dispatcher } from './jobs.dispatcher.js';
import { JOB_TYPES, type JobType } from './jobs.events.js';
import { toJobDto, type JobDto } from './jobs.schemas.js';
import * as store from './jobs.store.js';
import type { WorkerPresence } from './workers.store.js';

export interface JobStats {
  queues: Record<string, { queued: number; active: number; completed: number; failed: number; cancelled: number; paused: boolean }>;
  /** Over the last hour: queue wait (created → started) and run time (started → finished), ms. */
  latency: { waitP50: number | null; waitP95: number | null; runP50: number | null; runP95: number | null; completedLastHour: number };
  /** Workers on every node: connected ones, and those seen in the last 10 minutes (`connected: false`, or a stale `lastSeen` when their node died). */
  workers: { owner: string; node: string; types: string[]; provider: string; models: string[]; concurrency: number; version: string; running: string[]; connected: boolean; lastSeen: string }[];
  recentFailures: { id: string; type: string; error: unknown; finished_at: string | null }[];
  cost: Record<string, number>;
}

/** Admin views and steering: stats, pause/resume a queue, retry a failed or cancelled job. */
export function createJobsAdmin(deps: { dispatcher: Dispatcher; keep: () => number; push: (ownerId: number | null, push: store.JobPush) => void }) {
  return {
    async stats(em: EntityManager): Promise<JobStats> {
      const [counts, paused, lat, failures, cost, workers] = await Promise.all([
        em.execute<{ type: string; status: string; n: number }[]>(`select type, status, count(*)::int as n from jobs group by type, status`),
        em.execute<{ type: string }[]>(`select type from queue_state where paused`),
        em.execute<{ wp50: number | null; wp95: number | null; rp50: number | null; rp95: number | null; n: number }[]>(
          `select percentile_cont(0.5) within group (order by extract(epoch from started_at - created_at) * 1000) as wp50,
                  percentile_cont(0.95) within group (order by extract(epoch from started_at - created_at) * 1000) as wp95,
                  percentile_cont(0.5) within group (order by extract(epoch from finished_at - started_at) * 1000) as rp50,
                  percentile_cont(0.95) within group (order by extract(epoch from finished_at - started_at) * 1000) as rp95,
                  count(*)::int as n
             from jobs where status = 'completed' and finished_at > now() - interval '1 hour'`,
        ),
        em.execute<store.JobRow[]>(`select ${store.COLUMNS} from jobs where status = 'failed' order by finished_at desc nulls last limit 20`),
        em.execute<{ k: string; v: number }[]>(`select k, sum(v::float8) as v from jobs, jsonb_each_text(cost) as c(k, v) where cost is not null group by k`),
        em.execute<(Omit<WorkerPresence, never> & { last_seen: Date | string })[]>(
          `select owner, node, types, models, provider, concurrency, version, running, connected, last_seen from job_workers
            where connected or last_seen > now() - interval '10 minutes' order by owner`,
        ),
      ]);
      const queues: JobStats['queues'] = {};
      for (const t of JOB_TYPES) queues[t] = { queued: 0, active: 0, completed: 0, failed: 0, cancelled: 0, paused: false };
      for (const c of counts) {
        const q = (queues[c.type] ??= { queued: 0, active: 0, completed: 0, failed: 0, cancelled: 0, paused: false });
        q[c.status as keyof Omit<typeof q, 'paused'>] = c.n;
      }
      for (const p of paused) if (queues[p.type]) queues[p.type]!.paused = true;
      const l = lat[0];
      const num = (v: number | null | undefined) => (v === null || v === undefined ? null : Number(v));
      return {
        queues,
        latency: { waitP50: num(l?.wp50), waitP95: num(l?.wp95), runP50: num(l?.rp50), runP95: num(l?.rp95), completedLastHour: l?.n ?? 0 },
        workers: workers.map((w) => ({
          owner: w.owner, node: w.node, types: w.types, provider: w.provider, models: w.models, concurrency: w.concurrency, version: w.version,
          running: w.running, connected: w.connected, lastSeen: new Date(w.last_seen).toISOString(),
        })),
        recentFailures: failures.map((r) => ({ id: r.id, type: r.type, error: r.last_error, finished_at: r.finished_at ? new Date(r.finished_at).toISOString() : null })),
        cost: Object.fromEntries(cost.map((c) => [c.k, Number(c.v)])),
      };
    },

    /** Paused: no job of this type is claimed (running ones finish). Resume wakes dispatch on every node. */
    async setPaused(em: EntityManager, type: JobType, paused: boolean): Promise<{ type: string; paused: boolean }> {
      await em.execute(
        `insert into queue_state (type, paused) values (?, ?) on conflict (type) do update set paused = excluded.paused, updated_at = now()`,
        [type, paused],
      );
      if (!paused) await store.notifyWork(em, type, 0);
      return { type, paused };
    },

    async retry(em: EntityManager, id: string): Promise<JobDto> {
      const row = await store.retryJob(em, id, deps.keep());
      if (!row) {
        const now = await store.findJob(em, id);
        if (!now) throw new NotFoundError('No such job', 'job_not_found');
        throw new ConflictError(`Only failed or cancelled jobs can be retried; this one is ${now.status}`, 'job_not_retryable');
      }
      deps.push(row.owner_id, store.pushFor(row));
      return toJobDto(row);
    },
  };
}

export type JobsAdmin = ReturnType<typeof createJobsAdmin>;
