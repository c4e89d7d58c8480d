import type { ImageDto } from './community.schemas.js';

/**
 * The one SELECT list every image response is built from, so feeds, top, random and single reads
 * agree on shape. `?` 1 is the viewer's user id (0 for anonymous: no user has id 0).
 */
export const IMAGE_COLUMNS = `
  i.id, i.user_id, u.username, i.media_sha256, m.format, m.width, m.height, i.prompt, i.model_name,
  i.tournament_opt_in, i.active, i.like_count, i.created_at, i.updated_at,
  exists (select 1 from image_likes l where l.image_id = i.id and l.user_id = ?) as liked_by_me`;

export const IMAGE_FROM = `images i join users u on u.id = i.user_id left join media m on m.sha256 = i.media_sha256`;

export interface ImageRow {
  id: number;
  user_id: number;
  username: string;
  media_sha256: string;
  format: string | null;
  width: number | null;
  height: number | null;
  prompt: string;
  model_name: string | null;
  tournament_opt_in: boolean;
  active: boolean;
  like_count: number;
  created_at: Date | string;
  updated_at: Date | string;
  liked_by_me: boolean;
}

export type UrlFor = (sha256: string, variant?: 'original' | 'thumb' | 'webp') => string;

function iso(value: Date | string): string {
  return (value instanceof Date ? value : new Date(value)).toISOString();
}

/** `withLiked`: only signed-in users get `liked_by_me`; for anyone else it would always be false. */
export function toImageDto(row: ImageRow, urlFor: UrlFor, withLiked: boolean): ImageDto {
  return {
    id: row.id,
    owner: { id: row.user_id, username: row.username },
    prompt: row.prompt,
    model_name: row.model_name,
    tournament_opt_in: row.tournament_opt_in,
    active: row.active,
    like_count: row.like_count,
    ...(withLiked ? { liked_by_me: row.liked_by_me } : {}),
    media: { sha256: row.media_sha256, format: row.format, width: row.width, height: row.height },
    urls: { original: urlFor(row.media_sha256, 'original'), thumb: urlFor(row.media_sha256, 'thumb'), webp: urlFor(row.media_sha256, 'webp') },
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
  };
}

/**
 * Like and unlike, each one statement and so one round trip. `img` locks the image row (the lock
 * `update` would take anyway) and, in READ COMMITTED, re-reads it after waiting, so `active` and the
 * unchanged count are the latest committed ones. The count moves only when a like row was really
 * inserted or deleted: the primary key (image_id, user_id) makes a repeated or concurrent double like a
 * no-op. The count update lives here, not in a trigger, because a trigger's update would not be
 * visible to this statement's result (migration 0006). `?` 1 is the image id, 2 the user id.
 */
const likeChange = (change: string, delta: '+' | '-') => `
  with img as (select id, like_count, likes_seq from images where id = ? and active for no key update),
       changed as (${change}),
       upd as (update images set like_count = like_count ${delta} 1, likes_seq = likes_seq + 1
               where id in (select image_id from changed) returning like_count, likes_seq)
  select coalesce((select like_count from upd), img.like_count) as like_count,
         coalesce((select likes_seq from upd), img.likes_seq)::float8 as seq,
         exists (select 1 from upd) as changed
  from img`;

export const LIKE_SQL = likeChange('insert into image_likes (image_id, user_id) select id, ? from img on conflict do nothing returning image_id', '+');
export const UNLIKE_SQL = likeChange('delete from image_likes l using img where l.image_id = img.id and l.user_id = ? returning l.image_id', '-');

/** One row when the image is active; none (404) otherwise. */
export interface LikeChangeRow {
  like_count: number;
  seq: number;
  changed: boolean;
}
