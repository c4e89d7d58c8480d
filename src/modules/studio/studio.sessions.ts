import type { EntityManager } from '../../platform/db/orm.js';
import { ForbiddenError, NotFoundError } from '../../platform/errors.js';
import { actorKey, type Actor } from '../identity/actor.js';
import type { MediaVariant } from '../media/media.service.js';
import { messageCursor, sessionCursor, type MessageDto, type SessionDto } from './studio.schemas.js';

/**
 * Chat sessions and messages (seed 004). A session belongs to a user or to a guest (`user_id` null);
 * a signed-in user who presents a guest token takes over that guest's sessions (and their generations),
 * after which only the user opens them. Nobody opens another's session: a foreign id is 403, an unknown
 * one starts a new session (the client learns the new id), and sessions are never deleted.
 */

export type StudioActor = Extract<Actor, { kind: 'user' | 'guest' }>;
export type UrlFor = (sha256: string, variant?: MediaVariant) => string;

export interface SessionRow {
  id: string;
  user_id: number | null;
  guest_id: string | null;
  title: string | null;
  created_at: Date | string;
  updated_at: Date | string;
}

export interface MessageRow {
  id: string | number;
  session_id: string;
  role: 'user' | 'assistant';
  content: string;
  image_sha256: string | null;
  job_id: string | null;
  status: 'done' | 'failed';
  error: { code: string; message: string } | null;
  meta: Record<string, unknown> | null;
  created_at: Date | string;
}

const iso = (d: Date | string) => new Date(d).toISOString();
export const ownerKey = (actor: StudioActor) => actorKey(actor);

export function imageRef(urlFor: UrlFor, sha256: string | null) {
  return sha256 ? { sha256, url: urlFor(sha256, 'original'), thumb_url: urlFor(sha256, 'thumb'), webp_url: urlFor(sha256, 'webp') } : null;
}

export function toMessageDto(row: MessageRow, urlFor: UrlFor): MessageDto {
  return {
    id: String(row.id),
    session_id: row.session_id,
    role: row.role,
    content: row.content,
    image: imageRef(urlFor, row.image_sha256),
    job_id: row.job_id,
    status: row.status,
    error: row.error,
    meta: row.meta,
    created_at: iso(row.created_at),
  };
}

function toSessionDto(row: SessionRow): SessionDto {
  return { id: row.id, title: row.title, owner: row.user_id !== null ? 'user' : 'guest', created_at: iso(row.created_at), updated_at: iso(row.updated_at) };
}

export function ownsSession(actor: StudioActor, row: SessionRow): boolean {
  return actor.kind === 'user' ? row.user_id === actor.userId : row.user_id === null && row.guest_id === actor.guestId;
}

export async function findSession(em: EntityManager, id: string): Promise<SessionRow | null> {
  const [row] = await em.execute<SessionRow[]>('select * from studio_sessions where id = ?', [id]);
  return row ?? null;
}

/** The caller's session, or 404 (no such id) / 403 (someone else's). */
export async function requireSession(em: EntityManager, actor: StudioActor, id: string): Promise<SessionRow> {
  const row = await findSession(em, id);
  if (!row) throw new NotFoundError('No such chat session', 'session_not_found');
  if (!ownsSession(actor, row)) throw new ForbiddenError('This chat session belongs to someone else', 'session_forbidden');
  return row;
}

/** A signed-in user takes over a guest's sessions and generations; returns how many sessions moved. */
export async function attachGuest(em: EntityManager, userId: number, guestId: string): Promise<number> {
  return em.transactional(async (tx) => {
    const rows = await tx.execute<{ id: string }[]>('update studio_sessions set user_id = ?, updated_at = now() where guest_id = ? and user_id is null returning id', [userId, guestId]);
    if (rows.length) await tx.execute('update studio_generations set user_id = ? where guest_id = ? and user_id is null', [userId, guestId]);
    await tx.execute(`insert into studio_images (sha256, owner_key) select sha256, ? from studio_images where owner_key = ? on conflict do nothing`, [`user:${userId}`, `guest:${guestId}`]);
    return rows.length;
  });
}

/**
 * `session:open` / `POST /chat/sessions`: resume the caller's session, or start one when the id is
 * missing, junk or unknown. A foreign session is refused (403).
 */
export async function openSession(em: EntityManager, actor: StudioActor, id: string | null): Promise<{ session: SessionRow; created: boolean }> {
  if (id) {
    const row = await findSession(em, id);
    if (row) {
      if (!ownsSession(actor, row)) throw new ForbiddenError('This chat session belongs to someone else', 'session_forbidden');
      return { session: row, created: false };
    }
  }
  const [row] = await em.execute<SessionRow[]>('insert into studio_sessions (user_id, guest_id) values (?, ?) returning *', [
    actor.kind === 'user' ? actor.userId : null,
    actor.kind === 'guest' ? actor.guestId : null,
  ]);
  return { session: row!, created: true };
}

export async function listSessions(em: EntityManager, actor: StudioActor, limit: number, cursor: string | undefined): Promise<{ items: SessionDto[]; next_cursor: string | null }> {
  const params: unknown[] = [];
  let where = actor.kind === 'user' ? 'user_id = ?' : 'user_id is null and guest_id = ?';
  params.push(actor.kind === 'user' ? actor.userId : actor.guestId);
  if (cursor) {
    const c = sessionCursor.decode(cursor);
    where += ' and (updated_at, id) < (?::timestamptz, ?::uuid)';
    params.push(c.t, c.id);
  }
  params.push(limit + 1);
  const rows = await em.execute<SessionRow[]>(`select * from studio_sessions where ${where} order by updated_at desc, id desc limit ?`, params);
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return { items: page.map(toSessionDto), next_cursor: rows.length > limit && last ? sessionCursor.encode({ t: iso(last.updated_at), id: last.id }) : null };
}

/** One page of a session's messages, newest first; `next_cursor` continues with older ones. */
export async function messagesPage(em: EntityManager, sessionId: string, limit: number, cursor: string | undefined, urlFor: UrlFor): Promise<{ items: MessageDto[]; next_cursor: string | null }> {
  const params: unknown[] = [sessionId];
  let where = 'session_id = ?';
  if (cursor) {
    where += ' and id < ?';
    params.push(messageCursor.decode(cursor).id);
  }
  params.push(limit + 1);
  const rows = await em.execute<MessageRow[]>(`select * from studio_messages where ${where} order by id desc limit ?`, params);
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return { items: page.map((r) => toMessageDto(r, urlFor)), next_cursor: rows.length > limit && last ? messageCursor.encode({ id: Number(last.id) }) : null };
}
