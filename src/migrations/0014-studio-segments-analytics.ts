import { Migration } from '@mikro-orm/migrations';

/**
 * Seed 003's segments (per owner; criteria as JSON) and ad analytics: impressions, clicks and conversions
 * for a generated ad, each recorded once per client event id (per reporting identity).
 */
export class Migration0014StudioSegmentsAnalytics extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table studio_segments (
        id serial primary key,
        owner_id integer not null references users (id) on delete cascade,
        name text not null,
        description text,
        criteria jsonb not null default '{}',
        created_at timestamptz(3) not null default now(),
        updated_at timestamptz(3) not null default now()
      )`);
    this.addSql(`create index studio_segments_owner_idx on studio_segments (owner_id, id desc)`);
    this.addSql(`
      create table studio_ad_events (
        id bigserial primary key,
        job_id uuid not null references studio_generations (job_id),
        kind text not null check (kind in ('impression', 'click', 'conversion')),
        client_event_id text not null,
        reporter text not null,
        created_at timestamptz(3) not null default now(),
        unique (reporter, client_event_id)
      )`);
    this.addSql(`create index studio_ad_events_job_idx on studio_ad_events (job_id, kind)`);
  }

  override async down(): Promise<void> {
    this.addSql('drop table if exists studio_ad_events');
    this.addSql('drop table if exists studio_segments');
  }
}
