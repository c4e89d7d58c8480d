import { Migration } from '@mikro-orm/migrations';

/**
 * Live bracket events (tournaments/events.*.ts). The clock that drives an event holds a lease on its row
 * (lease_owner, lease_until, compared with the database's clock so nodes need not agree on time); every
 * step of the clock runs under that row's lock and re-checks the lease, so a node whose lease lapsed cannot
 * act on the event any more. Votes never lock the event row. Ties are broken by image_ratings (0009).
 */
export class Migration0010Events extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table events (
        id serial primary key,
        name varchar(200) not null check (char_length(name) between 1 and 200),
        created_by integer references users (id) on delete set null,
        status text not null default 'upcoming' check (status in ('upcoming', 'live', 'finished')),
        entrants integer not null check (entrants in (8, 16, 32, 64)),
        selection text not null check (selection in ('top', 'random', 'list')),
        window_ms integer not null check (window_ms > 0),
        grace_ms integer not null check (grace_ms >= 0),
        sealed boolean not null default false,
        current_round integer,
        current_slot integer,
        seq bigint not null default 0,
        champion_id integer references images (id) on delete set null,
        lease_owner text,
        lease_until timestamptz(3),
        created_at timestamptz(3) not null default now(),
        started_at timestamptz(3),
        finished_at timestamptz(3)
      )`);
    // GET /events lists by status, newest first; the clocks scan live events for leases.
    this.addSql(`create index events_status_idx on events (status, id desc)`);
    this.addSql(`
      create table event_entries (
        event_id integer not null references events (id) on delete cascade,
        image_id integer not null references images (id) on delete cascade,
        seed integer not null check (seed > 0),
        primary key (event_id, image_id),
        unique (event_id, seed)
      )`);
    this.addSql(`
      create table event_matchups (
        id serial primary key,
        event_id integer not null references events (id) on delete cascade,
        round integer not null check (round >= 0),
        slot integer not null check (slot >= 0),
        left_id integer references images (id) on delete set null,
        right_id integer references images (id) on delete set null,
        status text not null default 'pending' check (status in ('pending', 'open', 'closed')),
        opens_at timestamptz(3),
        closes_at timestamptz(3),
        closed_at timestamptz(3),
        left_votes integer not null default 0,
        right_votes integer not null default 0,
        winner_id integer references images (id) on delete set null,
        -- walkover: the other entrant's image was removed (its owner's account deleted) before they met.
        decided_by text check (decided_by in ('votes', 'rating', 'seed', 'walkover')),
        unique (event_id, round, slot)
      )`);
    // One vote per user per matchup: the key, not a check-then-insert, is what holds under concurrency.
    this.addSql(`
      create table event_votes (
        matchup_id integer not null references event_matchups (id) on delete cascade,
        user_id integer not null references users (id) on delete cascade,
        side text not null check (side in ('left', 'right')),
        created_at timestamptz(3) not null default now(),
        primary key (matchup_id, user_id)
      )`);
    this.addSql(`create index event_votes_user_idx on event_votes (user_id)`);
    // Recent pushes per event for `event:join {since}` replay; trimmed to a bounded tail as it grows.
    this.addSql(`
      create table event_stream (
        event_id integer not null references events (id) on delete cascade,
        seq bigint not null,
        type text not null,
        payload jsonb not null,
        created_at timestamptz(3) not null default now(),
        primary key (event_id, seq)
      )`);
  }

  override async down(): Promise<void> {
    this.addSql('drop table event_stream');
    this.addSql('drop table event_votes');
    this.addSql('drop table event_matchups');
    this.addSql('drop table event_entries');
    this.addSql('drop table events');
  }
}
