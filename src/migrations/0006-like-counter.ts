import { Migration } from '@mikro-orm/migrations';

/**
 * A like or unlike becomes one statement that also returns the new count. A row trigger cannot serve
 * that: its update of images runs after the statement's RETURNING was computed, so the statement would
 * report the old count. The like/unlike statements (community.service.ts) now move like_count
 * themselves, under the image's row lock, and bump likes_seq so live pushes can be ordered.
 *
 * Deletes that application code never sees still need the trigger: removing an account cascades to its
 * likes on other people's images. A cascaded delete runs inside the foreign key's own trigger, so
 * `pg_trigger_depth() > 0` keeps the trigger for exactly those rows and out of the direct statements
 * (a direct statement would otherwise count twice). Anything that inserts or deletes image_likes
 * directly must move like_count in the same statement, as the service does.
 */
export class Migration0006LikeCounter extends Migration {
  override async up(): Promise<void> {
    // Bumped on every change of like_count; clients keep the image:likes with the highest seq.
    this.addSql('alter table images add column likes_seq bigint not null default 0');
    this.addSql('drop trigger image_likes_count on image_likes');
    this.addSql('drop function image_likes_count()');
    this.addSql(`
      create function image_likes_cascade_count() returns trigger language plpgsql as $$
      begin
        update images set like_count = like_count - 1, likes_seq = likes_seq + 1 where id = old.image_id;
        return null;
      end $$`);
    this.addSql(`
      create trigger image_likes_cascade_count after delete on image_likes
      for each row when (pg_trigger_depth() > 0) execute function image_likes_cascade_count()`);
  }

  override async down(): Promise<void> {
    this.addSql('drop trigger image_likes_cascade_count on image_likes');
    this.addSql('drop function image_likes_cascade_count()');
    this.addSql('alter table images drop column likes_seq');
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
}
