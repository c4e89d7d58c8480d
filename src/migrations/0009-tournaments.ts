import { Migration } from '@mikro-orm/migrations';

/**
 * Quick-matchup votes and per-image ratings (src/modules/tournaments). images.tournament_opt_in and the
 * partial index the matchup draw reads (images_tournament_idx) come from 0004.
 */
export class Migration0009Tournaments extends Migration {
  override async up(): Promise<void> {
    // One row per rated image; a missing row means unrated (1500 / 350 / 0.06). `image_id` is integer like
    // images.id (pg hands bigint back as a string). Live Glicko-2 columns move per vote under the row lock;
    // bt_* are written by the periodic Bradley-Terry fit; wins/losses count every game (quick votes and
    // event matchups), `votes` only quick votes. wins + losses only grows, so it orders live pushes.
    this.addSql(`
      create table image_ratings (
        image_id integer primary key references images (id) on delete cascade,
        rating double precision not null default 1500,
        rd double precision not null default 350,
        vol double precision not null default 0.06,
        wins integer not null default 0,
        losses integer not null default 0,
        votes integer not null default 0,
        championships integer not null default 0,
        events_played integer not null default 0,
        bt_rating double precision null,
        bt_low double precision null,
        bt_high double precision null,
        bt_rank integer null,
        preliminary boolean not null default true,
        updated_at timestamptz not null default now()
      )`);
    // The unique key, not a check-then-insert, makes a repeated or concurrent vote on one matchup count once.
    this.addSql(`
      create table votes (
        id bigint generated always as identity primary key,
        matchup_id uuid not null,
        user_id integer not null references users (id) on delete cascade,
        winner_id integer not null references images (id) on delete cascade,
        loser_id integer not null references images (id) on delete cascade,
        winner_side text not null check (winner_side in ('left', 'right')),
        elapsed_ms integer not null check (elapsed_ms >= 0),
        created_at timestamptz(3) not null default now(),
        check (winner_id <> loser_id),
        unique (user_id, matchup_id)
      )`);
    // The viewer's recent pairs (not shown again) and the foreign keys' cascades.
    this.addSql('create index votes_user_recent_idx on votes (user_id, id desc)');
    this.addSql('create index votes_winner_idx on votes (winner_id)');
    this.addSql('create index votes_loser_idx on votes (loser_id)');
    // One row per Bradley-Terry run: when it ran (the "once per interval across nodes" check) and the position term.
    this.addSql(`
      create table rating_fits (
        id bigint generated always as identity primary key,
        started_at timestamptz(3) not null,
        finished_at timestamptz(3) not null default now(),
        votes integer not null,
        images integer not null,
        pair_rows integer not null,
        theta double precision not null,
        theta_low double precision not null,
        theta_high double precision not null,
        passes integer not null,
        converged boolean not null,
        duration_ms integer not null
      )`);
  }

  override async down(): Promise<void> {
    this.addSql('drop table rating_fits');
    this.addSql('drop table votes');
    this.addSql('drop table image_ratings');
  }
}
