import type { EntityManager } from '../../platform/db/orm.js';

/** Worker presence rows (migration 0012): what each hub node last said about the workers connected to it. */
export interface WorkerPresence {
  owner: string;
  node: string;
  types: string[];
  models: string[];
  provider: string;
  concurrency: number;
  version: string;
  running: string[];
  connected: boolean;
}

/** Upserts workers' presence rows (admin stats across nodes). */
export async function saveWorkers(em: EntityManager, workers: WorkerPresence[]): Promise<void> {
  for (const w of workers) {
    await em.execute(
      `insert into job_workers (owner, node, types, models, provider, concurrency, version, running, connected, connected_at, last_seen)
       values (?, ?, ?::jsonb, ?::jsonb, ?, ?, ?, ?::jsonb, ?, now(), now())
       on conflict (owner) do update set node = excluded.node, types = excluded.types, models = excluded.models, provider = excluded.provider,
         concurrency = excluded.concurrency, version = excluded.version, running = excluded.running, connected = excluded.connected,
         connected_at = case when job_workers.connected then job_workers.connected_at else excluded.connected_at end, last_seen = now()`,
      [w.owner, w.node, JSON.stringify(w.types), JSON.stringify(w.models), w.provider, w.concurrency, w.version, JSON.stringify(w.running), w.connected],
    );
  }
}
