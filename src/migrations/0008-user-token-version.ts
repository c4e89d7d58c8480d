import { Migration } from '@mikro-orm/migrations';

export class Migration0008UserTokenVersion extends Migration {
  override async up(): Promise<void> {
    // A counter rather than a "valid after" timestamp: JWT `iat` has one-second granularity, so a token
    // issued in the same second as a password change could not be told apart from one issued before it.
    this.addSql('alter table users add column token_version integer not null default 0');
  }

  override async down(): Promise<void> {
    this.addSql('alter table users drop column token_version');
  }
}
