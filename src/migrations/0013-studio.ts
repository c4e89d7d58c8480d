import { Migration } from '@mikro-orm/migrations';

/**
 * The ad studio (modules/studio), seeds 003 and 004: chat sessions of users or guests (never deleted; a
 * guest's attach to the user who signs in with its token), their messages, one generation row per ad job
 * (input, options, output, model, tokens and estimated cost: the history and the cost ledger in one), and
 * the images an actor may name by hash in a later request.
 */
export class Migration0013Studio extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table studio_sessions (
        id uuid primary key default gen_random_uuid(),
        user_id integer references users (id) on delete set null,
        guest_id uuid,
        title text,
        created_at timestamptz(3) not null default now(),
        updated_at timestamptz(3) not null default now()
      )`);
    this.addSql(`create index studio_sessions_user_idx on studio_sessions (user_id, updated_at desc, id desc) where user_id is not null`);
    this.addSql(`create index studio_sessions_guest_idx on studio_sessions (guest_id) where guest_id is not null`);
    this.addSql(`
      create table studio_messages (
        id bigserial primary key,
        session_id uuid not null references studio_sessions (id),
        role text not null check (role in ('user', 'assistant')),
        content text not null,
        image_sha256 text,
        job_id uuid,
        status text not null default 'done' check (status in ('done', 'failed')),
        error jsonb,
        meta jsonb,
        created_at timestamptz(3) not null default now()
      )`);
    this.addSql(`create index studio_messages_session_idx on studio_messages (session_id, id desc)`);
    // One reply per job, so finishing a job twice (two nodes, a retry of the hook) writes it once.
    this.addSql(`create unique index studio_messages_job_idx on studio_messages (job_id, role) where job_id is not null`);
    this.addSql(`
      create table studio_generations (
        job_id uuid primary key,
        session_id uuid not null references studio_sessions (id),
        message_id bigint references studio_messages (id),
        user_id integer references users (id) on delete set null,
        guest_id uuid,
        content_type text not null check (content_type in ('text', 'image')),
        input_text text not null,
        input_image_sha256 text,
        output_text text,
        output_image_sha256 text,
        prompt text,
        generation_method text,
        provider text not null,
        style text not null,
        aspect_ratio text not null,
        tone text,
        keywords jsonb not null default '[]',
        industry text,
        seed integer,
        segment_id integer,
        model text,
        prompt_tokens integer not null default 0,
        completion_tokens integer not null default 0,
        images integer not null default 0,
        estimated_cost double precision not null default 0,
        status text not null default 'queued' check (status in ('queued', 'completed', 'failed')),
        error jsonb,
        created_at timestamptz(3) not null default now(),
        completed_at timestamptz(3)
      )`);
    this.addSql(`create index studio_generations_session_idx on studio_generations (session_id, created_at desc)`);
    this.addSql(`create index studio_generations_user_idx on studio_generations (user_id, created_at desc)`);
    this.addSql(`create index studio_generations_created_idx on studio_generations (created_at desc, job_id desc)`);
    this.addSql(`create index studio_generations_open_idx on studio_generations (session_id) where status = 'queued'`);
    this.addSql(`
      create table studio_images (
        sha256 text not null,
        owner_key text not null,
        created_at timestamptz(3) not null default now(),
        primary key (owner_key, sha256)
      )`);
  }

  override async down(): Promise<void> {
    this.addSql('drop table if exists studio_images');
    this.addSql('drop table if exists studio_generations');
    this.addSql('drop table if exists studio_messages');
    this.addSql('drop table if exists studio_sessions');
  }
}
