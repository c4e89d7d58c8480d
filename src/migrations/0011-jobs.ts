import { Migration } from '@mikro-orm/migrations';

/**
 * Durable jobs (modules/jobs). `jobs` is the source of truth; a worker holds an active job under a lease
 * (lease_owner, lease_expires_at, compared with the database's clock); the reaper requeues expired leases.
 * `seq` numbers every push about a job (job:progress/done/failed) for `since` replay; `job_events` keeps the
 * last few of them per job. `queue_state` holds the per-type pause switch.
 */
export class Migration0011Jobs extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table jobs (
        id uuid primary key default gen_random_uuid(),
        type text not null check (char_length(type) between 1 and 50),
        owner_id integer references users (id) on delete cascade,
        input jsonb not null,
        priority integer not null default 0,
        status text not null default 'queued' check (status in ('queued', 'active', 'completed', 'failed', 'cancelled')),
        stage text,
        progress real not null default 0 check (progress between 0 and 1),
        message text,
        attempts integer not null default 0,
        max_attempts integer not null check (max_attempts >= 1),
        run_after timestamptz(3) not null default now(),
        lease_owner text,
        lease_expires_at timestamptz(3),
        result jsonb,
        last_error jsonb,
        cost jsonb,
        cancel_reason text,
        seq bigint not null default 1,
        -- Every event with a seq above this is in job_events (older ones were trimmed).
        history_floor bigint not null default 0,
        created_at timestamptz(3) not null default now(),
        started_at timestamptz(3),
        finished_at timestamptz(3),
        updated_at timestamptz(3) not null default now()
      )`);
    // Claiming: queued jobs of a type, highest priority first, then oldest.
    this.addSql(`create index jobs_claim_idx on jobs (type, priority desc, created_at, id) where status = 'queued'`);
    // The reaper scans active leases by expiry.
    this.addSql(`create index jobs_lease_idx on jobs (lease_expires_at) where status = 'active'`);
    // GET /jobs (own, newest first) and the per-user in-flight count.
    this.addSql(`create index jobs_owner_idx on jobs (owner_id, created_at desc, id desc)`);
    this.addSql(`create index jobs_inflight_idx on jobs (owner_id) where status in ('queued', 'active')`);
    this.addSql(`
      create table job_events (
        job_id uuid not null references jobs (id) on delete cascade,
        seq bigint not null,
        type text not null,
        payload jsonb not null,
        at timestamptz(3) not null default now(),
        primary key (job_id, seq)
      )`);
    this.addSql(`
      create table queue_state (
        type text primary key,
        paused boolean not null default false,
        updated_at timestamptz(3) not null default now()
      )`);
  }

  override async down(): Promise<void> {
    this.addSql('drop table if exists job_events');
    this.addSql('drop table if exists queue_state');
    this.addSql('drop table if exists jobs');
  }
}
