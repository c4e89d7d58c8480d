import { Migration } from '@mikro-orm/migrations';

export class Migration0001Identity extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table users (
        id serial primary key,
        username varchar(50) not null,
        display_name varchar(100),
        password_hash varchar(255),
        role text not null default 'user' check (role in ('user', 'admin')),
        external_issuer varchar(255),
        external_subject varchar(255),
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        check ((external_issuer is null) = (external_subject is null))
      )`);
    // Usernames are unique regardless of case; the login lookup uses the same expression.
    this.addSql(`create unique index users_username_lower_key on users (lower(username))`);
    this.addSql(`create unique index users_external_key on users (external_issuer, external_subject) where external_issuer is not null`);
    this.addSql(`
      create table refresh_tokens (
        id uuid primary key,
        user_id integer not null references users (id) on delete cascade,
        family_id uuid not null,
        token_hash char(64) not null unique,
        expires_at timestamptz not null,
        used_at timestamptz,
        revoked_at timestamptz,
        created_at timestamptz not null default now()
      )`);
    this.addSql(`create index refresh_tokens_family_idx on refresh_tokens (family_id)`);
    this.addSql(`create index refresh_tokens_user_idx on refresh_tokens (user_id)`);
  }

  override async down(): Promise<void> {
    this.addSql('drop table refresh_tokens');
    this.addSql('drop table users');
  }
}
