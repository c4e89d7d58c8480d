import { Migration } from '@mikro-orm/migrations';

export class Migration0003Photos extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table photos (
        id uuid primary key,
        owner_id integer not null references users (id) on delete cascade,
        kind text not null check (kind in ('upscale', 'bestcut')),
        status text not null default 'queued' check (status in ('queued', 'processing', 'completed', 'failed')),
        original_sha256 char(64) not null references media (sha256) on delete restrict,
        processed_sha256 char(64) references media (sha256) on delete restrict,
        lat double precision check (lat between -90 and 90),
        lng double precision check (lng between -180 and 180),
        error text,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        check (status <> 'completed' or processed_sha256 is not null)
      )`);
    // The list endpoint pages an owner's photos newest first by (created_at, id).
    this.addSql(`create index photos_owner_created_idx on photos (owner_id, created_at desc, id desc)`);
    this.addSql(`create index photos_processed_idx on photos (processed_sha256) where processed_sha256 is not null`);
    this.addSql(`create index photos_original_idx on photos (original_sha256)`);
  }

  override async down(): Promise<void> {
    this.addSql('drop table photos');
  }
}
