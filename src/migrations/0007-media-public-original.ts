import { Migration } from '@mikro-orm/migrations';

export class Migration0007MediaPublicOriginal extends Migration {
  override async up(): Promise<void> {
    // What the stored original is: 'as_uploaded' (the upload carried no metadata, stored byte for byte),
    // 'stripped' (location/camera metadata removed, orientation applied; the untouched upload is not
    // kept). Rows from before this migration are 'pending': their file may still carry EXIF/GPS, so the
    // hub strips it before serving it for the first time. The primary key stays the upload's SHA-256,
    // so a re-upload of the same bytes still dedupes.
    this.addSql(`alter table media add column original_state text not null default 'pending'
      check (original_state in ('pending', 'as_uploaded', 'stripped'))`);
  }

  override async down(): Promise<void> {
    this.addSql('alter table media drop column original_state');
  }
}
