import { Migration } from '@mikro-orm/migrations';

/**
 * Workers as every hub node sees them (modules/jobs): each node upserts the workers connected to it on
 * hello, on disconnect, and on its slow sweep, so admin stats show the whole fleet, not one node's share.
 * Presence only: leases live on `jobs`; a row whose node died goes stale (last_seen stops moving).
 */
export class Migration0012JobWorkers extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table job_workers (
        owner text primary key,
        node text not null,
        types jsonb not null,
        models jsonb not null,
        provider text not null,
        concurrency integer not null,
        version text not null,
        running jsonb not null default '[]',
        connected boolean not null,
        connected_at timestamptz(3) not null default now(),
        last_seen timestamptz(3) not null default now()
      )`);
  }

  override async down(): Promise<void> {
    this.addSql('drop table if exists job_workers');
  }
}
