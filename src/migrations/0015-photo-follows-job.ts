import { Migration } from '@mikro-orm/migrations';

/**
 * A photo made by `POST /photos/upscale|bestcut` has its job's id, and its status follows the job. Until now a
 * hub-side push hook re-read the job and updated the photo after the fact (two extra round trips per job, and
 * a window where the two disagreed). Now a trigger does it in the statement that changes the job's status, so
 * they never disagree and a job costs nothing extra: queued → queued, active → processing, completed →
 * completed with the result as the processed file (upscale: `result.sha256`, bestcut: `result.pick`), failed or
 * cancelled → failed with the error. A completed photo never moves again. A completion whose result names no
 * stored media fails the photo (`invalid_result`) instead of breaking the job's statement on the foreign key.
 */
export class Migration0015PhotoFollowsJob extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create function easel_photo_follows_job() returns trigger language plpgsql as $$
      declare
        target text := case new.status when 'queued' then 'queued' when 'active' then 'processing' when 'completed' then 'completed' else 'failed' end;
        processed char(64);
        err text;
      begin
        -- (The cast keeps the lookup on media's primary key: char(64) = text would compare as text, a seq scan.)
        if target = 'completed' then
          select sha256 into processed from media
           where sha256 = (case new.type when 'upscale' then new.result->>'sha256' else new.result->>'pick' end)::char(64);
          if processed is null then
            target := 'failed';
            err := 'invalid_result: the result names no stored file';
          end if;
        elsif target = 'failed' then
          err := coalesce((new.last_error->>'code') || ': ' || (new.last_error->>'message'), 'cancelled: ' || new.cancel_reason, 'failed');
        end if;
        update photos set status = target, processed_sha256 = coalesce(processed, processed_sha256), error = err, updated_at = now()
         where id = new.id and status <> 'completed' and status <> target;
        return null;
      end $$`);
    this.addSql(`
      create trigger jobs_photo_follows_job after update of status on jobs for each row
        when (old.status is distinct from new.status and new.type in ('upscale', 'bestcut'))
        execute function easel_photo_follows_job()`);
  }

  override async down(): Promise<void> {
    this.addSql('drop trigger if exists jobs_photo_follows_job on jobs');
    this.addSql('drop function if exists easel_photo_follows_job()');
  }
}
