import { Migration } from '@mikro-orm/migrations';

export class Migration0004Community extends Migration {
  override async up(): Promise<void> {
    // created_at is millisecond precision so a JS Date in a pagination cursor round-trips exactly.
    this.addSql(`
      create table images (
        id serial primary key,
        user_id integer not null references users (id) on delete cascade,
        media_sha256 char(64) not null references media (sha256),
        prompt text not null check (char_length(prompt) between 1 and 2000),
        model_name varchar(100),
        tournament_opt_in boolean not null default false,
        active boolean not null default true,
        like_count integer not null default 0 check (like_count >= 0),
        created_at timestamptz(3) not null default now(),
        updated_at timestamptz(3) not null default now(),
        deleted_at timestamptz(3),
        check (active = (deleted_at is null))
      )`);
    // Feeds only ever list active images, newest first, keyset-paginated on (created_at, id).
    this.addSql(`create index images_feed_idx on images (created_at desc, id desc) where active`);
    this.addSql(`create index images_user_feed_idx on images (user_id, created_at desc, id desc) where active`);
    // Random picks probe ids; tournaments draw from active, opted-in images.
    this.addSql(`create index images_active_id_idx on images (id) where active`);
    this.addSql(`create index images_tournament_idx on images (id) where active and tournament_opt_in`);
    this.addSql(`create index images_media_idx on images (media_sha256)`);
    this.addSql(`
      create table image_likes (
        image_id integer not null references images (id) on delete cascade,
        user_id integer not null references users (id) on delete cascade,
        created_at timestamptz(3) not null default now(),
        primary key (image_id, user_id)
      )`);
    this.addSql(`create index image_likes_created_idx on image_likes (created_at, image_id)`);
    this.addSql(`create index image_likes_user_idx on image_likes (user_id)`);
    // The counter moves in the same transaction as the like row, including rows removed by a cascade
    // (an account deletion), which application code never sees. The row lock on the image serialises
    // concurrent increments.
    this.addSql(`
      create function image_likes_count() returns trigger language plpgsql as $$
      begin
        if tg_op = 'INSERT' then
          update images set like_count = like_count + 1 where id = new.image_id;
        else
          update images set like_count = like_count - 1 where id = old.image_id;
        end if;
        return null;
      end $$`);
    this.addSql(`create trigger image_likes_count after insert or delete on image_likes for each row execute function image_likes_count()`);
  }

  override async down(): Promise<void> {
    this.addSql('drop table image_likes');
    this.addSql('drop function image_likes_count()');
    this.addSql('drop table images');
  }
}
