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
