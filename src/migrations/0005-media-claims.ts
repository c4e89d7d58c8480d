import { Migration } from '@mikro-orm/migrations';

export class Migration0005MediaClaims extends Migration {
  override async up(): Promise<void> {
    // Set when an upload reuses existing content (dedupe). A failed request may only undo media that
    // nobody else has claimed, which closes the gap between another upload finding the row and that
    // upload's own row (image, photo) referencing it.
    this.addSql('alter table media add column claimed_at timestamptz');
  }

  override async down(): Promise<void> {
    this.addSql('alter table media drop column claimed_at');
  }
}
