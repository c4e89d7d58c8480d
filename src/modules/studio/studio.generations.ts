import type { z } from 'zod';
import type { EntityManager } from '../../platform/db/orm.js';
import { genCursor, type GenerationDto, type GenerationsQuery } from './studio.schemas.js';
import { imageRef, type StudioActor, type UrlFor } from './studio.sessions.js';

/** `GET /generations`: the caller's generation history (seed 004's GenerationHistory), newest first. */

interface Row {
  job_id: string;
  session_id: string;
  content_type: 'text' | 'image';
  status: string;
  input_text: string;
  input_image_sha256: string | null;
  output_text: string | null;
  output_image_sha256: string | null;
  prompt: string | null;
  generation_method: string | null;
  provider: string;
  style: string;
  aspect_ratio: string;
  tone: string | null;
  keywords: string[];
  industry: string | null;
  seed: number | null;
  segment_id: number | null;
  model: string | null;
  prompt_tokens: number;
  completion_tokens: number;
  estimated_cost: number;
  error: { code: string; message: string } | null;
  created_at: Date | string;
  completed_at: Date | string | null;
}

export async function listGenerations(em: EntityManager, actor: StudioActor, q: z.output<typeof GenerationsQuery>, urlFor: UrlFor): Promise<{ items: z.output<typeof GenerationDto>[]; next_cursor: string | null }> {
  const conds = [actor.kind === 'user' ? 'user_id = ?' : 'guest_id = ? and user_id is null'];
  const params: unknown[] = [actor.kind === 'user' ? actor.userId : actor.guestId];
  const add = (sql: string, v: unknown) => {
    conds.push(sql);
    params.push(v);
  };
  if (q.session_id) add('session_id = ?', q.session_id);
  if (q.content_type) add('content_type = ?', q.content_type);
  if (q.from) add('created_at >= ?::timestamptz', q.from);
  if (q.to) add('created_at < ?::timestamptz', q.to);
  if (q.cursor) {
    const c = genCursor.decode(q.cursor);
    conds.push('(created_at, job_id) < (?::timestamptz, ?::uuid)');
    params.push(c.t, c.id);
  }
  params.push(q.limit + 1);
  const rows = await em.execute<Row[]>(`select * from studio_generations where ${conds.join(' and ')} order by created_at desc, job_id desc limit ?`, params);
  const page = rows.slice(0, q.limit);
  const last = page[page.length - 1];
  return {
    items: page.map((r) => ({
      job_id: r.job_id,
      session_id: r.session_id,
      content_type: r.content_type,
      status: r.status,
      input_text: r.input_text,
      input_image: imageRef(urlFor, r.input_image_sha256),
      output_text: r.output_text,
      output_image: imageRef(urlFor, r.output_image_sha256),
      prompt: r.prompt,
      generation_method: r.generation_method,
      provider: r.provider,
      style: r.style,
      aspect_ratio: r.aspect_ratio,
      tone: r.tone,
      keywords: r.keywords ?? [],
      industry: r.industry,
      seed: r.seed,
      segment_id: r.segment_id,
      model: r.model,
      prompt_tokens: r.prompt_tokens,
      completion_tokens: r.completion_tokens,
      estimated_cost: Number(r.estimated_cost),
      error: r.error,
      created_at: new Date(r.created_at).toISOString(),
      completed_at: r.completed_at ? new Date(r.completed_at).toISOString() : null,
    })),
    next_cursor: rows.length > q.limit && last ? genCursor.encode({ t: new Date(last.created_at).toISOString(), id: last.job_id }) : null,
  };
}
