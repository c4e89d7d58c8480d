import { Migration } from '@mikro-orm/migrations';

export class Migration0002Media extends Migration {
  override async up(): Promise<void> {
    // A row is written only after the original is in storage, so a row always means "servable"
    // (variants are made from it on demand); blobs without a row are harmless leftovers of a crash.
    this.addSql(`
      create table media (
        sha256 char(64) primary key check (sha256 ~ '^[0-9a-f]{64}$'),
        format text not null check (format in ('jpeg', 'png', 'gif', 'webp')),
        width integer not null check (width > 0),
        height integer not null check (height > 0),
        size integer not null check (size > 0),
        created_at timestamptz not null default now()
      )`);
  }

  override async down(): Promise<void> {
    this.addSql('drop table media');
  }
}
